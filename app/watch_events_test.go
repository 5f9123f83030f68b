package app_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

const watchCorrections = `subscription($id: ID!, $p: PurposeInput!) {
  watchPerson(personId: $id, purpose: $p) { id kind personId convictionId expungedConvictionId detentionPeriodId correctedRecordId } }`

const recordExpectedRelease = `mutation($pid: ID!, $d: Date, $k: String!, $p: PurposeInput!) {
  recordExpectedRelease(personId: $pid, expectedRelease: $d, idempotencyKey: $k, purpose: $p) { id start expectedRelease } }`

// correctedRecord reads correctedRecordId from a delivered event (watchedEvent does not carry it).
func correctedRecord(t *testing.T, m testenv.StreamMessage) (kind string, id *string) {
	t.Helper()
	event(t, m) // fails on an error or the end
	var d struct {
		WatchPerson struct {
			Kind              string  `json:"kind"`
			CorrectedRecordID *string `json:"correctedRecordId"`
		} `json:"watchPerson"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.WatchPerson.Kind, d.WatchPerson.CorrectedRecordID
}

// TestWatchExpectedReleaseAndCorrections: PRISON_SERVICE's recordExpectedRelease reaches COURT
// and POLICE watchers as EXPECTED_RELEASE_CHANGED naming the period; a REGISTRAR correction of a
// conviction reaches COURT as CORRECTED naming the conviction, also once it is expunged, and never
// POLICE (correctedRecordId is not POLICE's to read); blocking and unblocking tell nobody anything.
func TestWatchExpectedReleaseAndCorrections(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	person := seed.NamedHorvath
	court := env.SubscribeWS(env.Token(model.RoleCourt), watchCorrections, map[string]any{"id": person, "p": testenv.Purpose(model.RoleCourt)})
	police := env.SubscribeSSE(env.Token(model.RolePolice), watchPerson, map[string]any{"id": person, "p": testenv.Purpose(model.RolePolice)})
	time.Sleep(300 * time.Millisecond)

	period := write(t, env, model.RolePrisonService, admit, "admitToDetention", detentionVars(person, "er-admit"))
	vars := map[string]any{"pid": person, "d": "2027-01-15", "k": "er-expected-1", "p": testenv.Purpose(model.RolePrisonService)}
	first := env.As(model.RolePrisonService, recordExpectedRelease, vars)
	if len(first.Errors) > 0 || testenv.Path(first.Data, "recordExpectedRelease", "expectedRelease") != "2027-01-15" ||
		testenv.Path(first.Data, "recordExpectedRelease", "id") != period {
		t.Fatalf("recordExpectedRelease: %s", first.Raw)
	}
	for name, s := range map[string]*testenv.Stream{"COURT": court, "POLICE": police} {
		for _, want := range []string{"ADMITTED", "EXPECTED_RELEASE_CHANGED"} {
			e := event(t, s.Next(5*time.Second))
			if e.Kind != want || e.DetentionPeriodID == nil || *e.DetentionPeriodID != period {
				t.Fatalf("%s received %+v, want %s of %s", name, e, want, period)
			}
		}
	}
	// A retry returns the first answer and tells watchers nothing again.
	if again := env.As(model.RolePrisonService, recordExpectedRelease, vars); string(again.Raw) != string(first.Raw) {
		t.Fatalf("retry answered %s, first %s", again.Raw, first.Raw)
	}
	if m, quiet := police.Quiet(500 * time.Millisecond); !quiet {
		t.Fatalf("the retry told POLICE again: %s", m.Data)
	}

	conviction := map[string]any{"court": "Okresní soud v Jihlavě", "caseReference": "2 T 9/2020", "decisionDate": "2020-02-10", "finalDate": "2020-03-01",
		"offences":  []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
		"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "5000.00", "currency": "CZK"}, "status": "SERVED", "startDate": "2020-03-01", "endDate": "2020-04-01"}}}
	cid := write(t, env, model.RoleCourt, `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
	  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id } }`, "recordConviction",
		map[string]any{"pid": person, "in": conviction, "k": "er-conviction", "p": testenv.Purpose(model.RoleCourt)})
	if e := event(t, police.Next(5*time.Second)); e.Kind != "CONVICTION_RECORDED" {
		t.Fatalf("POLICE received %+v", e)
	}
	correct := func(key string, expungedOn any) {
		t.Helper()
		r := env.As(model.RoleRegistrar, `mutation($pid: ID!, $id: ID!, $in: ConvictionCorrectionInput!, $k: String!, $p: PurposeInput!) {
		  correctConviction(personId: $pid, convictionId: $id, input: $in, reason: "wrong case reference", idempotencyKey: $k, purpose: $p) { correctionId } }`,
			map[string]any{"pid": person, "id": cid, "k": key, "p": testenv.Purpose(model.RoleRegistrar),
				"in": map[string]any{"court": "Okresní soud v Jihlavě", "caseReference": "2 T 10/2020", "decisionDate": "2020-02-10", "finalDate": "2020-03-01", "expungedOn": expungedOn}})
		if len(r.Errors) > 0 {
			t.Fatalf("correctConviction: %s", r.Raw)
		}
	}
	correct("er-correct-1", nil)
	write(t, env, model.RoleCourt, `mutation($pid: ID!, $id: ID!, $k: String!, $p: PurposeInput!) {
	  recordExpungement(personId: $pid, convictionId: $id, expungedOn: "2026-10-01", idempotencyKey: $k, purpose: $p) { id } }`, "recordExpungement",
		map[string]any{"pid": person, "id": cid, "k": "er-expunge", "p": testenv.Purpose(model.RoleCourt)})
	correct("er-correct-2", "2026-10-02") // a correction of the expunged conviction
	var kinds []string
	for range 4 {
		kind, ref := correctedRecord(t, court.Next(5*time.Second))
		if kind == "CORRECTED" && (ref == nil || *ref != cid) {
			t.Fatalf("CORRECTED names %v, want %s", ref, cid)
		}
		kinds = append(kinds, kind)
	}
	if !slices.Equal(kinds, []string{"CONVICTION_RECORDED", "CORRECTED", "EXPUNGED", "CORRECTED"}) {
		t.Fatalf("COURT received %v", kinds)
	}
	if m, quiet := police.Quiet(700 * time.Millisecond); !quiet {
		t.Fatalf("POLICE received %s", m.Data)
	}
	// Blocking and unblocking the conviction tell nobody anything.
	for _, op := range []string{"blockRecord", "unblockRecord"} {
		r := env.As(model.RoleRegistrar, `mutation($in: BlockInput!, $k: String!, $p: PurposeInput!) { `+op+`(input: $in, idempotencyKey: $k, purpose: $p) { correctionId } }`,
			map[string]any{"in": map[string]any{"personId": person, "item": "CONVICTION", "itemId": cid, "reason": "disputed"}, "k": "er-" + op, "p": testenv.Purpose(model.RoleRegistrar)})
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %s", op, r.Raw)
		}
	}
	if m, quiet := court.Quiet(700 * time.Millisecond); !quiet {
		t.Fatalf("COURT was told of blocking: %s", m.Data)
	}
}

// TestRecordExpectedReleaseRefusals: the role, a person not detained, a day before the period's
// start, each refused with its code.
func TestRecordExpectedReleaseRefusals(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	person := seed.NamedHorvath
	write(t, env, model.RolePrisonService, admit, "admitToDetention", detentionVars(person, "err-admit"))
	try := func(role model.Role, pid, day, key string) testenv.Response {
		return env.As(role, recordExpectedRelease, map[string]any{"pid": pid, "d": day, "k": key, "p": testenv.Purpose(role)})
	}
	if r := try(model.RoleCourt, person, "2027-01-15", "err-court"); !slices.Contains(r.Codes(), "FORBIDDEN") {
		t.Fatalf("COURT: %s", r.Raw)
	}
	if r := try(model.RolePrisonService, seed.NamedDvorakova, "2027-01-15", "err-free"); !slices.Contains(r.Codes(), "CONFLICT") {
		t.Fatalf("not detained: %s", r.Raw)
	}
	r := try(model.RolePrisonService, person, "2026-10-29", "err-early")
	if !slices.Contains(r.Codes(), "BAD_USER_INPUT") || r.Errors[0].Extensions["field"] != "expectedRelease" {
		t.Fatalf("before the start: %s", r.Raw)
	}
	if r := try(model.RoleRegistrar, person, "2026-10-30", "err-registrar"); len(r.Errors) > 0 {
		t.Fatalf("REGISTRAR on the start day: %s", r.Raw)
	}
}
