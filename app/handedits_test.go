package app_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/app"
	"custodia/audit"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// handEdit is a change a database administrator makes to one stored document behind the
// server's back, undone when the case ends.
type handEdit struct {
	collection, id string
	update         bson.D
}

func setField(collection, id, field string, value any) handEdit {
	return handEdit{collection, id, bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: value}}}}}
}

func unsetField(collection, id, field string) handEdit {
	return handEdit{collection, id, bson.D{{Key: "$unset", Value: bson.D{{Key: field, Value: ""}}}}}
}

// apply makes the edit and returns a function that puts the document back as it was.
func (h handEdit) apply(t *testing.T, env *testenv.Env) (restore func()) {
	t.Helper()
	ctx := context.Background()
	col := env.RawCollection(h.collection)
	var orig bson.D
	if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: h.id}}).Decode(&orig); err != nil {
		t.Fatalf("read %s/%s: %v", h.collection, h.id, err)
	}
	if _, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: h.id}}, h.update); err != nil {
		t.Fatalf("edit %s/%s: %v", h.collection, h.id, err)
	}
	return func() {
		if _, err := col.ReplaceOne(ctx, bson.D{{Key: "_id", Value: h.id}}, orig); err != nil {
			t.Fatalf("restore %s/%s: %v", h.collection, h.id, err)
		}
	}
}

// TestHandEditedRegisterDocumentsAreRefused edits a person's stored documents as a database
// administrator could — a wrong type, an enum value the schema does not know, a date that is
// not one, a required value removed, detention periods that contradict each other — and reads the person as a court (full copy) and as the
// police (extract): each read is INTERNAL with no data (never the stored value passed on as if
// it were valid), the log names the document and field but not the value, and a write over
// the corrupt record is refused and leaves it as it was.
func TestHandEditedRegisterDocumentsAreRefused(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	novak := seed.NamedNovak
	const extract = `query($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) {
	  id familyName dateOfBirth sex detentionStatus { kind since } detentionHistory { kind start end }
	  convictions { decisionDate offences { completion } sentences { status } } } }`
	cases := []struct {
		name      string
		edit      handEdit
		field     string // the path the log names
		leak      string // the stored value that must not reach the caller ("" for none)
		detention bool   // a detention write must be refused too
	}{
		{"a name of the wrong type", setField("persons", novak, "familyName", 42), "familyName", "", false},
		{"an unknown sex", setField("persons", novak, "sex", "ALIEN"), "sex", "ALIEN", false},
		{"a date of birth that is not a date", setField("persons", novak, "dateOfBirth", "15.01.1980"), "dateOfBirth", "15.01.1980", false},
		{"the date of birth removed", unsetField("persons", novak, "dateOfBirth"), "dateOfBirth", `"dateOfBirth":""`, false},
		{"an unknown detention kind", setField("detentions", novak, "periods.0.kind", "HOLIDAY"), "periods[0].kind", "HOLIDAY", true},
		{"a period start that is not a date", setField("detentions", novak, "periods.0.start", "soon"), "periods[0].start", `"soon"`, true},
		{"two open periods", unsetField("detentions", novak, "periods.1.end"), "would both be ongoing", "", true},
		{"a period ending before it starts", setField("detentions", novak, "periods.1.end", "2001-01-01"), "would end before it starts", "2001-01-01", true},
		{"overlapping periods", setField("detentions", novak, "periods.1.start", "2016-01-01"), "would overlap", "2016-01-01", true},
		{"an unknown sentence status", setField("records", novak, "convictions.0.sentences.0.status", "ESCAPED"), "convictions[0].sentences[0].status", "ESCAPED", false},
		{"an unknown offence completion", setField("records", novak, "convictions.0.offences.0.completion", "MAYBE"), "convictions[0].offences[0].completion", "MAYBE", false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer c.edit.apply(t, env)()
			for _, read := range []struct {
				role  model.Role
				query string
			}{{model.RoleCourt, personCard}, {model.RolePolice, extract}} {
				r := env.As(read.role, read.query, map[string]any{"id": novak, "purpose": testenv.Purpose(read.role), "p": testenv.Purpose(read.role), "copy": true})
				if r.Data["person"] != nil || len(r.Errors) != 1 || r.Errors[0].Code() != "INTERNAL" {
					t.Fatalf("%s: want INTERNAL and no person, got %s", read.role, r.Raw)
				}
				if c.leak != "" && strings.Contains(r.Raw, c.leak) {
					t.Fatalf("%s: the stored value reached the caller: %s", read.role, r.Raw)
				}
				logged := env.LogLinesOf(r)
				if !strings.Contains(logged, "is corrupt") || !strings.Contains(logged, c.field) || !strings.Contains(logged, novak) {
					t.Fatalf("%s: the log should name the document and the field %s: %s", read.role, c.field, logged)
				}
				if c.leak != "" && strings.Contains(logged, strings.Trim(c.leak, `"`)) {
					t.Fatalf("%s: the log holds the stored value: %s", read.role, logged)
				}
			}
			if !c.detention {
				return
			}
			var before bson.Raw
			ctx := context.Background()
			if err := env.RawCollection("detentions").FindOne(ctx, bson.D{{Key: "_id", Value: novak}}).Decode(&before); err != nil {
				t.Fatal(err)
			}
			r := env.As(model.RolePrisonService, `mutation($pid: ID!, $k: String!, $p: PurposeInput!) {
			  releaseFromDetention(personId: $pid, idempotencyKey: $k, purpose: $p, input: {date: "2026-10-31", reason: CUSTODY_ENDED}) { id } }`,
				map[string]any{"pid": novak, "k": fmt.Sprintf("hand-edit-%d", i), "p": testenv.Purpose(model.RolePrisonService)})
			if len(r.Errors) != 1 || r.Errors[0].Code() != "INTERNAL" {
				t.Fatalf("a release over a corrupt detention record: want INTERNAL, got %s", r.Raw)
			}
			var after bson.Raw
			if err := env.RawCollection("detentions").FindOne(ctx, bson.D{{Key: "_id", Value: novak}}).Decode(&after); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Fatalf("the refused write changed the corrupt record")
			}
		})
	}
	// Undone, every edit reads as before.
	card(t, env, novak, true)
}

