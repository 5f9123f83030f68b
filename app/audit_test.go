package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/store"
)

const trailQuery = `query Trail($f: AuditFilter, $first: Int, $after: String) {
  auditTrail(filter: $f, first: $first, after: $after) {
    edges { node { sequence time kind subject name agency role grantId operationName operationHash
      purpose { caseReference reason } coordinates personIds outcome errorCode clientAddress requestId
      grantTransition { grantId from to reason } hash canonical accesses { field purpose { caseReference reason } personIds } } }
    pageInfo { hasNextPage endCursor }
  }
}`

const verifyQuery = `{ verifyAuditChain { entriesChecked valid firstBrokenSequence problem } }`

func trail(t *testing.T, env *testenv.Env, filter map[string]any) []any {
	t.Helper()
	data := env.MustData(model.RoleAuditor, trailQuery, map[string]any{"f": filter, "first": 50})
	var nodes []any
	for _, e := range testenv.Path(data, "auditTrail", "edges").([]any) {
		nodes = append(nodes, testenv.Path(e, "node"))
	}
	return nodes
}

func TestAuditTrailRecordsEveryOperation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	const card = `query Card($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName detentionStatus { since } } }`
	purpose := map[string]any{"p": map[string]any{"caseReference": "KRPA-777/TČ-2026", "reason": "PRE_TRIAL_INVESTIGATION"}}
	env.MustData(model.RolePolice, card, purpose)
	wantCode(t, env.As(model.RolePolice, `query Copy($p: PurposeInput!) { person(id: "P-000002", purpose: $p) { convictions(includeExpunged: true) { id } } }`, purpose), "FORBIDDEN")
	wantCode(t, env.As(model.RolePolice, `query Missing($p: PurposeInput!) { person(id: "P-999999", purpose: $p) { id } }`, purpose), "NOT_FOUND")
	env.MustData(model.RoleRegistrar, `mutation { suspendAccessGrant(id: "GRANT-demo-prosecutor", reason: "Prověrka") { status } }`, nil)

	entries := trail(t, env, map[string]any{"subject": "demo-police"})
	if len(entries) != 3 {
		t.Fatalf("want 3 entries of demo-police, got %d", len(entries))
	}
	read, denied, failed := entries[2], entries[1], entries[0] // newest first
	sum := sha256.Sum256([]byte(card))
	expect(t, "allowed read", read, map[string]any{
		"kind": "OPERATION", "subject": "demo-police", "agency": "Policie České republiky", "role": "POLICE",
		"grantId": "GRANT-demo-police", "operationName": "Card", "operationHash": hex.EncodeToString(sum[:]),
		"outcome": "ALLOWED", "errorCode": nil, "clientAddress": "127.0.0.1",
	})
	expect(t, "purpose", testenv.Path(read, "purpose"), map[string]any{"caseReference": "KRPA-777/TČ-2026", "reason": "PRE_TRIAL_INVESTIGATION"})
	expectEq(t, "persons returned", testenv.Path(read, "personIds"), []any{"P-000001"})
	coords := fmt.Sprint(testenv.Path(read, "coordinates"))
	for _, c := range []string{"Query.person", "Person.familyName", "Person.detentionStatus", "DetentionStatus.since"} {
		if !strings.Contains(coords, c) {
			t.Errorf("coordinates %s lack %s", coords, c)
		}
	}
	if testenv.Path(read, "requestId") == nil {
		t.Errorf("the request ID is missing")
	}
	expect(t, "denied attempt", denied, map[string]any{"outcome": "DENIED", "errorCode": "FORBIDDEN", "operationName": "Copy"})
	expectEq(t, "denied returns nobody", testenv.Path(denied, "personIds"), []any{})
	expect(t, "failed", failed, map[string]any{"outcome": "FAILED", "errorCode": "NOT_FOUND"})

	transitions := trail(t, env, map[string]any{"subject": "demo-registrar"})
	var sawTransition bool
	for _, e := range transitions {
		if testenv.Path(e, "kind") == "GRANT_TRANSITION" {
			sawTransition = true
			expect(t, "transition", testenv.Path(e, "grantTransition"), map[string]any{"grantId": "GRANT-demo-prosecutor", "from": "ACTIVE", "to": "SUSPENDED", "reason": "Prověrka"})
		}
	}
	if !sawTransition {
		t.Errorf("the grant transition was not audited: %v", transitions)
	}

	byPerson := trail(t, env, map[string]any{"personId": "P-000001"})
	if len(byPerson) != 1 || testenv.Path(byPerson, 0, "operationName") != "Card" {
		t.Errorf("filter by person: %v", byPerson)
	}
	if n := len(trail(t, env, map[string]any{"agency": "Policie České republiky"})); n != 3 {
		t.Errorf("filter by agency: %d entries, want 3", n)
	}
	if n := len(trail(t, env, map[string]any{"from": "2030-01-01T00:00:00Z"})); n != 0 {
		t.Errorf("filter by time: %d entries after 2030", n)
	}

	// Reading the trail is itself audited.
	auditorEntries := trail(t, env, map[string]any{"subject": "demo-auditor"})
	if len(auditorEntries) == 0 || !strings.Contains(fmt.Sprint(testenv.Path(auditorEntries, 0, "coordinates")), "Query.auditTrail") {
		t.Errorf("reading the trail was not audited: %v", auditorEntries)
	}

	// Entries never hold the data itself.
	raw := env.As(model.RoleAuditor, trailQuery, map[string]any{"first": 50}).Raw
	for _, secret := range []string{"Novák", "1980-01-15", "800115", "Pankrác"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit trail contains person data %q", secret)
		}
	}

	disclosures := env.MustData(model.RoleAuditor, `{ disclosures(personId: "P-000001") { time agency role purpose { caseReference reason } operationName } }`, nil)
	list := disclosures["disclosures"].([]any)
	if len(list) != 1 {
		t.Fatalf("want one disclosure of Novák, got %v", list)
	}
	expect(t, "disclosure", list[0], map[string]any{"agency": "Policie České republiky", "role": "POLICE", "operationName": "Card"})
	wantCode(t, env.As(model.RoleAuditor, `{ disclosures(personId: "P-000001") { subject } }`, nil), "GRAPHQL_VALIDATION_FAILED")
	wantCode(t, env.As(model.RoleRegistrar, verifyQuery, nil), "FORBIDDEN")

	report := env.MustData(model.RoleAuditor, verifyQuery, nil)
	expect(t, "chain", report["verifyAuditChain"], map[string]any{"valid": true, "firstBrokenSequence": nil})
}

