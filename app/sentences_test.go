package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"custodia/app"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// Typed views of the lifecycle's answers.
type (
	decisionOut struct {
		Court         string `json:"court"`
		CaseReference string `json:"caseReference"`
	}
	transitionOut struct {
		Status   string       `json:"status"`
		On       string       `json:"on"`
		Decision *decisionOut `json:"decision"`
	}
	sentenceOut struct {
		ID                      string          `json:"id"`
		Kind                    string          `json:"kind"`
		Status                  string          `json:"status"`
		StartDate               *string         `json:"startDate"`
		EndDate                 *string         `json:"endDate"`
		ServedMonths            *int            `json:"servedMonths"`
		ProbationMonths         *int            `json:"probationMonths"`
		ConditionallyReleasedOn *string         `json:"conditionallyReleasedOn"`
		Version                 int             `json:"version"`
		Transitions             []transitionOut `json:"transitions"`
	}
	rehabOut struct {
		EarliestDate *string `json:"earliestDate"`
		Rule         string  `json:"rule"`
		BlockedBy    *string `json:"blockedBy"`
	}
	convictionOut struct {
		ID                       string  `json:"id"`
		Expunged                 bool    `json:"expunged"`
		ExpungedOn               *string `json:"expungedOn"`
		DeemedNotConvicted       bool    `json:"deemedNotConvicted"`
		DeemedNotConvictedReason *string `json:"deemedNotConvictedReason"`
		Expungement              *struct {
			Early         bool    `json:"early"`
			CaseReference *string `json:"caseReference"`
		} `json:"expungement"`
		Sentences      []sentenceOut `json:"sentences"`
		Rehabilitation *rehabOut     `json:"rehabilitation"`
	}
)

// recordedOut is the answer of recordConviction { id sentences { id } }.
type recordedOut struct {
	C struct {
		ID        string `json:"id"`
		Sentences []struct {
			ID string `json:"id"`
		} `json:"sentences"`
	} `json:"recordConviction"`
}

const (
	sentenceFields   = `id kind status startDate endDate servedMonths probationMonths conditionallyReleasedOn version transitions { status on decision { court caseReference } }`
	recordStatusMut  = `mutation($pid: ID!, $sid: ID!, $in: SentenceStatusInput!, $k: String!, $p: PurposeInput!) { recordSentenceStatus(personId: $pid, sentenceId: $sid, input: $in, idempotencyKey: $k, purpose: $p) { ` + sentenceFields + ` } }`
	convictionFields = `id expunged expungedOn deemedNotConvicted deemedNotConvictedReason expungement { early caseReference } sentences { ` + sentenceFields + ` } rehabilitation { earliestDate rule blockedBy }`
	copyQuery        = `query($pid: ID!, $p: PurposeInput!) { person(id: $pid, purpose: $p) { convictions(includeExpunged: true) { ` + convictionFields + ` } } }`
	expungeMut       = `mutation($pid: ID!, $id: ID!, $on: Date!, $early: CourtDecisionInput, $k: String!, $p: PurposeInput!) {
	  recordExpungement(personId: $pid, convictionId: $id, expungedOn: $on, earlyDecision: $early, idempotencyKey: $k, purpose: $p) { ` + convictionFields + ` } }`
)

// lifecycle drives sentence writes and reads for one test.
type lifecycle struct {
	t   *testing.T
	env *testenv.Env
	n   int
}

func (l *lifecycle) key(prefix string) string {
	l.n++
	return fmt.Sprintf("%s-%04d", prefix, l.n)
}

func (l *lifecycle) status(role model.Role, pid, sid string, in map[string]any) testenv.Response {
	l.t.Helper()
	return l.env.As(role, recordStatusMut, map[string]any{"pid": pid, "sid": sid, "in": in, "k": l.key("status"), "p": testenv.Purpose(role)})
}

func (l *lifecycle) mustStatus(role model.Role, pid, sid string, in map[string]any) sentenceOut {
	l.t.Helper()
	return testenv.DataAs[struct {
		S sentenceOut `json:"recordSentenceStatus"`
	}](l.t, l.status(role, pid, sid, in)).S
}