// TestExpungedConvictionEditedIntoTheExtract marks a conviction of the extract expunged by
// hand, leaving it in the extract's array: extract readers do not get it (DESIGN §4: nothing
// of an expunged conviction reaches them), the full copy shows it as expunged.
func TestExpungedConvictionEditedIntoTheExtract(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	novak := seed.NamedNovak
	for _, field := range []string{"expunged", "deemedNotConvicted"} {
		t.Run(field, func(t *testing.T) {
			defer setField("records", novak, "convictions.0."+field, true).apply(t, env)()
			type convictions struct {
				Person struct {
					Convictions []struct {
						ID            string `json:"id"`
						CaseReference string `json:"caseReference"`
					} `json:"convictions"`
				} `json:"person"`
			}
			const q = `query($id: ID!, $p: PurposeInput!, $copy: Boolean) { person(id: $id, purpose: $p) { convictions(includeExpunged: $copy) { id caseReference } } }`
			for _, role := range []model.Role{model.RolePolice, model.RoleReintegration, model.RoleCourt} {
				if role == model.RoleReintegration {
					continue // Novák is not in the demo caseload
				}
				got := testenv.DataAs[convictions](t, env.As(role, q, map[string]any{"id": novak, "p": testenv.Purpose(role), "copy": false}))
				if len(got.Person.Convictions) != 0 {
					t.Errorf("%s's extract shows a conviction marked %s: %+v", role, field, got.Person.Convictions)
				}
			}
			full := testenv.DataAs[convictions](t, env.As(model.RoleCourt, q, map[string]any{"id": novak, "p": testenv.Purpose(model.RoleCourt), "copy": true}))
			if len(full.Person.Convictions) != 1 {
				t.Errorf("the full copy should show the conviction: %+v", full.Person.Convictions)
			}
		})
	}
}

// TestDanglingPrisonReference points a detention period at a prison that does not exist: the
// read is INTERNAL, logged with the period — never NOT_FOUND, which would read as if the
// person did not exist.
func TestDanglingPrisonReference(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.PrisonCacheTTL = -1 }})
	novak := seed.NamedNovak
	for _, c := range []struct {
		name, field string
	}{{"a past period", "periods.0.prisonId"}, {"the open period", "periods.2.prisonId"}} {
		t.Run(c.name, func(t *testing.T) {
			defer setField("detentions", novak, c.field, "PRS-DEMOLISHED").apply(t, env)()
			r := env.As(model.RoleCourt, personCard, map[string]any{"id": novak, "purpose": testenv.Purpose(model.RoleCourt), "copy": true})
			if len(r.Errors) == 0 || slicesContainOnly(r.Codes(), "INTERNAL") == false {
				t.Fatalf("want INTERNAL errors only, got %s", r.Raw)
			}
			if strings.Contains(r.Raw, "PRS-DEMOLISHED") {
				t.Errorf("the dangling reference reached the caller: %s", r.Raw)
			}
			if !strings.Contains(env.LogLinesOf(r), "names a prison that does not exist") {
				t.Errorf("the log should say what is dangling: %s", env.LogLinesOf(r))
			}
		})
	}
}