// TestAuditChainUnderConcurrency runs concurrent operations on two server instances sharing
// one database; the chain must stay linear and verify.
func TestAuditChainUnderConcurrency(t *testing.T) {
	t.Parallel()
	a := testenv.New(t, testenv.Options{})
	b := testenv.New(t, testenv.Options{Database: a.Config.MongoDatabase})
	roles := []model.Role{model.RoleCourt, model.RolePolice, model.RolePrisonService, model.RoleAuditor}
	const perInstance = 24
	var wg sync.WaitGroup
	for i := 0; i < perInstance; i++ {
		for _, env := range []*testenv.Env{a, b} {
			wg.Add(1)
			go func(env *testenv.Env, role model.Role) {
				defer wg.Done()
				r := env.Do(env.Token(role), `{ prisons { id } me { role } }`, nil)
				if len(r.Errors) > 0 {
					t.Errorf("%s: %s", role, r.Raw)
				}
			}(env, roles[i%len(roles)])
		}
	}
	wg.Wait()
	report := a.MustData(model.RoleAuditor, verifyQuery, nil)["verifyAuditChain"].(map[string]any)
	if report["valid"] != true || report["entriesChecked"].(float64) < 2*perInstance {
		t.Fatalf("chain after %d concurrent operations: %v", 2*perInstance, report)
	}
}

