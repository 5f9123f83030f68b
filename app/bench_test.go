package app_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/internal/benchops"
	"custodia/internal/testenv"
	"custodia/model"
)

// The benchmarks run real operations through the real HTTP handler against the embedded
// FerretDB, with real tokens. Results are recorded in docs/performance.md.

const (
	benchPage   = benchops.SearchPage
	benchStatus = benchops.DetentionStatus
)

func benchEnv(b *testing.B) *testenv.Env {
	b.Helper()
	reg := crowdRegister(50)
	return testenv.New(b, testenv.Options{Register: &reg})
}

func runBench(b *testing.B, env *testenv.Env, role model.Role, query string, vars map[string]any) {
	b.Helper()
	token := env.Token(role)
	first := env.Do(token, query, vars)
	if len(first.Errors) > 0 {
		b.Fatal(first.Raw)
	}
	objects := countObjects(first.Data)
	before := env.DBCommands()
	b.ResetTimer()
	for b.Loop() {
		if r := env.Do(token, query, vars); len(r.Errors) > 0 {
			b.Fatal(r.Raw)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(objects), "objects/op")
	b.ReportMetric(float64(env.DBCommands()-before)/float64(b.N), "dbcmds/op")
}

// countObjects counts the JSON objects in a response: the size of what authorization covers.
func countObjects(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := 1
		for _, e := range x {
			n += countObjects(e)
		}
		return n
	case []any:
		n := 0
		for _, e := range x {
			n += countObjects(e)
		}
		return n
	}
	return 0
}

// BenchmarkPersonCard is one person with everything a court may read.
func BenchmarkPersonCard(b *testing.B) {
	env := benchEnv(b)
	runBench(b, env, model.RoleCourt, personCard, map[string]any{"id": "P-000001", "purpose": testenv.Purpose(model.RoleCourt), "copy": true})
}

// BenchmarkSearchPage is a page of 50 persons with every relation (about 1,000 objects).
func BenchmarkSearchPage(b *testing.B) {
	env := benchEnv(b)
	runBench(b, env, model.RoleCourt, benchPage, map[string]any{"first": 50, "copy": true})
}

// BenchmarkDetentionStatus50 is the detention status (with prison address) of 50 persons.
func BenchmarkDetentionStatus50(b *testing.B) {
	env := benchEnv(b)
	runBench(b, env, model.RolePrisonService, benchStatus, map[string]any{"first": 50})
}

// BenchmarkDeniedOperation is the cost of refusing the 1,000-object page before execution.
func BenchmarkDeniedOperation(b *testing.B) {
	env := benchEnv(b)
	token := env.Token(model.RolePolice)
	vars := map[string]any{"first": 50, "copy": true}
	for b.Loop() {
		r := env.Do(token, benchPage, vars)
		if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" {
			b.Fatal(r.Raw)
		}
	}
}

// BenchmarkPersonCardDirect issues, directly with the driver, the database commands that
// BenchmarkPersonCard's operation causes on the embedded engine (5 per card): the person, the
// detention record and the criminal record (the full copy, from which the extract for the
// sentences the periods execute is derived), each as an _id lookup, and the audit entry
// (insert, head update; this process appended last, so no head read). The grant lookup and
// the prisons are cached by the API, and the audit log's per-person index is brought up to
// date in the background, a batch of entries at a time; they are left out. The difference to BenchmarkPersonCard is
// the API's own cost (HTTP, JWT, policy, GraphQL execution, JSON).
func BenchmarkPersonCardDirect(b *testing.B) {
	env := benchEnv(b)
	client, err := mongo.Connect(options.Client().ApplyURI(env.Config.MongoURI))
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	db := client.Database(env.Config.MongoDatabase)
	ctx := context.Background()
	byID := func(col, id string, opts ...options.Lister[options.FindOneOptions]) {
		var doc bson.M
		if err := db.Collection(col).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, opts...).Decode(&doc); err != nil {
			b.Fatal(col, id, err)
		}
	}
	seq := 1_000_000
	for b.Loop() {
		byID("persons", "P-000001")
		byID("detentions", "P-000001")
		byID("records", "P-000001")
		seq++
		if _, err := db.Collection("audit_direct").InsertOne(ctx, bson.D{{Key: "_id", Value: seq}, {Key: "subject", Value: "demo-court"}, {Key: "coordinates", Value: []string{"Query.person"}}}); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Collection("audit_direct_meta").UpdateOne(ctx, bson.D{{Key: "_id", Value: "head"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: seq}}}}, options.UpdateOne().SetUpsert(true)); err != nil {
			b.Fatal(err)
		}
	}
}
