package app_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// correctionAnswer is what the correction mutations answer, as the register office reads it.
type correctionAnswer struct {
	CorrectionID       string
	RecipientsToNotify []struct{ Agency string }
	Conviction         *struct {
		ID, Court, CaseReference string
		Expunged                 bool
		ExpungedOn               *string
		Offences                 []struct{ ID, Description string }
	}
	Sentence        *struct{ ID, Status, EndDate string }
	DetentionPeriod *struct{ ID, Start, End string }
	Person          *struct {
		FamilyName string
		Version    int
	}
}

type correctionRecord struct {
	ID, Action, PersonID, Item, ItemID, Reason, Subject, Agency, Role string
	Changes                                                           []struct {
		Field         string
		Before, After *string
	}
	PreviousVersion    *string
	RecipientsToNotify []struct{ Agency string }
}

const correctionsQuery = `query($id: ID!, $p: PurposeInput!) { corrections(personId: $id, purpose: $p) {
  id action personId item itemId reason subject agency role changes { field before after } previousVersion recipientsToNotify { agency } } }`

func corrections(t *testing.T, env *testenv.Env, role model.Role, personID string, purpose map[string]any) []correctionRecord {
	t.Helper()
	return testenv.DataAs[struct{ Corrections []correctionRecord }](t, env.As(role, correctionsQuery, map[string]any{"id": personID, "p": purpose})).Corrections
}

// answer runs a correction mutation whose root field is name and decodes its answer.
func answer(t *testing.T, env *testenv.Env, role model.Role, name, query string, vars map[string]any) correctionAnswer {
	t.Helper()
	out := testenv.DataAs[map[string]correctionAnswer](t, env.As(role, query, vars))
	return out[name]
}

const correctConvictionMutation = `mutation($pid: ID!, $cid: ID!, $in: ConvictionCorrectionInput!, $r: String!, $k: String!, $p: PurposeInput!) {
  correctConviction(personId: $pid, convictionId: $cid, input: $in, reason: $r, idempotencyKey: $k, purpose: $p) {
    correctionId conviction { id court caseReference expunged expungedOn offences { id description } } } }`

