package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

func registrarPurpose() map[string]any {
	return map[string]any{"caseReference": "RT 2026/118", "reason": "REGISTER_MAINTENANCE"}
}

const registerPerson = `mutation Register($in: PersonInput!, $key: String!, $p: PurposeInput!) {
  registerPerson(input: $in, idempotencyKey: $key, purpose: $p) { id version givenNames familyName nationalId dateOfBirth }
}`

func personInput(nid string) map[string]any {
	in := map[string]any{"givenNames": "Tereza", "familyName": "Malá", "dateOfBirth": "1995-03-08", "sex": "FEMALE",
		"nationalities": []string{"CZ"}, "placeOfBirth": map[string]any{"city": "Olomouc", "country": "CZ"},
		"residence": map[string]any{"street": "Dlouhá 4", "city": "Olomouc", "postalCode": "779 00", "country": "CZ"}}
	if nid != "" {
		in["nationalId"] = nid
	}
	return in
}

// validBirthNumber makes a valid birth number for a woman born on 1995-03-08.
func validBirthNumber(serial int) string {
	prefix := fmt.Sprintf("955308%03d", serial)
	var n int64
	fmt.Sscan(prefix, &n)
	return fmt.Sprintf("955308/%03d%d", serial, (n%11)%10)
}

func TestWritesAllowedOnlyToTheirRoles(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	cases := []struct {
		name    string
		query   string
		vars    func(role model.Role) map[string]any
		allowed []model.Role
	}{
		{"registerPerson", registerPerson, func(role model.Role) map[string]any {
			return map[string]any{"in": personInput(""), "key": "reg-" + string(role), "p": testenv.Purpose(role)}
		}, []model.Role{RG}},
		{"recordConviction", `mutation($k: String!, $p: PurposeInput!) { recordConviction(personId: "P-000003", idempotencyKey: $k, purpose: $p, input: {
			court: "Okresní soud v Liberci", caseReference: "2 T 5/2026", decisionDate: "2026-05-04", finalDate: "2026-06-01",
			offences: [{legalProvision: "§ 228 odst. 1 TZ", description: "poškození cizí věci", category: "0810 00", completion: COMPLETED, participation: PERPETRATOR, intentional: true}],
			sentences: [{kind: FINE, amount: {amount: "8000.00", currency: "CZK"}, status: PENDING}] }) { id } }`,
			func(role model.Role) map[string]any {
				return map[string]any{"k": "conv-" + string(role), "p": testenv.Purpose(role)}
			}, []model.Role{C, RG}},
		{"upsertPrison", `mutation($k: String!) { upsertPrison(idempotencyKey: $k, input: {name: "Věznice Nová", kind: PRISON, address: {street: "Nová 1", city: "Jihlava", postalCode: "586 01", country: "CZ"}}) { id } }`,
			func(role model.Role) map[string]any { return map[string]any{"k": "prison-" + string(role)} }, []model.Role{PS, RG}},
		{"admitToDetention", `mutation($k: String!, $p: PurposeInput!) { admitToDetention(personId: "P-000002", idempotencyKey: $k, purpose: $p, input: {
			kind: CUSTODY, prisonId: "PRS-BRNO-VV", start: "2026-10-30", responsibleAuthority: {kind: PROSECUTION_OFFICE, name: "Krajské státní zastupitelství v Brně", caseReference: "2 KZV 88/2026"}}) { id } }`,
			func(role model.Role) map[string]any {
				return map[string]any{"k": "admit-" + string(role), "p": testenv.Purpose(role)}
			}, []model.Role{PS}},
	}
	for _, c := range cases {
		for _, role := range everyone {
			t.Run(c.name+"/"+string(role), func(t *testing.T) {
				r := env.As(role, c.query, c.vars(role))
				if contains(c.allowed, role) {
					if len(r.Errors) > 0 {
						t.Fatalf("%s should be allowed: %s", role, r.Raw)
					}
					return
				}
				assertForbidden(t, r)
			})
		}
	}
}

