package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// Novák's record with something only the full copy holds: an expunged conviction whose
// sentence a period executed (that period is then kept among the copy-only periods).
const (
	hiddenConviction = "C-000001-9"
	hiddenSentence   = "S-000001-9-1"
	hiddenPeriod     = "D-000001-9"
)

// registerWithHiddenHistory is the demo register of 20 persons where Novák also has an
// expunged conviction (2004, six months' imprisonment) and the period that executed it.
func registerWithHiddenHistory() store.Register {
	r := seed.Build(seed.Options{Persons: 20})
	ptr := func(s string) *string { return &s }
	date := func(s string) *model.Date { d := model.MustDate(s); return &d }
	six, served := 6, model.ReleaseReasonSentenceServed
	r.Convictions = append(r.Convictions, model.Conviction{
		ID: hiddenConviction, PersonID: seed.NamedNovak, Court: "Okresní soud v Trutnově", CaseReference: "7 T 99/2004",
		DecisionDate: model.MustDate("2004-09-01"), FinalDate: model.MustDate("2004-10-01"),
		Offences: []model.Offence{{LegalProvision: "§ 205 odst. 1 TZ", Description: "krádež", Category: "0801 00",
			Completion: model.OffenceCompletionCompleted, Participation: model.ParticipationPerpetrator, Intentional: true}},
		Sentences: []model.Sentence{{ID: hiddenSentence, Kind: model.SentenceKindImprisonment, DurationMonths: &six,
			StartDate: date("2004-11-01"), EndDate: date("2005-05-01"), Status: model.SentenceStatusServed}},
		Expunged: true, ExpungedOn: date("2009-01-15"),
		Expungement: &model.Expungement{On: model.MustDate("2009-01-15"), Court: ptr("Okresní soud v Trutnově"), CaseReference: ptr("7 Nt 5/2009")},
	})
	for i := range r.Detentions {
		if r.Detentions[i].PersonID == seed.NamedNovak {
			r.Detentions[i].Periods = append(r.Detentions[i].Periods, model.DetentionPeriod{
				ID: hiddenPeriod, Kind: model.DetentionKindImprisonment, Start: model.MustDate("2004-11-01"), End: date("2005-05-01"),
				PrisonID: "PRS-BORY", SentenceID: ptr(hiddenSentence), ReleaseReason: &served,
				ResponsibleAuthority: &model.Authority{Kind: model.AuthorityKindCourt, Name: "Okresní soud v Trutnově", CaseReference: ptr("7 T 99/2004")},
			})
		}
	}
	return r
}

// commandRecorder is a test server whose database commands within requests are recorded as
// spans (collection and command name only), with grant and prison caches that cannot expire
// during the test.
func commandRecorder(t *testing.T, reg *store.Register) (*testenv.Env, func(do func()) map[string]int) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	env := testenv.New(t, testenv.Options{Register: reg, Mutate: func(c *app.Config) {
		c.TracerProvider, c.GrantCacheTTL, c.PrisonCacheTTL = tp, time.Minute, time.Minute
		c.AuditPersonIndexInterval = time.Hour // the background indexer's commands are not the card's
	}})
	// commands runs do and returns the commands it caused, as "collection command" → count;
	// the audit append runs outside the request's trace and is counted from /metrics as
	// "audit (all)".
	commands := func(do func()) map[string]int {
		before, total := len(rec.Ended()), env.DBCommands()
		do()
		out := map[string]int{}
		traced := 0
		for _, s := range rec.Ended()[before:] {
			var col, cmd string
			for _, a := range s.Attributes() {
				switch a.Key {
				case "db.collection.name":
					col = a.Value.AsString()
				case "db.operation.name":
					cmd = a.Value.AsString()
				}
			}
			if cmd != "" {
				out[col+" "+cmd]++
				traced++
			}
		}
		if rest := env.DBCommands() - total - traced; rest > 0 {
			out["audit (all)"] = rest
		}
		return out
	}
	return env, commands
}

type cardOut struct {
	Person struct {
		DetentionStatus struct {
			DeprivedOfLiberty bool
			Prison            *struct{ ID, Name string }
		}
		DetentionHistory []struct {
			ID       string
			Prison   struct{ ID, Name string }
			Sentence *struct {
				ID             string
				DurationMonths *int
				Conviction     struct{ ID string }
			}
		}
		Convictions []struct {
			ID        string
			Expunged  bool
			Sentences []struct{ ID string }
		}
	}
}