func (l *lifecycle) conviction(pid, id string) convictionOut {
	l.t.Helper()
	got := testenv.DataAs[struct {
		Person struct {
			Convictions []convictionOut `json:"convictions"`
		} `json:"person"`
	}](l.t, l.env.As(C, copyQuery, map[string]any{"pid": pid, "p": testenv.Purpose(C)}))
	for _, c := range got.Person.Convictions {
		if c.ID == id {
			return c
		}
	}
	l.t.Fatalf("no conviction %s of %s in the copy", id, pid)
	return convictionOut{}
}

func (l *lifecycle) expunge(role model.Role, pid, id, on string, early map[string]any) testenv.Response {
	l.t.Helper()
	vars := map[string]any{"pid": pid, "id": id, "on": on, "k": l.key("expunge"), "p": testenv.Purpose(role)}
	if early != nil {
		vars["early"] = early
	}
	return l.env.As(role, expungeMut, vars)
}

func wantError(t *testing.T, r testenv.Response, code, field, message string) {
	t.Helper()
	if len(r.Errors) != 1 || r.Errors[0].Code() != code || !strings.Contains(r.Errors[0].Message, message) {
		t.Fatalf("want one %s error mentioning %q, got %s", code, message, r.Raw)
	}
	if field != "" && r.Errors[0].Extensions["field"] != field {
		t.Fatalf("the error should name field %q: %s", field, r.Raw)
	}
}

func decision(ref string) map[string]any {
	return map[string]any{"court": "Krajský soud v Hradci Králové", "caseReference": ref}
}