func slicesContainOnly(codes []string, want string) bool {
	for _, c := range codes {
		if c != want {
			return false
		}
	}
	return true
}

// TestHandEditedGrants edits the demo officials' grants as a database administrator could: a
// validity end that is not a date must not make a grant valid forever, a purpose added beyond
// what the role may hold is not honoured, a status no grant has or a field of the wrong type
// is refused (INTERNAL, no detail); an expired ACTIVE grant reads as expired, a grant moved to
// another agency no longer serves the token's.
func TestHandEditedGrants(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.GrantCacheTTL = -1 }})
	grantOf := func(role model.Role) string {
		t.Helper()
		o, _ := seed.OfficialFor(role)
		var g struct {
			ID string `bson:"_id"`
		}
		if err := env.RawCollection("grants").FindOne(context.Background(), bson.D{{Key: "subject", Value: o.Identity.Subject}}).Decode(&g); err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	read := func(role model.Role, reason model.PurposeCode) testenv.Response {
		return env.As(role, `query($p: PurposeInput!) { person(id: "P-000002", purpose: $p) { id } }`,
			map[string]any{"p": map[string]any{"caseReference": "1 T 1/2026", "reason": string(reason)}})
	}
	cases := []struct {
		name   string
		role   model.Role
		edit   func(grantID string) handEdit
		reason model.PurposeCode
		want   string
	}{
		{"a validity end that is not a date", model.RolePolice, func(id string) handEdit { return setField("grants", id, "validUntil", "31.12.2020") }, model.PurposeCodePreTrialInvestigation, "INTERNAL"},
		{"an ACTIVE grant past its validity end", model.RolePolice, func(id string) handEdit { return setField("grants", id, "validUntil", "2020-12-31") }, model.PurposeCodePreTrialInvestigation, "GRANT_EXPIRED"},
		{"a grant moved to an unknown agency", model.RolePolice, func(id string) handEdit { return setField("grants", id, "agency", "Neznámý úřad") }, model.PurposeCodePreTrialInvestigation, "GRANT_REQUIRED"},
		{"a caseload of the wrong type", model.RoleReintegration, func(id string) handEdit { return setField("grants", id, "caseload", 5) }, model.PurposeCodeSupervision, "INTERNAL"},
		{"a status no grant has", model.RolePolice, func(id string) handEdit { return setField("grants", id, "status", "SUPERUSER") }, model.PurposeCodePreTrialInvestigation, "INTERNAL"},
		{"a purpose beyond the role", model.RoleReintegration, func(id string) handEdit {
			return setField("grants", id, "allowedPurposes", bson.A{"SUPERVISION", "CRIMINAL_PROCEEDINGS"})
		}, model.PurposeCodeCriminalProceedings, "FORBIDDEN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer c.edit(grantOf(c.role)).apply(t, env)()
			r := read(c.role, c.reason)
			if r.Data["person"] != nil || len(r.Errors) != 1 || r.Errors[0].Code() != c.want {
				t.Fatalf("want %s and no data, got %s", c.want, r.Raw)
			}
			if strings.Contains(r.Raw, "corrupt") || strings.Contains(r.Raw, "decod") {
				t.Fatalf("the stored document's fault reached the caller: %s", r.Raw)
			}
		})
	}
}

// serverWithAuditEntries starts a test server whose audit log holds n entries (prison reads).
func serverWithAuditEntries(t *testing.T, n int) (*testenv.Env, context.Context) {
	t.Helper()
	env := testenv.New(t, testenv.Options{Persons: 10})
	for i := 0; i < n; i++ {
		env.MustData(model.RoleCourt, prisonsQuery, nil)
	}
	return env, context.Background()
}