func contains(list []model.Role, r model.Role) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
}

func TestRegisterAndUpdatePerson(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	nid := validBirthNumber(123)
	vars := map[string]any{"in": personInput(nid), "key": "register-mala-1", "p": registrarPurpose()}
	created := env.MustData(RG, registerPerson, vars)["registerPerson"].(map[string]any)
	id := created["id"].(string)
	expect(t, "registered", created, map[string]any{"version": 1.0, "nationalId": nid, "familyName": "Malá"})
	if ids := searchIDs(t, env, map[string]any{"familyName": "mala", "dateOfBirth": "1995-03-08"}); !contains2(ids, id) {
		t.Errorf("the new person is not found by a diacritics-free search: %v", ids)
	}
	lookup := `query($n: String!, $p: PurposeInput!) { personByNationalId(nationalId: $n, purpose: $p) { id } }`
	expectEq(t, "by national ID", testenv.Path(env.MustData(PO, lookup, map[string]any{"n": nid, "p": testenv.Purpose(PO)}), "personByNationalId", "id"), id)

	// Another person with the same national ID is refused.
	dup := env.As(RG, registerPerson, map[string]any{"in": personInput(nid), "key": "register-mala-2", "p": registrarPurpose()})
	wantCode(t, dup, "CONFLICT")
	bad := personInput("955308/1230")
	if validBirthNumber(123) == "955308/1230" {
		bad = personInput("955308/1231")
	}
	r := env.As(RG, registerPerson, map[string]any{"in": bad, "key": "register-mala-3", "p": registrarPurpose()})
	wantCode(t, r, "BAD_USER_INPUT")
	expectEq(t, "field named", r.Errors[0].Extensions["field"], "input.nationalId")
	future := personInput("")
	future["dateOfBirth"] = "2030-01-01"
	r = env.As(RG, registerPerson, map[string]any{"in": future, "key": "register-mala-4", "p": registrarPurpose()})
	wantCode(t, r, "BAD_USER_INPUT")
	expectEq(t, "field named", r.Errors[0].Extensions["field"], "input.dateOfBirth")
	country := personInput("")
	country["nationalities"] = []string{"Czechia"}
	r = env.As(RG, registerPerson, map[string]any{"in": country, "key": "register-mala-5", "p": registrarPurpose()})
	expectEq(t, "field named", r.Errors[0].Extensions["field"], "input.nationalities[0]")

	// Update: a married name and a corrected national ID; the stale version is refused.
	const update = `mutation($id: ID!, $v: Int!, $in: PersonInput!, $key: String!, $p: PurposeInput!) {
	  updatePerson(id: $id, version: $v, input: $in, idempotencyKey: $key, purpose: $p) { version familyName birthFamilyName nationalId } }`
	nid2 := validBirthNumber(124)
	in := personInput(nid2)
	in["familyName"], in["birthFamilyName"] = "Veselá", "Malá"
	updated := env.MustData(RG, update, map[string]any{"id": id, "v": 1, "in": in, "key": "update-mala-1", "p": registrarPurpose()})
	expect(t, "updated", updated["updatePerson"], map[string]any{"version": 2.0, "familyName": "Veselá", "nationalId": nid2})
	wantCode(t, env.As(RG, update, map[string]any{"id": id, "v": 1, "in": personInput(""), "key": "update-mala-2", "p": registrarPurpose()}), "CONFLICT")
	wantCode(t, env.As(PO, lookup, map[string]any{"n": nid, "p": testenv.Purpose(PO)}), "NOT_FOUND")
	expectEq(t, "new national ID", testenv.Path(env.MustData(PO, lookup, map[string]any{"n": nid2, "p": testenv.Purpose(PO)}), "personByNationalId", "id"), id)
	if ids := searchIDs(t, env, map[string]any{"familyName": "mala", "givenNames": "tereza"}); !contains2(ids, id) {
		t.Errorf("the birth name must still find her: %v", ids)
	}
	// The old number is free again.
	other := personInput(nid)
	other["givenNames"] = "Tereza Marie"
	env.MustData(RG, registerPerson, map[string]any{"in": other, "key": "register-other-1", "p": registrarPurpose()})
}