// TestSentenceServedThenExpunged: Svoboda's imprisonment cannot be expunged while he serves it;
// the prison releases him as SENTENCE_SERVED, which ends the sentence; the court reads the
// rehabilitation date, cannot expunge before it without naming an early decision (§105(3)), and
// after an early expungement the conviction and its detention periods leave the extract.
func TestSentenceServedThenExpunged(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	l := &lifecycle{t: t, env: env}
	pid, cid, sid := seed.NamedSvoboda, "C-000003-1", "S-000003-1-1"

	wantError(t, l.expunge(C, pid, cid, "2026-10-01", decision("Nt 1/2026")), "CONFLICT", "", "is BEING_SERVED")

	r := env.As(PS, releaseQuery, map[string]any{"pid": pid, "in": map[string]any{"date": "2026-10-15", "reason": "SENTENCE_SERVED"}, "k": l.key("release"), "p": testenv.Purpose(PS)})
	if len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	c := l.conviction(pid, cid)
	s := c.Sentences[0]
	if s.Status != "SERVED" || s.EndDate == nil || *s.EndDate != "2026-10-15" || s.Version != 2 {
		t.Fatalf("a release as SENTENCE_SERVED ends the sentence: %+v", s)
	}
	if last := s.Transitions[len(s.Transitions)-1]; last.Status != "SERVED" || last.On != "2026-10-15" {
		t.Errorf("the transition is readable with its date: %+v", s.Transitions)
	}
	// 72 months > 5 years: §105(1)(b), 10 years from 2026-10-15 = 2036-10-15.
	if c.Rehabilitation == nil || c.Rehabilitation.EarliestDate == nil || *c.Rehabilitation.EarliestDate != "2036-10-15" || !strings.Contains(c.Rehabilitation.Rule, "§105(1)(b)") {
		t.Fatalf("rehabilitation: %+v", c.Rehabilitation)
	}

	wantError(t, l.expunge(C, pid, cid, "2026-10-20", nil), "CONFLICT", "", "waiting period runs until 2036-10-15")
	wantError(t, l.expunge(C, pid, cid, "2026-10-20", map[string]any{"court": "", "caseReference": "x"}), "BAD_USER_INPUT", "earlyDecision.court", "court")
	early := testenv.DataAs[struct {
		C convictionOut `json:"recordExpungement"`
	}](t, l.expunge(C, pid, cid, "2026-10-20", decision("5 Nt 301/2026"))).C
	if !early.Expunged || early.Expungement == nil || !early.Expungement.Early || *early.Expungement.CaseReference != "5 Nt 301/2026" {
		t.Fatalf("an early expungement names its decision: %+v", early)
	}

	const history = `query($pid: ID!, $p: PurposeInput!, $c: Boolean) { person(id: $pid, purpose: $p) { detentionHistory(includeExpunged: $c) { id sentence { id } } } }`
	type historyOut struct {
		Person struct {
			DetentionHistory []struct {
				ID       string `json:"id"`
				Sentence *struct {
					ID string `json:"id"`
				} `json:"sentence"`
			} `json:"detentionHistory"`
		} `json:"person"`
	}
	for _, role := range []model.Role{PO, PS, C} {
		h := testenv.DataAs[historyOut](t, env.As(role, `query($pid: ID!, $p: PurposeInput!) { person(id: $pid, purpose: $p) { detentionHistory { id } } }`, map[string]any{"pid": pid, "p": testenv.Purpose(role)}))
		if n := len(h.Person.DetentionHistory); n != 0 {
			t.Errorf("%s: the extract must leave out the periods of the expunged sentence, got %d", role, n)
		}
	}
	h := testenv.DataAs[historyOut](t, env.As(C, history, map[string]any{"pid": pid, "p": testenv.Purpose(C), "c": true}))
	if len(h.Person.DetentionHistory) != 2 || h.Person.DetentionHistory[0].Sentence == nil || h.Person.DetentionHistory[0].Sentence.ID != sid {
		t.Errorf("the copy keeps both periods with their sentence: %+v", h.Person.DetentionHistory)
	}
	wantCode(t, env.As(PO, history, map[string]any{"pid": pid, "p": testenv.Purpose(PO), "c": true}), "FORBIDDEN")

	// Both writes are in the audit trail as WRITE entries for the person, before they were
	// applied; the refused expungements are not.
	trail := testenv.DataAs[struct {
		AuditTrail struct {
			Edges []struct {
				Node struct {
					Kind    string `json:"kind"`
					Subject string `json:"subject"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"auditTrail"`
	}](t, env.As(AU, `query($pid: ID!) { auditTrail(filter: {personId: $pid}, first: 50) { edges { node { kind subject } } } }`, map[string]any{"pid": pid}))
	writes := map[string]int{}
	for _, e := range trail.AuditTrail.Edges {
		if e.Node.Kind == "WRITE" {
			writes[e.Node.Subject]++
		}
	}
	if writes["demo-prison-service"] != 1 || writes["demo-court"] != 1 {
		t.Errorf("one audited write each for the release and the expungement, got %v", writes)
	}
}

// TestSentenceLifecycleRules: who may record which step, illegal steps, stale versions and bad
// input, each with its code and the field or state it names.
func TestSentenceLifecycleRules(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	l := &lifecycle{t: t, env: env}
	pid, sid := seed.NamedSvoboda, "S-000003-1-1"
	cases := []struct {
		name               string
		role               model.Role
		in                 map[string]any
		code, field, fragm string
	}{
		{"a court does not record the end of imprisonment", C, map[string]any{"version": 1, "status": "SERVED", "on": "2026-10-01"}, "FORBIDDEN", "input.status", "PRISON_SERVICE"},
		{"the prison service does not record a pardon", PS, map[string]any{"version": 1, "status": "PARDONED", "on": "2026-10-01", "decision": decision("Pres 1/2026")}, "FORBIDDEN", "input.status", "COURT"},
		{"being served cannot go back to pending", RG, map[string]any{"version": 1, "status": "PENDING", "on": "2026-10-01"}, "CONFLICT", "input.status", "is BEING_SERVED and cannot become PENDING"},
		{"imprisonment has no probation of its own", RG, map[string]any{"version": 1, "status": "IN_PROBATION", "on": "2026-10-01"}, "CONFLICT", "input.status", "BEING_SERVED and cannot become IN_PROBATION"},
		{"stale version", PS, map[string]any{"version": 7, "status": "SERVED", "on": "2026-10-01"}, "CONFLICT", "input.version", "version 7"},
		{"future date", PS, map[string]any{"version": 1, "status": "SERVED", "on": "2026-12-01"}, "BAD_USER_INPUT", "input.on", "future"},
		{"before the last step", PS, map[string]any{"version": 1, "status": "SERVED", "on": "2023-01-01"}, "BAD_USER_INPUT", "input.on", "2023-05-10"},
		{"a conditional release names the decision", C, map[string]any{"version": 1, "status": "CONDITIONALLY_RELEASED", "on": "2026-10-01", "probationMonths": 24}, "BAD_USER_INPUT", "input.decision", "decision"},
		{"a conditional release names the probation", C, map[string]any{"version": 1, "status": "CONDITIONALLY_RELEASED", "on": "2026-10-01", "decision": decision("PP 1/2026")}, "BAD_USER_INPUT", "input.probationMonths", "probation"},
		{"servedMonths only with a conditional release", PS, map[string]any{"version": 1, "status": "SERVED", "on": "2026-10-01", "servedMonths": 3}, "BAD_USER_INPUT", "input.servedMonths", "conditional release"},
		{"served while detained for it: released, not recorded", PS, map[string]any{"version": 1, "status": "SERVED", "on": "2026-10-01"}, "CONFLICT", "", "releaseFromDetention"},
		{"the police record nothing", PO, map[string]any{"version": 1, "status": "SERVED", "on": "2026-10-01"}, "FORBIDDEN", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := l.status(tc.role, pid, sid, tc.in)
			if len(r.Errors) != 1 || r.Errors[0].Code() != tc.code || !strings.Contains(r.Errors[0].Message, tc.fragm) {
				t.Fatalf("want %s mentioning %q, got %s", tc.code, tc.fragm, r.Raw)
			}
			if tc.field != "" && r.Errors[0].Extensions["field"] != tc.field {
				t.Errorf("want field %s: %s", tc.field, r.Raw)
			}
		})
	}
	if s := l.conviction(pid, "C-000003-1").Sentences[0]; s.Status != "BEING_SERVED" || s.Version != 1 {
		t.Fatalf("refused steps change nothing: %+v", s)
	}
	// A retry of a step returns the first answer; the same key for another step is CONFLICT.
	vars := map[string]any{"pid": pid, "sid": sid, "in": map[string]any{"version": 1, "status": "PARDONED", "on": "2026-10-01", "decision": decision("Pres 2/2026")}, "k": "pardoned-once-1", "p": registrarPurpose()}
	first, again := env.As(RG, recordStatusMut, vars), env.As(RG, recordStatusMut, vars)
	if len(first.Errors) > 0 || first.Raw != again.Raw {
		t.Fatalf("a retry returns the first answer:\n%s\n%s", first.Raw, again.Raw)
	}
	wantError(t, l.status(RG, pid, sid, map[string]any{"version": 2, "status": "TIME_BARRED", "on": "2026-10-02"}), "CONFLICT", "input.status", "is PARDONED and cannot become TIME_BARRED: it is final")
}

// TestConditionalReleaseAndProbation: a court records a conditional release (time served
// computed from the start the admission recorded), the rehabilitation waits for the probation
// result (§105(4)), and after it the date follows the time actually served. A suspended
// sentence whose probation the court finds completed makes Dvořáková deemed not convicted: her
// conviction leaves the extract, reaches only copy readers marked as such, and cannot be
// expunged.
func TestConditionalReleaseAndProbation(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	l := &lifecycle{t: t, env: env}
	pid := testenv.Path(env.MustData(RG, registerPerson, map[string]any{"in": personInput(validBirthNumber(120)), "key": "lifecycle-person", "p": registrarPurpose()}), "registerPerson", "id").(string)
	const record = `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) { recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id sentences { id } } }`
	offence := map[string]any{"legalProvision": "§ 205 odst. 3 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}
	rec := testenv.DataAs[recordedOut](t, env.As(C, record, map[string]any{"pid": pid, "k": "lifecycle-conv", "p": testenv.Purpose(C), "in": map[string]any{
		"court": "Okresní soud v Olomouci", "caseReference": "3 T 5/2023", "decisionDate": "2023-12-01", "finalDate": "2024-01-10",
		"offences": []any{offence}, "sentences": []any{
			map[string]any{"kind": "IMPRISONMENT", "durationMonths": 24, "status": "PENDING"},
			map[string]any{"kind": "PROTECTIVE_MEASURE", "status": "PENDING"}}}})).C
	cid, sid, measure := rec.ID, rec.Sentences[0].ID, rec.Sentences[1].ID

	admit := map[string]any{"kind": "IMPRISONMENT", "prisonId": "PRS-BORY", "start": "2024-02-01", "sentenceId": sid,
		"responsibleAuthority": map[string]any{"kind": "COURT", "name": "Okresní soud v Olomouci", "caseReference": "3 T 5/2023"}}
	if r := env.As(PS, admitQuery, map[string]any{"pid": pid, "in": admit, "k": "lifecycle-admit", "p": testenv.Purpose(PS)}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if s := l.conviction(pid, cid).Sentences[0]; s.Status != "BEING_SERVED" || s.StartDate == nil || *s.StartDate != "2024-02-01" {
		t.Fatalf("an admission for the sentence starts it: %+v", s)
	}
	// 2024-02-01 → 2025-06-01 is 16 whole months.
	cr := l.mustStatus(C, pid, sid, map[string]any{"version": 2, "status": "CONDITIONALLY_RELEASED", "on": "2025-06-01", "probationMonths": 24, "decision": decision("PP 12/2025")})
	if cr.ServedMonths == nil || *cr.ServedMonths != 16 || cr.ConditionallyReleasedOn == nil || *cr.ConditionallyReleasedOn != "2025-06-01" || *cr.ProbationMonths != 24 {
		t.Fatalf("the conditional release records the time served and the probation: %+v", cr)
	}
	if r := env.As(PS, releaseQuery, map[string]any{"pid": pid, "in": map[string]any{"date": "2025-06-01", "reason": "CONDITIONAL_RELEASE"}, "k": "lifecycle-release", "p": testenv.Purpose(PS)}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	c := l.conviction(pid, cid)
	if c.Rehabilitation.EarliestDate != nil || !strings.Contains(*c.Rehabilitation.BlockedBy, "§105(7)") {
		t.Fatalf("the pending protective measure blocks first: %+v", c.Rehabilitation)
	}
	wantError(t, l.expunge(C, pid, cid, "2026-10-01", decision("Nt 2/2026")), "CONFLICT", "", "§105(7)")
	l.mustStatus(C, pid, measure, map[string]any{"version": 1, "status": "BEING_SERVED", "on": "2025-06-02"})
	l.mustStatus(C, pid, measure, map[string]any{"version": 2, "status": "SERVED", "on": "2026-01-15"})
	if c = l.conviction(pid, cid); !strings.Contains(*c.Rehabilitation.BlockedBy, "§105(4)") {
		t.Fatalf("in probation after the conditional release: %+v", c.Rehabilitation)
	}
	l.mustStatus(C, pid, sid, map[string]any{"version": 3, "status": "PROBATION_COMPLETED", "on": "2026-10-01", "decision": decision("PP 12/2025")})
	// 16 months served (> 1 year): §105(1)(c) 5 years from the release 2025-06-01 = 2030-06-01,
	// later than the measure's end (2026-01-15).
	c = l.conviction(pid, cid)
	if c.Rehabilitation.EarliestDate == nil || *c.Rehabilitation.EarliestDate != "2030-06-01" || !strings.Contains(c.Rehabilitation.Rule, "§105(4) conditional release after 16 months actually served") {
		t.Fatalf("rehabilitation after the probation: %+v", c.Rehabilitation)
	}

	// Dvořáková: suspended sentence, probation completed → deemed not convicted.
	dv, dvc, dvs := seed.NamedDvorakova, "C-000002-2", "S-000002-2-1"
	done := l.mustStatus(C, dv, dvs, map[string]any{"version": 1, "status": "PROBATION_COMPLETED", "on": "2026-10-01", "decision": decision("8 T 52/2024-80")})
	if done.Status != "PROBATION_COMPLETED" || *done.EndDate != "2026-10-01" {
		t.Fatalf("%+v", done)
	}
	copyC := l.conviction(dv, dvc)
	if !copyC.DeemedNotConvicted || copyC.DeemedNotConvictedReason == nil || !strings.Contains(*copyC.DeemedNotConvictedReason, "probation completed") {
		t.Fatalf("the copy marks it deemed not convicted: %+v", copyC)
	}
	const extract = `query($pid: ID!, $p: PurposeInput!) { person(id: $pid, purpose: $p) { convictions { id } } }`
	for _, role := range []model.Role{PO, RE, C} {
		got := testenv.DataAs[struct {
			Person struct {
				Convictions []struct {
					ID string `json:"id"`
				} `json:"convictions"`
			} `json:"person"`
		}](t, env.As(role, extract, map[string]any{"pid": dv, "p": testenv.Purpose(role)}))
		if len(got.Person.Convictions) != 0 {
			t.Errorf("%s: a deemed-not-convicted conviction leaves the extract like an expunged one: %+v", role, got.Person.Convictions)
		}
	}
	wantError(t, l.expunge(C, dv, dvc, "2026-10-20", nil), "CONFLICT", "", "deemed not convicted")
}

// TestUnlawfulExpungementsRefused: an unpaid fine refuses an expungement; paying it (court)
// starts the waiting period.
func TestUnlawfulExpungementsRefused(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	l := &lifecycle{t: t, env: env}
	const record = `mutation($in: ConvictionInput!, $k: String!, $p: PurposeInput!) { recordConviction(personId: "P-000006", input: $in, idempotencyKey: $k, purpose: $p) { id sentences { id } } }`
	rec := testenv.DataAs[recordedOut](t, env.As(RG, record, map[string]any{"k": "fine-unpaid-1", "p": registrarPurpose(), "in": map[string]any{
		"court": "Okresní soud v Kladně", "caseReference": "1 T 4/2022", "decisionDate": "2022-01-10", "finalDate": "2022-02-01",
		"offences":  []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
		"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "8000.00", "currency": "CZK"}, "status": "PENDING"}}}})).C
	wantError(t, l.expunge(RG, "P-000006", rec.ID, "2026-10-01", decision("Nt 3/2026")), "CONFLICT", "", "unpaid")
	l.mustStatus(C, "P-000006", rec.Sentences[0].ID, map[string]any{"version": 1, "status": "SERVED", "on": "2025-10-02"})
	// paid 2025-10-02 + 1 year (§105(1)(e)) = 2026-10-02
	wantError(t, l.expunge(RG, "P-000006", rec.ID, "2026-10-01", nil), "CONFLICT", "", "until 2026-10-02")
	got := testenv.DataAs[struct {
		C convictionOut `json:"recordExpungement"`
	}](t, l.expunge(RG, "P-000006", rec.ID, "2026-10-02", nil)).C
	if !got.Expunged || got.Expungement == nil || got.Expungement.Early {
		t.Fatalf("a lawful expungement after the waiting period: %+v", got)
	}
}

// TestLifeImprisonmentAndRegisterDay: a life sentence can be recorded (no duration), and
// "today" is the register's calendar day in its time zone: at 23:30 UTC on 31 October it is
// already 1 November in Prague, so a step dated 1 November is not in the future.
func TestLifeImprisonmentAndRegisterDay(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) {
		c.Now = func() time.Time { return time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC) }
	}})
	l := &lifecycle{t: t, env: env}
	const record = `mutation($in: ConvictionInput!, $k: String!, $p: PurposeInput!) { recordConviction(personId: "P-000007", input: $in, idempotencyKey: $k, purpose: $p) { id sentences { id } } }`
	in := map[string]any{"court": "Krajský soud v Ostravě", "caseReference": "40 T 2/2026", "decisionDate": "2026-06-01", "finalDate": "2026-07-01",
		"offences":  []any{map[string]any{"legalProvision": "§ 140 odst. 3 TZ", "description": "vražda", "category": "0101 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
		"sentences": []any{map[string]any{"kind": "EXCEPTIONAL_IMPRISONMENT", "life": true, "durationMonths": 300, "status": "PENDING"}}}
	wantError(t, env.As(C, record, map[string]any{"in": in, "k": "life-sentence-1", "p": testenv.Purpose(C)}), "BAD_USER_INPUT", "input.sentences[0].durationMonths", "life")
	delete(in["sentences"].([]any)[0].(map[string]any), "durationMonths")
	rec := testenv.DataAs[recordedOut](t, env.As(C, record, map[string]any{"in": in, "k": "life-sentence-2", "p": testenv.Purpose(C)})).C
	s := l.mustStatus(RG, "P-000007", rec.Sentences[0].ID, map[string]any{"version": 1, "status": "BEING_SERVED", "on": "2026-11-01"})
	if s.Status != "BEING_SERVED" || *s.StartDate != "2026-11-01" {
		t.Fatalf("%+v", s)
	}
	c := l.conviction("P-000007", rec.ID)
	if c.Rehabilitation.EarliestDate != nil || !strings.Contains(*c.Rehabilitation.BlockedBy, "BEING_SERVED") {
		t.Fatalf("a life sentence being served: %+v", c.Rehabilitation)
	}
	wantError(t, l.status(RG, "P-000007", rec.Sentences[0].ID, map[string]any{"version": 2, "status": "PARDONED", "on": "2026-11-02", "decision": decision("Pres 3/2026")}), "BAD_USER_INPUT", "input.on", "future")
}