// TestAuditEntryEditedToAnotherShape edits stored audit entries into documents custodia never
// writes — a field of another type, a value no entry holds, the whole body replaced: the
// server's own verification and the offline verification of an export report the entry (the
// first one edited) and go on; neither fails nor skips it.
func TestAuditEntryEditedToAnotherShape(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		update bson.D
		// checked is how many entries verification checks at least: all 6, or, when nothing
		// of entry 3 can be placed in the tree, the first 3.
		checked int
	}{
		{"a time that is a string", bson.D{{Key: "$set", Value: bson.D{{Key: "time", Value: "yesterday"}}}}, 6},
		{"accesses that are a number", bson.D{{Key: "$set", Value: bson.D{{Key: "accesses", Value: 5}}}}, 6},
		{"an outcome no entry has", bson.D{{Key: "$set", Value: bson.D{{Key: "outcome", Value: "FORGIVEN"}}}}, 6},
		{"the tree hashes replaced by text", bson.D{{Key: "$set", Value: bson.D{{Key: "tree", Value: "none"}, {Key: "kind", Value: 7}}}}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, ctx := serverWithAuditEntries(t, 6)
			if _, err := env.Server.Trail.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := env.RawCollection("audit").UpdateOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(3)}}, c.update); err != nil {
				t.Fatal(err)
			}
			report := testenv.DataAs[struct {
				VerifyAuditChain model.AuditChainReport `json:"verifyAuditChain"`
			}](t, env.As(model.RoleAuditor, `{ verifyAuditChain { entriesChecked valid firstBrokenSequence problem } }`, nil)).VerifyAuditChain
			if report.Valid || report.FirstBrokenSequence == nil || *report.FirstBrokenSequence != 3 || report.EntriesChecked < c.checked {
				t.Fatalf("online: want entry 3 reported and the others checked, got %+v %s", report, deref(report.Problem))
			}
			offline, err := audit.VerifyExport(bytes.NewReader(exportOf(t, env)), env.Server.Trail.Key().Verifier, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if offline.Valid || offline.FirstBrokenSequence == nil || *offline.FirstBrokenSequence != 3 {
				t.Fatalf("offline: want entry 3 reported, got %+v %s", offline, deref(offline.Problem))
			}
			// The log goes on: a new read is audited after the edited entry.
			env.MustData(model.RoleCourt, prisonsQuery, nil)
		})
	}
}