// TestCorrectionsKeepThePreviousVersionAndNameTheRecipients corrects each kind of item: the
// answer carries the corrected item and (for the register office) the agencies to tell; the
// correction record keeps the previous version and each changed field, readable by the
// register office and auditors — never by the court that made the correction.
func TestCorrectionsKeepThePreviousVersionAndNameTheRecipients(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	// Police and the prison service read Novák's record: they are the recipients to tell.
	env.MustData(PO, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`, map[string]any{"p": testenv.Purpose(PO)})
	env.MustData(PS, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`, map[string]any{"p": testenv.Purpose(PS)})

	// A court corrects the case reference; the court does not learn the recipients.
	convIn := map[string]any{"court": "Obvodní soud pro Prahu 4", "caseReference": "3 T 87/2014-A", "decisionDate": "2014-11-20", "finalDate": "2015-01-12"}
	vars := map[string]any{"pid": seed.NamedNovak, "cid": "C-000001-1", "in": convIn, "r": "Chybně opsaná spisová značka", "k": "correct-conv-1", "p": testenv.Purpose(C)}
	got := answer(t, env, C, "correctConviction", correctConvictionMutation, vars)
	if got.Conviction == nil || got.Conviction.CaseReference != "3 T 87/2014-A" || got.CorrectionID == "" {
		t.Fatalf("corrected conviction: %+v", got)
	}
	withRecipients := strings.Replace(correctConvictionMutation, "correctionId", "correctionId recipientsToNotify { agency }", 1)
	assertForbidden(t, env.As(C, withRecipients, vars))
	// A retry returns the first answer.
	if again := answer(t, env, C, "correctConviction", correctConvictionMutation, vars); again.CorrectionID != got.CorrectionID {
		t.Errorf("a retry made a second correction: %s then %s", got.CorrectionID, again.CorrectionID)
	}
	// Everyone who reads the conviction reads the corrected value.
	card := testenv.DataAs[novak](t, env.As(PO, novakCard, map[string]any{"p": testenv.Purpose(PO)}))
	expectEq(t, "corrected case reference through the period", card.Person.DetentionHistory[1].Sentence.Conviction.CaseReference, "3 T 87/2014-A")

	// The register office corrects an offence, a sentence, a period and the person.
	offence := answer(t, env, RG, "correctOffence", `mutation($in: OffenceInput!, $p: PurposeInput!) {
	  correctOffence(personId: "P-000001", offenceId: "O-000001-1-1", input: $in, reason: "Skutková podstata opravena", idempotencyKey: "correct-off-1", purpose: $p) {
	    correctionId recipientsToNotify { agency } conviction { id offences { id description } } } }`,
		map[string]any{"p": registrarPurpose(), "in": map[string]any{"legalProvision": "§ 173 odst. 1 TZ", "description": "loupež se zbraní", "category": "0803 00",
			"completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true, "committedOn": "2014-03-08"}})
	if offence.Conviction == nil || offence.Conviction.Offences[0].Description != "loupež se zbraní" || offence.Conviction.Offences[0].ID != "O-000001-1-1" {
		t.Errorf("corrected offence: %+v", offence)
	}
	agencies := func(a correctionAnswer) []string {
		var out []string
		for _, r := range a.RecipientsToNotify {
			out = append(out, r.Agency)
		}
		return out
	}
	for _, want := range []string{"Policie České republiky", "Vězeňská služba České republiky"} {
		if !slices.Contains(agencies(offence), want) {
			t.Errorf("recipients to notify %v lack %s", agencies(offence), want)
		}
	}
	sentence := answer(t, env, RG, "correctSentence", `mutation($in: SentenceInput!, $p: PurposeInput!) {
	  correctSentence(personId: "P-000001", sentenceId: "S-000001-1-1", input: $in, reason: "Konec trestu opraven", idempotencyKey: "correct-sen-1", purpose: $p) {
	    correctionId sentence { id status endDate } } }`,
		map[string]any{"p": registrarPurpose(), "in": map[string]any{"kind": "IMPRISONMENT", "durationMonths": 48, "startDate": "2015-02-01", "endDate": "2019-01-31", "status": "SERVED"}})
	if sentence.Sentence == nil || sentence.Sentence.EndDate != "2019-01-31" {
		t.Errorf("corrected sentence: %+v", sentence)
	}
	period := answer(t, env, PS, "correctDetentionPeriod", `mutation($in: DetentionPeriodCorrectionInput!, $p: PurposeInput!) {
	  correctDetentionPeriod(personId: "P-000001", periodId: "D-000001-2", input: $in, reason: "Datum propuštění opraveno", idempotencyKey: "correct-per-1", purpose: $p) {
	    correctionId detentionPeriod { id start end } } }`,
		map[string]any{"p": testenv.Purpose(PS), "in": map[string]any{"kind": "IMPRISONMENT", "prisonId": "PRS-MIROV", "start": "2017-06-15", "end": "2019-01-31",
			"releaseReason": "SENTENCE_SERVED", "sentenceId": "S-000001-1-1", "expectedRelease": "2019-02-01",
			"responsibleAuthority": map[string]any{"kind": "COURT", "name": "Obvodní soud pro Prahu 4", "caseReference": "3 T 87/2014"}}})
	if period.DetentionPeriod == nil || period.DetentionPeriod.End != "2019-01-31" {
		t.Errorf("corrected period: %+v", period)
	}
	version := testenv.DataAs[struct{ Person struct{ Version int } }](t, env.As(RG, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { version } }`, map[string]any{"p": registrarPurpose()})).Person.Version
	in := map[string]any{"givenNames": "Jan", "familyName": "Nowak", "dateOfBirth": "1980-01-15", "sex": "MALE", "nationalities": []string{"CZ"},
		"nationalId": "800115/2346", "placeOfBirth": map[string]any{"city": "Praha", "country": "CZ"},
		"residence": map[string]any{"street": "Husova 12", "city": "Praha 1", "postalCode": "110 00", "country": "CZ"}}
	person := answer(t, env, RG, "correctPerson", `mutation($v: Int!, $in: PersonInput!, $p: PurposeInput!) {
	  correctPerson(id: "P-000001", version: $v, input: $in, reason: "Příjmení dle matriky", idempotencyKey: "correct-per-son-1", purpose: $p) {
	    correctionId person { familyName version } } }`, map[string]any{"v": version, "in": in, "p": registrarPurpose()})
	if person.Person == nil || person.Person.FamilyName != "Nowak" || person.Person.Version != version+1 {
		t.Errorf("corrected person: %+v", person)
	}
	// The corrected name is searchable (search keys follow the correction).
	if ids := searchIDs(t, env, map[string]any{"familyName": "nowak", "dateOfBirth": "1980-01-15"}); !slices.Contains(ids, seed.NamedNovak) {
		t.Errorf("search by the corrected name: %v", ids)
	}

	// The register office and the auditor read every correction with its previous version; the
	// auditor still reads no person data.
	for _, reader := range []struct {
		role    model.Role
		purpose map[string]any
	}{{RG, registrarPurpose()}, {AU, testenv.Purpose(AU)}} {
		list := corrections(t, env, reader.role, seed.NamedNovak, reader.purpose)
		if len(list) != 5 {
			t.Fatalf("%s reads %d corrections, want 5: %+v", reader.role, len(list), list)
		}
		byItem := map[string]correctionRecord{}
		for _, c := range list {
			byItem[c.Item] = c
			if c.Action != "CORRECTED" || c.PersonID != seed.NamedNovak || c.PreviousVersion == nil || len(c.RecipientsToNotify) == 0 {
				t.Errorf("incomplete correction record: %+v", c)
			}
		}
		conv := byItem["CONVICTION"]
		expect(t, "conviction correction", map[string]any{"itemId": conv.ItemID, "role": conv.Role, "reason": conv.Reason},
			map[string]any{"itemId": "C-000001-1", "role": "COURT", "reason": "Chybně opsaná spisová značka"})
		if len(conv.Changes) != 1 || conv.Changes[0].Field != "caseReference" || *conv.Changes[0].Before != `"3 T 87/2014"` || *conv.Changes[0].After != `"3 T 87/2014-A"` {
			t.Errorf("conviction changes: %+v", conv.Changes)
		}
		var prev map[string]any
		if err := json.Unmarshal([]byte(*conv.PreviousVersion), &prev); err != nil || prev["caseReference"] != "3 T 87/2014" || prev["offences"] == nil {
			t.Errorf("previous version of the conviction: %v %v", *conv.PreviousVersion, err)
		}
		per := byItem["PERSON"]
		if len(per.Changes) == 0 || !strings.Contains(*per.PreviousVersion, `"familyName":"Novák"`) || strings.Contains(*per.PreviousVersion, "search") {
			t.Errorf("person correction: %+v", per)
		}
	}
	assertForbidden(t, env.As(AU, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`, map[string]any{"p": testenv.Purpose(AU)}))
	for _, role := range []model.Role{C, PR, PO, RE, PS} {
		assertForbidden(t, env.As(role, correctionsQuery, map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(role)}))
	}
}

// TestCorrectionOfAWronglyRecordedExpungement undoes an expungement through correctConviction
// (issue 12 point 2): the conviction returns to the extract.
func TestCorrectionOfAWronglyRecordedExpungement(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	extract := func() []string {
		r := testenv.DataAs[struct {
			Person struct{ Convictions []struct{ ID string } }
		}](t,
			env.As(PO, `query($p: PurposeInput!) { person(id: "P-000002", purpose: $p) { convictions { id } } }`, map[string]any{"p": testenv.Purpose(PO)}))
		var ids []string
		for _, c := range r.Person.Convictions {
			ids = append(ids, c.ID)
		}
		return ids
	}
	if slices.Contains(extract(), "C-000002-1") {
		t.Fatal("the expunged conviction should not be in the extract before the correction")
	}
	in := map[string]any{"court": "Městský soud v Brně", "caseReference": "12 T 140/2010", "decisionDate": "2010-04-14", "finalDate": "2010-05-03"}
	base := map[string]any{"pid": seed.NamedDvorakova, "cid": "C-000002-1", "r": "Zahlazení zapsáno k nesprávnému odsouzení", "p": testenv.Purpose(C)}
	with := func(k string, in map[string]any) map[string]any {
		v := map[string]any{"k": k, "in": in}
		for key, val := range base {
			v[key] = val
		}
		return v
	}
	// A correction to a later day keeps it expunged; one that sets expungedOn on an unexpunged
	// conviction is refused (that is recordExpungement's); one that changes nothing too.
	later := map[string]any{"expungedOn": "2012-01-31"}
	for k, v := range in {
		later[k] = v
	}
	got := answer(t, env, C, "correctConviction", correctConvictionMutation, with("exp-corr-1", later))
	if got.Conviction == nil || !got.Conviction.Expunged || got.Conviction.ExpungedOn == nil || *got.Conviction.ExpungedOn != "2012-01-31" {
		t.Fatalf("expungement day corrected: %+v", got.Conviction)
	}
	r := env.As(C, correctConvictionMutation, with("exp-corr-2", later))
	wantCode(t, r, "BAD_USER_INPUT")
	expectEq(t, "nothing changed names the input", r.Errors[0].Extensions["field"], "input")

	got = answer(t, env, C, "correctConviction", correctConvictionMutation, with("exp-corr-3", in))
	if got.Conviction == nil || got.Conviction.Expunged || got.Conviction.ExpungedOn != nil {
		t.Fatalf("expungement undone: %+v", got.Conviction)
	}
	if !slices.Contains(extract(), "C-000002-1") {
		t.Errorf("after the correction the conviction is in the extract again: %v", extract())
	}
	r = env.As(C, correctConvictionMutation, with("exp-corr-4", later))
	wantCode(t, r, "BAD_USER_INPUT")
	expectEq(t, "field named", r.Errors[0].Extensions["field"], "input.expungedOn")
}

// TestCorrectionsRefuseBadInputAndOtherRoles tries every correction mutation with every role
// and with bad input.
func TestCorrectionsRefuseBadInputAndOtherRoles(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	sentenceIn := map[string]any{"kind": "IMPRISONMENT", "durationMonths": 48, "startDate": "2015-02-01", "endDate": "2019-02-02", "status": "SERVED"}
	mutations := []struct {
		name    string
		query   string
		vars    map[string]any
		writers []model.Role
	}{
		{"correctConviction", correctConvictionMutation, map[string]any{"pid": seed.NamedNovak, "cid": "C-000001-1", "r": "Oprava",
			"in": map[string]any{"court": "Obvodní soud pro Prahu 5", "caseReference": "3 T 87/2014", "decisionDate": "2014-11-20", "finalDate": "2015-01-12"}}, []model.Role{C, RG}},
		{"correctSentence", `mutation($in: SentenceInput!, $k: String!, $p: PurposeInput!) { correctSentence(personId: "P-000001", sentenceId: "S-000001-1-1", input: $in, reason: "Oprava", idempotencyKey: $k, purpose: $p) { correctionId } }`,
			map[string]any{"in": sentenceIn}, []model.Role{C, RG}},
		{"correctDetentionPeriod", `mutation($k: String!, $p: PurposeInput!) { correctDetentionPeriod(personId: "P-000001", periodId: "D-000001-1", reason: "Oprava", idempotencyKey: $k, purpose: $p,
			input: {kind: IMPRISONMENT, prisonId: "PRS-BORY", start: "2015-02-02", end: "2017-06-15", releaseReason: TRANSFER, sentenceId: "S-000001-1-1"}) { correctionId } }`,
			map[string]any{}, []model.Role{PS, RG}},
		{"correctPerson", `mutation($k: String!, $p: PurposeInput!) { correctPerson(id: "P-000004", version: 1, reason: "Oprava", idempotencyKey: $k, purpose: $p,
			input: {givenNames: "Ana", familyName: "Ferreira da Silva", dateOfBirth: "1988-11-11", sex: FEMALE, nationalities: ["PT"]}) { correctionId } }`,
			map[string]any{}, []model.Role{RG}},
	}
	for _, m := range mutations {
		for _, role := range everyone {
			t.Run(m.name+"/"+string(role), func(t *testing.T) {
				vars := map[string]any{"k": m.name + "-" + string(role), "p": testenv.Purpose(role)}
				for k, v := range m.vars {
					vars[k] = v
				}
				r := env.As(role, m.query, vars)
				if !slices.Contains(m.writers, role) {
					assertForbidden(t, r)
					return
				}
				if len(r.Errors) > 0 && r.Errors[0].Code() != "BAD_USER_INPUT" { // a second writer's identical correction changes nothing
					t.Fatalf("%s may correct: %s", role, r.Raw)
				}
			})
		}
	}
	bad := []struct {
		name, query string
		vars        map[string]any
		code, field string
	}{
		{"empty reason", correctConvictionMutation, map[string]any{"pid": seed.NamedNovak, "cid": "C-000001-1", "r": " ",
			"in": map[string]any{"court": "X", "caseReference": "3 T 87/2014", "decisionDate": "2014-11-20", "finalDate": "2015-01-12"}}, "BAD_USER_INPUT", "reason"},
		{"final before decision", correctConvictionMutation, map[string]any{"pid": seed.NamedNovak, "cid": "C-000001-1", "r": "Oprava",
			"in": map[string]any{"court": "X", "caseReference": "3 T 87/2014", "decisionDate": "2014-11-20", "finalDate": "2014-01-12"}}, "BAD_USER_INPUT", "input.finalDate"},
		{"unknown conviction", correctConvictionMutation, map[string]any{"pid": seed.NamedNovak, "cid": "C-nope", "r": "Oprava",
			"in": map[string]any{"court": "X", "caseReference": "3 T 87/2014", "decisionDate": "2014-11-20", "finalDate": "2015-01-12"}}, "NOT_FOUND", ""},
		{"unknown person", correctConvictionMutation, map[string]any{"pid": "P-999999", "cid": "C-000001-1", "r": "Oprava",
			"in": map[string]any{"court": "X", "caseReference": "3 T 87/2014", "decisionDate": "2014-11-20", "finalDate": "2015-01-12"}}, "NOT_FOUND", ""},
		{"overlapping period", `mutation($k: String!, $p: PurposeInput!) { correctDetentionPeriod(personId: "P-000001", periodId: "D-000001-1", reason: "Oprava", idempotencyKey: $k, purpose: $p,
			input: {kind: IMPRISONMENT, prisonId: "PRS-BORY", start: "2015-02-01", end: "2018-01-01", releaseReason: TRANSFER, sentenceId: "S-000001-1-1"}) { correctionId } }`,
			map[string]any{}, "CONFLICT", ""},
		{"ended without reason", `mutation($k: String!, $p: PurposeInput!) { correctDetentionPeriod(personId: "P-000001", periodId: "D-000001-1", reason: "Oprava", idempotencyKey: $k, purpose: $p,
			input: {kind: IMPRISONMENT, prisonId: "PRS-BORY", start: "2015-02-01", end: "2017-06-15", sentenceId: "S-000001-1-1"}) { correctionId } }`,
			map[string]any{}, "BAD_USER_INPUT", "input.releaseReason"},
		{"unknown offence", `mutation($k: String!, $p: PurposeInput!) { correctOffence(personId: "P-000001", offenceId: "O-000001-1-9", reason: "Oprava", idempotencyKey: $k, purpose: $p,
			input: {legalProvision: "§ 173 TZ", description: "loupež", category: "0803 00", completion: COMPLETED, participation: PERPETRATOR, intentional: true}) { correctionId } }`,
			map[string]any{}, "NOT_FOUND", ""},
		{"bad offence category", `mutation($k: String!, $p: PurposeInput!) { correctOffence(personId: "P-000001", offenceId: "O-000001-1-1", reason: "Oprava", idempotencyKey: $k, purpose: $p,
			input: {legalProvision: "§ 173 TZ", description: "loupež", category: "08", completion: COMPLETED, participation: PERPETRATOR, intentional: true}) { correctionId } }`,
			map[string]any{}, "BAD_USER_INPUT", "input.category"},
		{"stale person version", `mutation($k: String!, $p: PurposeInput!) { correctPerson(id: "P-000004", version: 99, reason: "Oprava", idempotencyKey: $k, purpose: $p,
			input: {givenNames: "Ana", familyName: "Ferreira", dateOfBirth: "1988-11-11", sex: FEMALE, nationalities: ["PT"]}) { correctionId } }`,
			map[string]any{}, "CONFLICT", ""},
	}
	for i, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			vars := map[string]any{"k": "bad-correction-" + string(rune('a'+i)), "p": registrarPurpose()}
			for k, v := range b.vars {
				vars[k] = v
			}
			r := env.As(RG, b.query, vars)
			wantCode(t, r, b.code)
			if b.field != "" {
				expectEq(t, "field named", r.Errors[0].Extensions["field"], b.field)
			}
		})
	}
	// Nothing of the refused corrections was written: Novák has exactly the court's conviction
	// and sentence corrections and the prison service's period correction (the register
	// office's identical ones changed nothing).
	var got []string
	for _, c := range corrections(t, env, RG, seed.NamedNovak, registrarPurpose()) {
		got = append(got, c.Item+"/"+c.Role)
	}
	slices.Sort(got)
	expectEq(t, "corrections written", strings.Join(got, " "), "CONVICTION/COURT DETENTION_PERIOD/PRISON_SERVICE SENTENCE/COURT")
}