const cardCommandsQuery = `query Card($id: ID!, $p: PurposeInput!, $copy: Boolean, $historyCopy: Boolean) {
  person(id: $id, purpose: $p) {
    detentionStatus { deprivedOfLiberty prison { id name } }
    detentionHistory(includeExpunged: $historyCopy) { id prison { id name } sentence { id durationMonths conviction { id } } }
    convictions(includeExpunged: $copy) { id expunged sentences { id } }
  }
}`

// TestPersonCardCommands: a person card issues exactly one read of each of the person, the
// detention record and the criminal record — also when it selects both the full copy and the
// extract of a record, the copy is read once and the extract derived from it — no prisons
// query (reference data, cached), and the audit entry's insert and head update; and the
// answer is still right: what only the copy holds appears only where the copy was asked for,
// and the sentences of the periods are found in the copy or the extract they belong to.
func TestPersonCardCommands(t *testing.T) {
	t.Parallel()
	reg := registerWithHiddenHistory()
	env, commands := commandRecorder(t, &reg)
	reads := map[string]int{"persons find": 1, "detentions find": 1, "records find": 1, "audit (all)": 2}
	cases := []struct {
		name              string
		role              model.Role
		copy, historyCopy bool
		// hiddenConviction, hiddenPeriod: whether the answer holds them.
		wantConviction, wantPeriod bool
	}{
		{"COURT, convictions copy, history extract (the card)", C, true, false, true, false},
		{"COURT, convictions extract, history copy", C, false, true, false, true},
		{"COURT, both copies", C, true, true, true, true},
		{"COURT, both extracts", C, false, false, false, false},
		{"POLICE, extract only", PO, false, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(c.role), "copy": c.copy, "historyCopy": c.historyCopy}
			testenv.DataAs[cardOut](t, env.As(c.role, cardCommandsQuery, vars)) // warm the grant and prison caches
			var got cardOut
			cmds := commands(func() { got = testenv.DataAs[cardOut](t, env.As(c.role, cardCommandsQuery, vars)) })
			if fmt.Sprint(cmds) != fmt.Sprint(reads) {
				t.Errorf("database commands %v, want %v: one read each of the person, the detention record and the criminal record, the audit insert and head update, no prisons query", cmds, reads)
			}
			p := got.Person
			if !p.DetentionStatus.DeprivedOfLiberty || p.DetentionStatus.Prison == nil || p.DetentionStatus.Prison.Name == "" {
				t.Errorf("Novák is in custody with a named prison: %+v", p.DetentionStatus)
			}
			sentences := map[string]int{}
			var periods []string
			for _, q := range p.DetentionHistory {
				periods = append(periods, q.ID)
				if q.Prison.Name == "" {
					t.Errorf("period %s has no prison name", q.ID)
				}
				if q.Sentence != nil && q.Sentence.DurationMonths != nil {
					sentences[q.Sentence.ID] = *q.Sentence.DurationMonths
				}
			}
			if sentences["S-000001-1-1"] != 48 {
				t.Errorf("the periods of the four years' imprisonment must show their sentence: %v", sentences)
			}
			if slices.Contains(periods, hiddenPeriod) != c.wantPeriod {
				t.Errorf("history %v: the copy-only period %s present = %v, want %v", periods, hiddenPeriod, !c.wantPeriod, c.wantPeriod)
			}
			if c.wantPeriod && sentences[hiddenSentence] != 6 {
				t.Errorf("the copy-only period's sentence must be found in the copy: %v", sentences)
			}
			var convictions []string
			for _, cv := range p.Convictions {
				convictions = append(convictions, cv.ID)
				if cv.Expunged != (cv.ID == hiddenConviction) {
					t.Errorf("conviction %s expunged = %v", cv.ID, cv.Expunged)
				}
			}
			if slices.Contains(convictions, hiddenConviction) != c.wantConviction || !slices.Contains(convictions, "C-000001-1") {
				t.Errorf("convictions %v: want C-000001-1, and %s only in the copy (copy %v)", convictions, hiddenConviction, c.copy)
			}
		})
	}
}