// TestAuditHeadHintEditedByHand moves the audit head hint (and deletes entries) by hand, then
// starts a new instance over the database: its first append never takes the position of a
// deleted entry (which would hide the deletion from verification), and a hint past the last
// stored entry — a truncated tail, or a hint moved ahead — refuses the append, so the read
// fails closed with SERVICE_UNAVAILABLE and no data, and /readyz says so, rather than placing
// the entry beyond a gap the Merkle tree cannot span.
func TestAuditHeadHintEditedByHand(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		deleted []int // entries deleted (the log holds 1..5 before)
		head    int   // the hint set (-1: its document deleted)
		refused bool
		broken  int // the entry verifyAuditChain reports (0: none)
	}{
		{"moved back below a deleted entry", []int{4}, 2, false, 4},
		{"deleted, with the first entry", []int{1}, -1, false, 1},
		{"moved back to the start", nil, 0, false, 0},
		{"moved ahead", nil, 1006, true, 0},
		{"left over a deleted tail", []int{4, 5}, 5, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			first, ctx := serverWithAuditEntries(t, 5)
			auditCol := first.RawCollection("audit")
			if n, err := auditCol.CountDocuments(ctx, bson.D{}); err != nil || n != 5 {
				t.Fatalf("the log should hold 5 entries: %d %v", n, err)
			}
			for _, seq := range c.deleted {
				if _, err := auditCol.DeleteOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(seq)}}); err != nil {
					t.Fatal(err)
				}
			}
			meta := first.RawCollection("auditMeta")
			var err error
			if c.head < 0 {
				_, err = meta.DeleteOne(ctx, bson.D{{Key: "_id", Value: "head"}})
			} else {
				_, err = meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: "head"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: c.head}}}})
			}
			if err != nil {
				t.Fatal(err)
			}
			env := testenv.New(t, testenv.Options{Persons: 10, Database: first.Config.MongoDatabase})
			r := env.As(model.RolePolice, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`, map[string]any{"p": testenv.Purpose(model.RolePolice)})
			stored := map[string]bool{}
			cur, err := auditCol.Find(ctx, bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			for cur.Next(ctx) {
				id, _ := cur.Current.Lookup("_id").StringValueOK()
				stored[id] = true
			}
			if c.refused {
				if r.Data["person"] != nil || len(r.Errors) != 1 || r.Errors[0].Code() != "SERVICE_UNAVAILABLE" || strings.Contains(r.Raw, "Nov") {
					t.Fatalf("want SERVICE_UNAVAILABLE and no data, got %s", r.Raw)
				}
				if len(stored) != 5-len(c.deleted) {
					t.Fatalf("a refused append stored an entry: %v", stored)
				}
				if status, _ := env.Get("/readyz"); status != 503 {
					t.Errorf("/readyz: %d, want 503", status)
				}
				if !strings.Contains(env.LogLinesOf(r), "the entry at the head hint is missing") {
					t.Errorf("the log should say why: %s", env.LogLinesOf(r))
				}
				return
			}
			if r.Data["person"] == nil {
				t.Fatalf("the read should be answered and audited: %s", r.Raw)
			}
			for _, seq := range c.deleted {
				if stored[store.AuditID(seq)] {
					t.Fatalf("the position of deleted entry %d was taken again", seq)
				}
			}
			if !stored[store.AuditID(6)] {
				t.Fatalf("the read's entry should follow the last stored one: %v", stored)
			}
			report := testenv.DataAs[struct {
				VerifyAuditChain model.AuditChainReport `json:"verifyAuditChain"`
			}](t, env.As(model.RoleAuditor, `{ verifyAuditChain { valid firstBrokenSequence problem } }`, nil)).VerifyAuditChain
			switch {
			case c.broken == 0 && !report.Valid:
				t.Fatalf("verifyAuditChain: %+v %s", report, deref(report.Problem))
			case c.broken > 0 && (report.Valid || report.FirstBrokenSequence == nil || *report.FirstBrokenSequence != c.broken):
				t.Fatalf("verifyAuditChain: want entry %d reported, got %+v %s", c.broken, report, deref(report.Problem))
			}
		})
	}
}

// TestHandEditedIdempotencyRecord edits the record of a completed write, then retries the
// write with the same key: an answer whose owner link was pointed at another person, or that
// holds a value no write produces, is INTERNAL — never that person's data, never the value.
func TestHandEditedIdempotencyRecord(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	const record = `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
	  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id sentences { status } person { familyName nationalId } } }`
	conviction := map[string]any{"court": "Okresní soud v Jihlavě", "caseReference": "2 T 9/2020", "decisionDate": "2020-02-10", "finalDate": "2020-03-01",
		"offences":  []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
		"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "5000.00", "currency": "CZK"}, "status": "SERVED", "startDate": "2020-03-01", "endDate": "2020-04-01"}}}
	court, _ := seed.OfficialFor(model.RoleCourt)
	for i, c := range []struct {
		name, field string
		value       any
		leak        string
	}{
		{"the owner pointed at another person", "owners.personId", seed.NamedSvoboda, "Svoboda"},
		{"a sentence status no write produces", "answer.sentences.0.status", "ESCAPED", "ESCAPED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]any{"pid": seed.NamedNovak, "in": conviction, "k": fmt.Sprintf("dba-idempotency-%d", i), "p": testenv.Purpose(model.RoleCourt)}
			env.MustData(model.RoleCourt, record, vars)
			setField("idempotency", court.Identity.Subject+"|"+vars["k"].(string), c.field, c.value).apply(t, env)
			r := env.As(model.RoleCourt, record, vars)
			if len(r.Errors) != 1 || r.Errors[0].Code() != "INTERNAL" || strings.Contains(r.Raw, c.leak) {
				t.Fatalf("a retry over an edited record: want INTERNAL without %q, got %s", c.leak, r.Raw)
			}
		})
	}
}

// TestAuditNotesEditedByHand replaces a stored checkpoint's or the retention record's signed
// note by something that is not text: verifyAuditChain reports that it does not verify
// (it did fail with INTERNAL), as it does for a note edited into other text.
func TestAuditNotesEditedByHand(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, collection, id string
		note                 any
	}{
		{"a checkpoint edited into other text", "auditCheckpoints", store.AuditID(2), "forged"},
		{"a checkpoint edited into a number", "auditCheckpoints", store.AuditID(2), 5},
		{"a retention record edited into a number", "auditMeta", "retention", 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, ctx := serverWithAuditEntries(t, 2)
			if _, err := env.Server.Trail.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			col := env.RawCollection(c.collection)
			if _, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "note", Value: c.note}}}},
				options.UpdateOne().SetUpsert(true)); err != nil {
				t.Fatal(err)
			}
			report := testenv.DataAs[struct {
				VerifyAuditChain model.AuditChainReport `json:"verifyAuditChain"`
			}](t, env.As(model.RoleAuditor, `{ verifyAuditChain { valid problem } }`, nil)).VerifyAuditChain
			if report.Valid || !strings.Contains(deref(report.Problem), "does not verify") {
				t.Fatalf("want the note reported, got %+v %s", report, deref(report.Problem))
			}
		})
	}
}