func contains2(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestIdempotentRetries(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	vars := map[string]any{"in": personInput(validBirthNumber(200)), "key": "retry-register-1", "p": registrarPurpose()}
	first := env.As(RG, registerPerson, vars)
	second := env.As(RG, registerPerson, vars)
	if len(first.Errors) > 0 || first.Raw != second.Raw {
		t.Fatalf("a retry must return the first result:\n%s\n%s", first.Raw, second.Raw)
	}
	if ids := searchIDs(t, env, map[string]any{"familyName": "mala", "dateOfBirth": "1995-03-08"}); len(ids) != 1 {
		t.Errorf("a retried registration wrote a second person: %v", ids)
	}
	changed := map[string]any{"in": personInput(""), "key": "retry-register-1", "p": registrarPurpose()}
	r := env.As(RG, registerPerson, changed)
	wantCode(t, r, "CONFLICT")
	expectEq(t, "names the key", r.Errors[0].Extensions["field"], "idempotencyKey")
	wantCode(t, env.As(RG, registerPerson, map[string]any{"in": personInput(""), "key": "short", "p": registrarPurpose()}), "BAD_USER_INPUT")

	const admit = `mutation($k: String!, $p: PurposeInput!) { admitToDetention(personId: "P-000002", idempotencyKey: $k, purpose: $p, input: {
	  kind: CUSTODY, prisonId: "PRS-BRNO-VV", start: "2026-10-30", responsibleAuthority: {kind: POLICE, name: "KŘP Jihomoravského kraje"}}) { id start } }`
	a := env.As(PS, admit, map[string]any{"k": "retry-admit-1", "p": testenv.Purpose(PS)})
	b := env.As(PS, admit, map[string]any{"k": "retry-admit-1", "p": testenv.Purpose(PS)})
	if len(a.Errors) > 0 || a.Raw != b.Raw {
		t.Fatalf("a retried admission must return the first result, not CONFLICT:\n%s\n%s", a.Raw, b.Raw)
	}
	wantCode(t, env.As(PS, admit, map[string]any{"k": "retry-admit-2", "p": testenv.Purpose(PS)}), "CONFLICT")
}

func TestConvictionLifecycle(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	const record = `mutation($in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
	  recordConviction(personId: "P-000005", input: $in, idempotencyKey: $k, purpose: $p) { id expunged sentences { id kind status } rehabilitation { earliestDate rule blockedBy } } }`
	in := map[string]any{"court": "Okresný súd Košice I", "caseReference": "3 T 17/2025", "decisionDate": "2025-02-10", "finalDate": "2025-03-01",
		"offences":  []any{map[string]any{"legalProvision": "§ 212 ods. 1 TZ SK", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true, "committedOn": "2024-11-02"}},
		"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "500.00", "currency": "EUR"}, "status": "SERVED", "startDate": "2025-03-01", "endDate": "2025-04-01"}}}
	c := env.MustData(C, record, map[string]any{"in": in, "k": "conviction-horvath-1", "p": testenv.Purpose(C)})["recordConviction"].(map[string]any)
	expect(t, "recorded", c, map[string]any{"expunged": false})
	expect(t, "fine rule", c["rehabilitation"], map[string]any{"earliestDate": "2026-04-01"})
	id := c["id"].(string)

	missing := in["sentences"].([]any)[0].(map[string]any)
	delete(missing, "amount")
	r := env.As(C, record, map[string]any{"in": in, "k": "conviction-horvath-2", "p": testenv.Purpose(C)})
	wantCode(t, r, "BAD_USER_INPUT")
	expectEq(t, "field", r.Errors[0].Extensions["field"], "input.sentences[0].amount")

	const convictions = `query($p: PurposeInput!, $c: Boolean) { person(id: "P-000005", purpose: $p) { convictions(includeExpunged: $c) { id expunged expungedOn } } }`
	ids := func(copy bool) []string {
		var out []string
		for _, x := range testenv.Path(env.MustData(RG, convictions, map[string]any{"p": registrarPurpose(), "c": copy}), "person", "convictions").([]any) {
			out = append(out, testenv.Path(x, "id").(string))
		}
		return out
	}
	if !contains2(ids(false), id) {
		t.Fatalf("the new conviction is not in the extract")
	}
	const expunge = `mutation($id: ID!, $on: Date!, $k: String!, $p: PurposeInput!) {
	  recordExpungement(personId: "P-000005", convictionId: $id, expungedOn: $on, idempotencyKey: $k, purpose: $p) { id expunged expungedOn } }`
	e := env.MustData(RG, expunge, map[string]any{"id": id, "on": "2026-04-01", "k": "expunge-1", "p": registrarPurpose()})
	expect(t, "expunged", e["recordExpungement"], map[string]any{"expunged": true, "expungedOn": "2026-04-01"})
	if contains2(ids(false), id) || !contains2(ids(true), id) {
		t.Errorf("an expunged conviction leaves the extract and stays in the copy")
	}
	wantCode(t, env.As(RG, expunge, map[string]any{"id": id, "on": "2026-05-01", "k": "expunge-2", "p": registrarPurpose()}), "CONFLICT")
	wantCode(t, env.As(RG, expunge, map[string]any{"id": "C-nope", "on": "2026-04-01", "k": "expunge-3", "p": registrarPurpose()}), "NOT_FOUND")
	wantCode(t, env.As(RG, expunge, map[string]any{"id": id, "on": "2027-01-01", "k": "expunge-4", "p": registrarPurpose()}), "BAD_USER_INPUT")
}

const (
	admitQuery = `mutation($pid: ID!, $in: AdmissionInput!, $k: String!, $p: PurposeInput!) {
	  admitToDetention(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id kind start prison { id } } }`
	transferQuery = `mutation($pid: ID!, $in: TransferInput!, $k: String!, $p: PurposeInput!) {
	  transferDetention(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id start prison { id } } }`
	releaseQuery = `mutation($pid: ID!, $in: ReleaseInput!, $k: String!, $p: PurposeInput!) {
	  releaseFromDetention(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id end releaseReason } }`
	statusQuery = `query($pid: ID!, $p: PurposeInput!) { person(id: $pid, purpose: $p) { detentionStatus { deprivedOfLiberty kind since inPrisonSince prison { id } } detentionHistory { id start end } } }`
)

func custody(prison, start string) map[string]any {
	return map[string]any{"kind": "CUSTODY", "prisonId": prison, "start": start,
		"responsibleAuthority": map[string]any{"kind": "PROSECUTION_OFFICE", "name": "Krajské státní zastupitelství v Brně", "caseReference": "2 KZV 88/2026"}}
}

func TestDetentionMoves(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	ps := testenv.Purpose(PS)
	do := func(q string, in map[string]any, key string) testenv.Response {
		return env.As(PS, q, map[string]any{"pid": seed.NamedDvorakova, "in": in, "k": key, "p": ps})
	}
	status := func() map[string]any {
		return env.MustData(PS, statusQuery, map[string]any{"pid": seed.NamedDvorakova, "p": ps})["person"].(map[string]any)
	}
	wantCode(t, do(transferQuery, map[string]any{"toPrisonId": "PRS-RUZYNE", "date": "2026-10-01"}, "detention-move-0"), "CONFLICT")
	wantCode(t, do(releaseQuery, map[string]any{"date": "2026-10-01", "reason": "CUSTODY_ENDED"}, "detention-move-00"), "CONFLICT")
	wantCode(t, do(admitQuery, custody("PRS-BRNO-VV", "2026-12-01"), "detention-move-1"), "BAD_USER_INPUT")
	wantCode(t, do(admitQuery, custody("PRS-DETENCE-BRNO", "2026-10-01"), "detention-move-2"), "BAD_USER_INPUT")
	wantCode(t, do(admitQuery, custody("PRS-NOWHERE", "2026-10-01"), "detention-move-3"), "BAD_USER_INPUT")
	if r := do(admitQuery, custody("PRS-BRNO-VV", "2026-10-01"), "detention-move-4"); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	expect(t, "admitted", status()["detentionStatus"], map[string]any{"deprivedOfLiberty": true, "kind": "CUSTODY", "since": "2026-10-01"})
	wantCode(t, do(admitQuery, custody("PRS-PANKRAC", "2026-10-20"), "detention-move-5"), "CONFLICT")
	wantCode(t, do(transferQuery, map[string]any{"toPrisonId": "PRS-BRNO-VV", "date": "2026-10-20"}, "detention-move-6"), "BAD_USER_INPUT")
	wantCode(t, do(transferQuery, map[string]any{"toPrisonId": "PRS-PANKRAC", "date": "2026-09-20"}, "detention-move-7"), "BAD_USER_INPUT")
	if r := do(transferQuery, map[string]any{"toPrisonId": "PRS-PANKRAC", "date": "2026-10-20"}, "detention-move-8"); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	st := status()
	expect(t, "transferred", st["detentionStatus"], map[string]any{"since": "2026-10-01", "inPrisonSince": "2026-10-20"})
	expectEq(t, "prison", testenv.Path(st, "detentionStatus", "prison", "id"), "PRS-PANKRAC")
	r := do(releaseQuery, map[string]any{"date": "2026-09-30", "reason": "CUSTODY_ENDED"}, "detention-move-9")
	wantCode(t, r, "BAD_USER_INPUT")
	expectEq(t, "release before admission names the field", r.Errors[0].Extensions["field"], "input.date")
	if r := do(releaseQuery, map[string]any{"date": "2026-10-31", "reason": "CUSTODY_ENDED"}, "detention-move-10"); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	st = status()
	expectEq(t, "released", testenv.Path(st, "detentionStatus", "deprivedOfLiberty"), false)
	expectEq(t, "two periods", len(st["detentionHistory"].([]any)), 2)
}

// TestConcurrentAdmissions sends conflicting admissions of one person at the same moment:
// exactly one succeeds. It runs one server instance: FerretDB v1 does not make a
// version-checked update atomic against a concurrent one, so on the embedded engine the
// instance serialises its writers per record; across instances that guarantee comes from
// MongoDB's single-document atomicity (docs/deployment.md).
func TestConcurrentAdmissions(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	const n = 8
	results := make([]testenv.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			token := env.Token(PS)
			<-start
			results[i] = env.Do(token, admitQuery, map[string]any{"pid": seed.NamedHorvath, "in": custody([]string{"PRS-BRNO-VV", "PRS-PANKRAC"}[i%2], "2026-10-15"),
				"k": fmt.Sprintf("race-admission-%d", i), "p": testenv.Purpose(PS)})
		}(i)
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, r := range results {
		switch {
		case len(r.Errors) == 0:
			ok++
		case r.Errors[0].Code() != "CONFLICT":
			t.Errorf("a losing admission must be CONFLICT: %s", r.Raw)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d conflicting admissions succeeded, want exactly 1", ok, n)
	}
	st := env.MustData(PS, statusQuery, map[string]any{"pid": seed.NamedHorvath, "p": testenv.Purpose(PS)})
	open := 0
	for _, p := range testenv.Path(st, "person", "detentionHistory").([]any) {
		if testenv.Path(p, "end") == nil {
			open++
		}
	}
	if open != 1 {
		t.Errorf("the person has %d open periods, want 1", open)
	}
}

// TestInterruptedWritesLeaveTheRegisterConsistent stops writes half-way — the state a crash
// between two documents leaves — and checks that the register reads consistently and that the
// retry (or a later write) completes.
func TestInterruptedWritesLeaveTheRegisterConsistent(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	ctx := context.Background()
	s := env.Server.Store
	nid := validBirthNumber(300)
	lookup := `query($n: String!, $p: PurposeInput!) { personByNationalId(nationalId: $n, purpose: $p) { id familyName } }`

	// registerPerson stopped after reserving the national ID, before writing the person.
	if err := s.ClaimNationalID(ctx, nid, "P-crashed"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, env.As(PO, lookup, map[string]any{"n": nid, "p": testenv.Purpose(PO)}), "NOT_FOUND")
	created := env.MustData(RG, registerPerson, map[string]any{"in": personInput(nid), "key": "after-crash-1", "p": registrarPurpose()})
	id := testenv.Path(created, "registerPerson", "id")
	expectEq(t, "the reservation is taken over", testenv.Path(env.MustData(PO, lookup, map[string]any{"n": nid, "p": testenv.Purpose(PO)}), "personByNationalId", "id"), id)

	// A write stopped after its idempotency record and audit entry, before the document: the
	// retry with the same key completes it, with the entity ID fixed before the crash.
	in := personInput(validBirthNumber(301))
	args := map[string]any{"in": in, "key": "crash-before-write", "p": registrarPurpose()}
	first := env.MustData(RG, registerPerson, args)
	if _, err := s.ClaimIdempotency(ctx, "demo-registrar", "crash-before-write", "registerPerson", "x", "P-other"); err == nil {
		t.Fatalf("the key's record must refuse different input")
	}
	expectEq(t, "retry returns the same person", testenv.Path(env.MustData(RG, registerPerson, args), "registerPerson", "id"), testenv.Path(first, "registerPerson", "id"))

	// updatePerson stopped after reserving the new number, before changing the person: the new
	// number does not find the person, the old one still does.
	nid2 := validBirthNumber(302)
	if err := s.ClaimNationalID(ctx, nid2, id.(string)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, env.As(PO, lookup, map[string]any{"n": nid2, "p": testenv.Purpose(PO)}), "NOT_FOUND")
	expectEq(t, "old number still valid", testenv.Path(env.MustData(PO, lookup, map[string]any{"n": nid, "p": testenv.Purpose(PO)}), "personByNationalId", "id"), id)

	// The audit chain stays valid through all of it.
	report := env.MustData(AU, verifyQuery, nil)["verifyAuditChain"].(map[string]any)
	if report["valid"] != true {
		t.Errorf("audit chain: %v", report)
	}
	var _ = store.AuditID
}

func TestUpsertPrison(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	const upsert = `mutation($in: PrisonInput!, $k: String!) { upsertPrison(input: $in, idempotencyKey: $k) { id name version address { city } } }`
	in := map[string]any{"name": "Věznice Jihlava", "kind": "PRISON", "address": map[string]any{"street": "Hradební 1", "city": "Jihlava", "postalCode": "586 01", "country": "CZ"}}
	created := env.MustData(PS, upsert, map[string]any{"in": in, "k": "prison-jihlava-1"})["upsertPrison"].(map[string]any)
	expect(t, "created", created, map[string]any{"version": 1.0, "name": "Věznice Jihlava"})
	in["id"], in["version"], in["name"] = created["id"], 1, "Věznice Jihlava (nová budova)"
	updated := env.MustData(RG, upsert, map[string]any{"in": in, "k": "prison-jihlava-2"})["upsertPrison"].(map[string]any)
	expect(t, "updated", updated, map[string]any{"version": 2.0, "name": "Věznice Jihlava (nová budova)"})
	wantCode(t, env.As(PS, upsert, map[string]any{"in": in, "k": "prison-jihlava-3"}), "CONFLICT")
	in["address"] = map[string]any{"street": "Hradební 1", "city": "Jihlava", "postalCode": "586 01", "country": "XX"}
	wantCode(t, env.As(PS, upsert, map[string]any{"in": in, "k": "prison-jihlava-4"}), "BAD_USER_INPUT")
}

func TestRecipientsToNotify(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	card := `query($p: PurposeInput!) { person(id: "P-000003", purpose: $p) { familyName } }`
	env.MustData(PO, card, map[string]any{"p": testenv.Purpose(PO)})
	env.MustData(PO, card, map[string]any{"p": testenv.Purpose(PO)})
	env.MustData(C, card, map[string]any{"p": testenv.Purpose(C)})
	env.MustData(PO, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`, map[string]any{"p": testenv.Purpose(PO)})
	const q = `query($since: DateTime!, $p: PurposeInput!) { recipientsToNotify(personId: "P-000003", since: $since, purpose: $p) { agency roles disclosures } }`
	type recipients struct {
		RecipientsToNotify []struct {
			Agency      string
			Disclosures int
		}
	}
	list := testenv.DataAs[recipients](t, env.As(RG, q, map[string]any{"since": "2026-01-01T00:00:00Z", "p": registrarPurpose()})).RecipientsToNotify
	got := map[string]int{}
	for _, r := range list {
		got[r.Agency] = r.Disclosures
	}
	if got["Policie České republiky"] != 2 || got["Městský soud v Praze"] != 1 || len(got) != 2 {
		t.Errorf("recipients of Svoboda's data: %v", got)
	}
	if later := testenv.DataAs[recipients](t, env.As(RG, q, map[string]any{"since": "2030-01-01T00:00:00Z", "p": registrarPurpose()})).RecipientsToNotify; len(later) != 0 {
		t.Errorf("since bounds the recipients: %v", later)
	}
	// The auditor reads them too, with a purpose of its own; every other role is refused
	// (a court must not learn which police bodies looked the person up).
	if a := testenv.DataAs[recipients](t, env.As(AU, q, map[string]any{"since": "2026-01-01T00:00:00Z", "p": testenv.Purpose(AU)})).RecipientsToNotify; len(a) < 2 {
		t.Errorf("auditor reads the recipients: %v", a)
	}
	for _, role := range []model.Role{C, PR, PO, RE, PS} {
		assertForbidden(t, env.As(role, q, map[string]any{"since": "2026-01-01T00:00:00Z", "p": testenv.Purpose(role)}))
	}
	// The purpose is required and must be one the grant allows.
	noPurpose := `query { recipientsToNotify(personId: "P-000003", since: "2026-01-01T00:00:00Z") { agency } }`
	wantCode(t, env.As(RG, noPurpose, nil), "PURPOSE_REQUIRED")
	wantCode(t, env.As(AU, q, map[string]any{"since": "2026-01-01T00:00:00Z", "p": registrarPurpose()}), "FORBIDDEN")
	// The read is audited with its purpose and the person.
	entries := testenv.DataAs[struct {
		AuditTrail struct {
			Edges []struct {
				Node struct {
					Role      string
					PersonIDs []string
					Purpose   *struct{ Reason string }
				}
			}
		}
	}](t, env.As(AU, `{ auditTrail(filter: {personId: "P-000003"}, first: 50) { edges { node { role personIds purpose { reason } } } } }`, nil)).AuditTrail.Edges
	audited := false
	for _, e := range entries {
		if e.Node.Role == "REGISTRAR" && e.Node.Purpose != nil && e.Node.Purpose.Reason == "REGISTER_MAINTENANCE" {
			audited = true
		}
	}
	if !audited {
		t.Errorf("recipientsToNotify is not in the audit trail with its purpose and person: %+v", entries)
	}
}