// TestPrisonCache: prisons are read through a process-wide cache of reference data. A change
// through this instance (upsertPrison) shows at once; a database administrator's hand edit
// shows once the cache's time to live has passed — and not before, within a long one.
func TestPrisonCache(t *testing.T) {
	t.Parallel()
	const status = `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { detentionStatus { prison { id name } } } }`
	type statusOut struct {
		Person struct {
			DetentionStatus struct{ Prison struct{ ID, Name string } }
		}
	}
	type prisonOut struct {
		Prison struct {
			Name    string
			Version int
		}
	}
	prisonName := func(env *testenv.Env) string {
		return testenv.DataAs[statusOut](t, env.As(C, status, map[string]any{"p": testenv.Purpose(C)})).Person.DetentionStatus.Prison.Name
	}
	dbaRename := func(env *testenv.Env, name string) {
		t.Helper()
		client, err := mongo.Connect(options.Client().ApplyURI(env.Config.MongoURI))
		if err != nil {
			t.Fatal(err)
		}
		defer client.Disconnect(context.Background())
		res, err := client.Database(env.Config.MongoDatabase).Collection("prisons").UpdateOne(context.Background(),
			bson.D{{Key: "_id", Value: "PRS-PANKRAC"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: name}}}})
		if err != nil || res.MatchedCount != 1 {
			t.Fatalf("hand edit: %v %+v", err, res)
		}
	}

	t.Run("long TTL", func(t *testing.T) {
		t.Parallel()
		env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) { c.PrisonCacheTTL = time.Hour }})
		original := prisonName(env)
		if original == "" {
			t.Fatal("Novák's custody prison has no name")
		}
		dbaRename(env, "Vazební věznice (ručně)")
		if got := prisonName(env); got != original {
			t.Errorf("within the cache's time to live the cached prison is shown: got %q, want %q", got, original)
		}
		// A change through the instance itself shows at once (and the hand edit with it).
		before := testenv.DataAs[prisonOut](t, env.As(RG, `{ prison(id: "PRS-PANKRAC") { name version } }`, nil)).Prison
		r := env.As(RG, `mutation($in: PrisonInput!, $k: String!) { upsertPrison(input: $in, idempotencyKey: $k) { id name } }`, map[string]any{"k": "prison-cache-1",
			"in": map[string]any{"id": "PRS-PANKRAC", "version": before.Version, "name": "Vazební věznice Praha-Pankrác (nová)", "kind": "CUSTODY_PRISON",
				"address": map[string]any{"street": "Soudní 1672/1a", "city": "Praha 4", "postalCode": "140 67", "country": "CZ"}}})
		if len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		if got := prisonName(env); got != "Vazební věznice Praha-Pankrác (nová)" {
			t.Errorf("after upsertPrison on this instance: got %q", got)
		}
	})

	t.Run("short TTL", func(t *testing.T) {
		t.Parallel()
		const ttl = 300 * time.Millisecond
		env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) { c.PrisonCacheTTL = ttl }})
		if prisonName(env) == "" {
			t.Fatal("Novák's custody prison has no name")
		}
		dbaRename(env, "Vazební věznice (ručně)")
		time.Sleep(ttl) // every cached read is now older than the TTL
		if got := prisonName(env); got != "Vazební věznice (ručně)" {
			t.Errorf("a hand edit must show after the cache's time to live: got %q", got)
		}
	})
}

// TestExtractReadersNeverReadTheCopy: for a role that may not read the full copy, the
// convictions and the periods of the copy stay in the database: its card issues the same
// single reads (of the extract, a projection), and nothing of the copy reaches the answer on
// any relation.
func TestExtractReadersNeverReadTheCopy(t *testing.T) {
	t.Parallel()
	reg := registerWithHiddenHistory()
	env, commands := commandRecorder(t, &reg)
	const q = `query($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) {
	  detentionHistory { id sentence { id conviction { id caseReference } } }
	  convictions { id caseReference sentences { id conviction { id } } } } }`
	checked := 0
	for _, role := range []model.Role{PO, PS, RE} {
		vars := map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(role)}
		r := env.As(role, q, vars)
		if len(r.Errors) > 0 {
			if r.Errors[0].Code() == "NOT_FOUND" || r.Errors[0].Code() == "FORBIDDEN" {
				continue // outside the role's caseload or schema
			}
			t.Fatalf("%s: %s", role, r.Raw)
		}
		checked++
		var raw string
		cmds := commands(func() { raw = env.As(role, q, vars).Raw })
		for _, secret := range []string{hiddenConviction, hiddenSentence, hiddenPeriod, "7 T 99/2004"} {
			if strings.Contains(raw, secret) {
				t.Errorf("%s: the extract reveals %s: %s", role, secret, raw)
			}
		}
		if cmds["records find"] != 1 || cmds["detentions find"] != 1 {
			t.Errorf("%s: commands %v: one read of each record", role, cmds)
		}
	}
	if checked == 0 {
		t.Fatal("no extract reader could read the card: the test would pass on nothing")
	}
	t.Logf("%d extract readers checked", checked)
}
