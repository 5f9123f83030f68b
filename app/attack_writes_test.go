package app_test

import (
	"fmt"
	"strings"
	"testing"

	"custodia/internal/testenv"
	"custodia/seed"
)

// sameAnswer fails unless two answers are the same refusal once the IDs the caller sent are
// taken out of them: one error, the same code, message and extensions.
func sameAnswer(t *testing.T, what string, hidden, missing testenv.Response, hiddenID, missingID string) {
	t.Helper()
	norm := func(r testenv.Response, id string) string {
		if r.Data != nil && fmt.Sprint(r.Data) != "map[]" || len(r.Errors) != 1 {
			return "not one refusal: " + r.Raw
		}
		e := r.Errors[0]
		return strings.ReplaceAll(fmt.Sprintf("%s %s %v", e.Code(), e.Message, e.Extensions["field"]), id, "<id>")
	}
	if h, m := norm(hidden, hiddenID), norm(missing, missingID); h != m {
		t.Errorf("%s: a record only the full copy holds answers\n  %s\nbut a missing one\n  %s", what, h, m)
	}
}

// TestWritesAreNoOracleForTheCopy: PRISON_SERVICE writes sentence steps, admits and corrects
// detention periods, but reads only the extract, and of sentences only those a detention
// executes (DESIGN §4): a sentence or a detention period of an expunged or deemed-not-convicted
// conviction, and a sentence no detention can execute (a fine), must answer its writes exactly
// as one that does not exist — not with its kind, not by accepting the write, not with the
// period in the answer.
func TestWritesAreNoOracleForTheCopy(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	l := &lifecycle{t: t, env: env}
	// Svoboda's imprisonment is served, then expunged early: the sentence and both periods
	// that executed it leave the extract.
	svoboda := seed.NamedSvoboda
	if r := env.As(PS, releaseQuery, map[string]any{"pid": svoboda, "in": map[string]any{"date": "2026-10-15", "reason": "SENTENCE_SERVED"}, "k": l.key("release"), "p": testenv.Purpose(PS)}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := l.expunge(C, svoboda, "C-000003-1", "2026-10-20", decision("5 Nt 301/2026")); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	step := map[string]any{"version": 2, "status": "BEING_SERVED", "on": "2026-10-21"}
	correctPeriod := `mutation($pid: ID!, $id: ID!, $in: DetentionPeriodCorrectionInput!, $k: String!, $p: PurposeInput!) {
	  correctDetentionPeriod(personId: $pid, periodId: $id, input: $in, reason: "Oprava data nástupu", idempotencyKey: $k, purpose: $p) {
	    correctionId detentionPeriod { id start end prison { id } responsibleAuthority { caseReference } } } }`
	custody := map[string]any{"kind": "CUSTODY", "prisonId": "PRS-PANKRAC", "start": "2023-05-11", "end": "2025-02-01", "releaseReason": "CHANGE_OF_TITLE",
		"responsibleAuthority": map[string]any{"kind": "COURT", "name": "Krajský soud v Hradci Králové", "caseReference": "9 T 3/2023"}}
	// Novák, whose periods are in the extract, gets a conviction deemed not convicted from the
	// start: its sentence is in the copy only.
	deemed := testenv.DataAs[recordedOut](t, env.As(C, `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
	  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id sentences { id } } }`,
		map[string]any{"pid": seed.NamedNovak, "in": negligentFine, "k": l.key("deemed"), "p": testenv.Purpose(C)})).C
	fine := map[string]any{"court": "Okresní soud v Kladně", "caseReference": "4 T 55/2026", "decisionDate": "2026-09-10", "finalDate": "2026-10-01",
		"offences":  []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
		"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "20000.00", "currency": "CZK"}, "status": "PENDING"}}}
	unpaid := testenv.DataAs[recordedOut](t, env.As(C, `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
	  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id sentences { id } } }`,
		map[string]any{"pid": seed.NamedDvorakova, "in": fine, "k": l.key("fine"), "p": testenv.Purpose(C)})).C.Sentences[0].ID
	cases := []struct {
		name              string
		hiddenID, missing string
		run               func(id string) testenv.Response
	}{
		{"a step of an expunged fine (Dvořáková)", "S-000002-1-1", "S-000002-1-9", func(id string) testenv.Response {
			return l.status(PS, seed.NamedDvorakova, id, map[string]any{"version": 1, "status": "BEING_SERVED", "on": "2026-10-21"})
		}},
		{"a step of an unpaid fine of the extract", unpaid, unpaid + "9", func(id string) testenv.Response {
			return l.status(PS, seed.NamedDvorakova, id, map[string]any{"version": 1, "status": "BEING_SERVED", "on": "2026-10-21"})
		}},
		{"an admission executing an unpaid fine", unpaid, unpaid + "9", func(id string) testenv.Response {
			return env.As(PS, `mutation($pid: ID!, $in: AdmissionInput!, $k: String!, $p: PurposeInput!) { admitToDetention(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id } }`,
				map[string]any{"pid": seed.NamedDvorakova, "k": l.key("admit"), "p": testenv.Purpose(PS), "in": map[string]any{"kind": "IMPRISONMENT", "prisonId": "PRS-VALDICE", "start": "2026-10-30", "sentenceId": id,
					"responsibleAuthority": map[string]any{"kind": "COURT", "name": "Okresní soud v Kladně", "caseReference": "4 T 55/2026"}}})
		}},
		{"a step of an expunged imprisonment", "S-000003-1-1", "S-000003-1-9", func(id string) testenv.Response {
			return l.status(PS, svoboda, id, step)
		}},
		{"a correction of a period of the expunged imprisonment", "D-000003-1", "D-000003-9", func(id string) testenv.Response {
			return env.As(PS, correctPeriod, map[string]any{"pid": svoboda, "id": id, "in": custody, "k": l.key("correct"), "p": testenv.Purpose(PS)})
		}},
		{"a period corrected to execute a sentence deemed not convicted", deemed.Sentences[0].ID, deemed.Sentences[0].ID + "9", func(id string) testenv.Response {
			in := map[string]any{"kind": "IMPRISONMENT", "prisonId": "PRS-BORY", "start": "2015-02-01", "end": "2017-06-15", "releaseReason": "TRANSFER", "sentenceId": id}
			return env.As(PS, correctPeriod, map[string]any{"pid": seed.NamedNovak, "id": "D-000001-1", "in": in, "k": l.key("correct"), "p": testenv.Purpose(PS)})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sameAnswer(t, c.name, c.run(c.hiddenID), c.run(c.missing), c.hiddenID, c.missing)
		})
	}
}