func TestAuditTamperingIsDetected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(ctx context.Context, audit *mongo.Collection) error
		broken int
	}{
		{"an entry edited", func(ctx context.Context, c *mongo.Collection) error {
			_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(3)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "subject", Value: "someone-else"}}}})
			return err
		}, 3},
		{"an entry edited and rehashed", func(ctx context.Context, c *mongo.Collection) error {
			_, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(3)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "outcome", Value: "DENIED"}, {Key: "hash", Value: strings.Repeat("0", 64)}}}})
			return err
		}, 3},
		{"an entry deleted", func(ctx context.Context, c *mongo.Collection) error {
			_, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(4)}})
			return err
		}, 4},
		{"the first entry deleted", func(ctx context.Context, c *mongo.Collection) error {
			_, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(1)}})
			return err
		}, 1},
		{"the last entry deleted", func(ctx context.Context, c *mongo.Collection) error {
			_, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(6)}})
			return err
		}, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := testenv.New(t, testenv.Options{Persons: 10})
			for i := 0; i < 6; i++ {
				env.MustData(model.RoleCourt, prisonsQuery, nil)
			}
			if err := c.tamper(context.Background(), env.RawCollection("audit")); err != nil {
				t.Fatal(err)
			}
			report := env.MustData(model.RoleAuditor, verifyQuery, nil)["verifyAuditChain"].(map[string]any)
			if report["valid"] != false || report["firstBrokenSequence"] != float64(c.broken) || report["problem"] == nil {
				t.Fatalf("want entry %d reported broken, got %v", c.broken, report)
			}
		})
	}
}

// TestAuditFailureWithholdsData keeps the audit trail in a database of its own and stops it:
// the caller gets SERVICE_UNAVAILABLE and none of the data.
func TestAuditFailureWithholdsData(t *testing.T) {
	t.Parallel()
	auditDB, err := store.StartEmbedded(t.TempDir(), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.New(t, testenv.Options{Mutate: func(c *app.Config) {
		c.AuditMongoURI, c.AuditDatabase = auditDB.URI(), "audit"
	}})
	vars := map[string]any{"p": testenv.Purpose(model.RolePolice)}
	const q = `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName nationalId } }`
	env.MustData(model.RolePolice, q, vars)
	auditDB.Stop()
	r := env.As(model.RolePolice, q, vars)
	if r.Data != nil || len(r.Errors) != 1 || r.Errors[0].Code() != "SERVICE_UNAVAILABLE" {
		t.Fatalf("want SERVICE_UNAVAILABLE and no data, got %s", r.Raw)
	}
	if strings.Contains(r.Raw, "Novák") || strings.Contains(r.Raw, "800115") {
		t.Fatalf("data left the server without an audit entry: %s", r.Raw)
	}
	if !strings.Contains(env.Logs.String(), "audit entry not written") {
		t.Errorf("the failure should be logged")
	}
}

func TestAuditRetention(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	for i := 0; i < 5; i++ {
		env.MustData(model.RoleCourt, prisonsQuery, nil)
	}
	// An instance started four years later purges what is past the three-year retention at
	// start-up; the chain stays verifiable from the retention anchor and goes on from it.
	later := testenv.New(t, testenv.Options{Database: env.Config.MongoDatabase, Mutate: func(c *app.Config) {
		c.Now = func() time.Time { return testenv.Today.AddDate(4, 0, 0) }
	}})
	ctx := context.Background()
	report, err := later.Server.Trail.Verify(ctx)
	if err != nil || !report.Valid || report.EntriesChecked != 0 {
		t.Fatalf("after the purge: %+v %v", report, err)
	}
	e := &model.AuditEntry{Kind: model.AuditKindOperation, Outcome: model.AuditOutcomeAllowed}
	if err := later.Server.Trail.Append(ctx, e); err != nil {
		t.Fatal(err)
	}
	if e.Sequence != 6 {
		t.Errorf("the chain should continue at 6, got %d", e.Sequence)
	}
	report, err = later.Server.Trail.Verify(ctx)
	if err != nil || !report.Valid || report.EntriesChecked != 1 {
		t.Fatalf("after appending past the anchor: %+v %v", report, err)
	}
}