// TestCorrectedSentenceSettlesTheConviction corrects a wrongly recorded sentence status: the
// suspended sentence's probation was in fact found completed, so the person is deemed not
// convicted and the conviction leaves the extract (and the status steps follow the correction).
func TestCorrectedSentenceSettlesTheConviction(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	type conviction struct {
		ID                 string
		DeemedNotConvicted bool
		Sentences          []struct {
			ID, Status  string
			Version     int
			Transitions []struct{ Status string }
		}
	}
	type convictions struct {
		Person struct{ Convictions []conviction }
	}
	read := func(role model.Role, copy bool) convictions {
		arg := ""
		if copy {
			arg = "(includeExpunged: true)"
		}
		return testenv.DataAs[convictions](t, env.As(role, `query($p: PurposeInput!) { person(id: "P-000002", purpose: $p) { convictions`+arg+` {
		  id deemedNotConvicted sentences { id status version transitions { status } } } } }`, map[string]any{"p": testenv.Purpose(role)}))
	}
	has := func(c convictions, id string) bool {
		return slices.ContainsFunc(c.Person.Convictions, func(x conviction) bool { return x.ID == id })
	}
	if !has(read(PO, false), "C-000002-2") {
		t.Skip("the demo register no longer has Dvořáková's 2024 conviction in the extract")
	}
	before := read(C, true)
	in := map[string]any{"kind": "SUSPENDED_IMPRISONMENT", "durationMonths": 12, "probationMonths": 36, "startDate": "2024-04-20", "endDate": "2026-10-20", "status": "PROBATION_COMPLETED"}
	got := answer(t, env, C, "correctSentence", `mutation($in: SentenceInput!, $p: PurposeInput!) {
	  correctSentence(personId: "P-000002", sentenceId: "S-000002-2-1", input: $in, reason: "Soud shledal zkušební dobu osvědčenou", idempotencyKey: "settle-1", purpose: $p) {
	    correctionId sentence { id status endDate } } }`, map[string]any{"in": in, "p": testenv.Purpose(C)})
	if got.Sentence == nil || got.Sentence.Status != "PROBATION_COMPLETED" {
		t.Fatalf("corrected sentence: %+v", got)
	}
	if has(read(PO, false), "C-000002-2") {
		t.Error("a conviction deemed not convicted after the correction is still in the extract")
	}
	after := read(C, true)
	for _, c := range after.Person.Convictions {
		if c.ID != "C-000002-2" {
			continue
		}
		if !c.DeemedNotConvicted {
			t.Errorf("the conviction should be deemed not convicted: %+v", c)
		}
		s := c.Sentences[0]
		var old int
		for _, b := range before.Person.Convictions {
			if b.ID == c.ID {
				old = b.Sentences[0].Version
			}
		}
		if s.Version != old+1 || len(s.Transitions) == 0 || s.Transitions[len(s.Transitions)-1].Status != "PROBATION_COMPLETED" {
			t.Errorf("the sentence's version and steps should follow the correction: %+v (was version %d)", s, old)
		}
	}
}
