package app_test

import (
	"slices"
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

const blockMutation = `mutation($in: BlockInput!, $k: String!, $p: PurposeInput!) {
  blockRecord(input: $in, idempotencyKey: $k, purpose: $p) { correctionId recipientsToNotify { agency } } }`

const unblockMutation = `mutation($in: BlockInput!, $k: String!, $p: PurposeInput!) {
  unblockRecord(input: $in, idempotencyKey: $k, purpose: $p) { correctionId } }`

// block blocks or unblocks as the register office and returns the correction's ID.
func block(t *testing.T, env *testenv.Env, on bool, key, personID string, item model.RecordItemKind, itemID string) string {
	t.Helper()
	in := map[string]any{"personId": personID, "item": string(item), "reason": "Spor o správnost údajů (§65b)"}
	if itemID != "" {
		in["itemId"] = itemID
	}
	vars := map[string]any{"in": in, "k": key, "p": registrarPurpose()}
	if on {
		return testenv.DataAs[struct{ BlockRecord struct{ CorrectionID string } }](t, env.As(RG, blockMutation, vars)).BlockRecord.CorrectionID
	}
	return testenv.DataAs[struct{ UnblockRecord struct{ CorrectionID string } }](t, env.As(RG, unblockMutation, vars)).UnblockRecord.CorrectionID
}

// TestBlockedPersonReadsAsAbsent blocks a whole record: every role but the register office
// reads the person as absent on every path — by ID, by national ID, by search, and as the
// target of a write — until it is unblocked.
func TestBlockedPersonReadsAsAbsent(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	id := seed.NamedDvorakova // in the REINTEGRATION caseload, so every role can read her first
	byID := `query($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { id } }`
	byNationalID := `query($p: PurposeInput!) { personByNationalId(nationalId: "755630/4129", purpose: $p) { id } }`
	search := `query($p: PurposeInput!) { searchPersons(filter: {familyName: "dvorakova", dateOfBirth: "1975-06-30"}, purpose: $p) { edges { node { id } } } }`
	type searchResult struct {
		SearchPersons struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	found := func(role model.Role) bool {
		t.Helper()
		r := testenv.DataAs[searchResult](t, env.As(role, search, map[string]any{"p": testenv.Purpose(role)}))
		return len(r.SearchPersons.Edges) == 1 && r.SearchPersons.Edges[0].Node.ID == id
	}
	for _, role := range personReaders {
		if !found(role) {
			t.Fatalf("%s does not find the person before the blocking", role)
		}
	}

	blocking := block(t, env, true, "block-dvorakova-1", id, model.RecordItemKindPerson, "")
	if retry := block(t, env, true, "block-dvorakova-1", id, model.RecordItemKindPerson, ""); retry != blocking {
		t.Errorf("a retried blocking answers %s, the first %s", retry, blocking)
	}

	for _, role := range []model.Role{C, PR, PO, RE, PS} {
		t.Run(string(role), func(t *testing.T) {
			vars := map[string]any{"id": id, "p": testenv.Purpose(role)}
			wantCode(t, env.As(role, byID, vars), "NOT_FOUND")
			if role != RE { // REINTEGRATION may not look up national IDs at all
				wantCode(t, env.As(role, byNationalID, vars), "NOT_FOUND")
			}
			if found(role) {
				t.Errorf("%s finds a blocked person by search", role)
			}
		})
	}
	// A writer other than the register office finds no blocked person to write to.
	r := env.As(C, `mutation($p: PurposeInput!) { recordConviction(personId: "`+id+`", idempotencyKey: "conv-on-blocked-1", purpose: $p, input: {
		court: "Městský soud v Brně", caseReference: "1 T 1/2026", decisionDate: "2026-05-04", finalDate: "2026-06-01",
		offences: [{legalProvision: "§ 205 odst. 1 TZ", description: "krádež", category: "0801 00", completion: COMPLETED, participation: PERPETRATOR, intentional: true}],
		sentences: [{kind: FINE, amount: {amount: "5000.00", currency: "CZK"}, status: PENDING}] }) { id } }`, map[string]any{"p": testenv.Purpose(C)})
	wantCode(t, r, "NOT_FOUND")

	// The register office still reads everything, and sees the blocking.
	type blockedPerson struct {
		Person struct {
			ID      string
			Blocked *struct{ Reason, CorrectionID string }
		}
	}
	reg := testenv.DataAs[blockedPerson](t, env.As(RG, `query($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { id blocked { reason correctionId } } }`,
		map[string]any{"id": id, "p": registrarPurpose()}))
	if reg.Person.Blocked == nil || reg.Person.Blocked.CorrectionID != blocking {
		t.Fatalf("the register office should see the blocking: %+v", reg.Person)
	}
	if !found(RG) {
		t.Error("the register office should find a blocked person")
	}
	// An ordinary update by the register office keeps the blocking (and the corrections).
	type updated struct {
		UpdatePerson struct {
			Version int
			Blocked *struct{ CorrectionID string }
		}
	}
	version := testenv.DataAs[struct{ Person struct{ Version int } }](t, env.As(RG, `query($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { version } }`,
		map[string]any{"id": id, "p": registrarPurpose()})).Person.Version
	in := map[string]any{"givenNames": "Marie", "familyName": "Dvořáková", "birthFamilyName": "Králová", "dateOfBirth": "1975-06-30", "sex": "FEMALE",
		"nationalities": []string{"CZ"}, "nationalId": "755630/4129", "residence": map[string]any{"street": "Lipová 10", "city": "Brno", "postalCode": "602 00", "country": "CZ"}}
	up := testenv.DataAs[updated](t, env.As(RG, `mutation($id: ID!, $v: Int!, $in: PersonInput!, $p: PurposeInput!) {
	  updatePerson(id: $id, version: $v, input: $in, idempotencyKey: "update-blocked-1", purpose: $p) { version blocked { correctionId } } }`,
		map[string]any{"id": id, "v": version, "in": in, "p": registrarPurpose()}))
	if up.UpdatePerson.Blocked == nil || up.UpdatePerson.Blocked.CorrectionID != blocking {
		t.Fatalf("an update dropped the blocking: %+v", up.UpdatePerson)
	}
	if list := corrections(t, env, AU, id, testenv.Purpose(AU)); len(list) != 1 || list[0].Action != "BLOCKED" || list[0].ID != blocking {
		t.Errorf("the auditor reads the blocking record after the update: %+v", list)
	}
	wantCode(t, env.As(PO, byID, map[string]any{"id": id, "p": testenv.Purpose(PO)}), "NOT_FOUND")
	// Blocking twice is a CONFLICT naming the state.
	again := env.As(RG, blockMutation, map[string]any{"in": map[string]any{"personId": id, "item": "PERSON", "reason": "znovu"}, "k": "block-dvorakova-2", "p": registrarPurpose()})
	wantCode(t, again, "CONFLICT")
	expectEq(t, "conflict state", again.Errors[0].Extensions["state"], "BLOCKED")

	block(t, env, false, "unblock-dvorakova-1", id, model.RecordItemKindPerson, "")
	for _, role := range personReaders {
		if !found(role) {
			t.Errorf("%s does not find the person after the unblocking", role)
		}
	}
	env.MustData(PO, byID, map[string]any{"id": id, "p": testenv.Purpose(PO)})
	wantCode(t, env.As(RG, unblockMutation, map[string]any{"in": map[string]any{"personId": id, "item": "PERSON", "reason": "znovu"}, "k": "unblock-dvorakova-2", "p": registrarPurpose()}), "CONFLICT")
}

// novakCard reads every path from Jan Novák to his conviction, sentence and detention periods.
const novakCard = `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) {
  convictions { id offences { id } sentences { id conviction { id } } }
  detentionHistory { id sentence { id conviction { id caseReference } } }
} }`

type novak struct{ Person novakPerson }

// seen lists the IDs of conviction, sentences and periods a role reads on every path.
func (n novak) seen() (convictions, sentences, periods []string) {
	for _, c := range n.Person.Convictions {
		convictions = append(convictions, c.ID)
		for _, s := range c.Sentences {
			sentences = append(sentences, s.ID)
			convictions = append(convictions, s.Conviction.ID)
		}
	}
	for _, p := range n.Person.DetentionHistory {
		periods = append(periods, p.ID)
		if p.Sentence != nil {
			sentences = append(sentences, p.Sentence.ID)
			convictions = append(convictions, p.Sentence.Conviction.ID)
		}
	}
	return
}

// TestBlockedItemsAreAbsent blocks one conviction, one sentence and one detention period in
// turn: every role but the register office reads them as absent on every path (the person's
// convictions, Sentence.conviction, DetentionPeriod.sentence, search, the full copy); the
// register office reads them, marked.
func TestBlockedItemsAreAbsent(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	readAs := func(role model.Role) (c, s, p []string) {
		t.Helper()
		return testenv.DataAs[novak](t, env.As(role, novakCard, map[string]any{"p": testenv.Purpose(role)})).seen()
	}
	viaSearch := func(role model.Role) (c, s, p []string) {
		t.Helper()
		copy := "" // the full copy where the role may read it
		if slices.Contains(copyReaders, role) {
			copy = "(includeExpunged: true)"
		}
		q := `query($p: PurposeInput!) { searchPersons(filter: {familyName: "novak", dateOfBirth: "1980-01-15"}, purpose: $p) { edges { node {
		  convictions` + copy + ` { id sentences { id conviction { id } } }
		  detentionHistory { id sentence { id conviction { id } } } } } } }`
		var out novak
		r := testenv.DataAs[struct {
			SearchPersons struct {
				Edges []struct{ Node novakPerson }
			}
		}](t, env.As(role, q, map[string]any{"p": testenv.Purpose(role)}))
		for _, e := range r.SearchPersons.Edges {
			out.Person = e.Node
		}
		return out.seen()
	}
	readers := []model.Role{C, PR, PO} // roles that read convictions and detention history of Novák

	cases := []struct {
		item        model.RecordItemKind
		id          string
		convictions []string // what an outsider still reads while the item is blocked
		sentences   []string
		periods     []string
	}{
		// The periods that executed the conviction's sentence name its court and case
		// reference: they are blocked with it.
		{model.RecordItemKindConviction, "C-000001-1", nil, nil, []string{"D-000001-3"}},
		{model.RecordItemKindSentence, "S-000001-1-1", []string{"C-000001-1"}, nil, []string{"D-000001-3"}},
		{model.RecordItemKindDetentionPeriod, "D-000001-1", []string{"C-000001-1", "C-000001-1", "C-000001-1"}, []string{"S-000001-1-1", "S-000001-1-1"}, []string{"D-000001-3", "D-000001-2"}},
	}
	for i, c := range cases {
		key := string(c.item) + "-" + string(rune('a'+i))
		block(t, env, true, "block-"+key, seed.NamedNovak, c.item, c.id)
		for _, role := range readers {
			conv, sen, per := readAs(role)
			if !slices.Equal(conv, c.convictions) || !slices.Equal(sen, c.sentences) || !slices.Equal(per, c.periods) {
				t.Errorf("%s blocked, %s reads convictions %v sentences %v periods %v", c.id, role, conv, sen, per)
			}
			conv, sen, per = viaSearch(role)
			if slices.Contains(conv, c.id) || slices.Contains(sen, c.id) || slices.Contains(per, c.id) {
				t.Errorf("%s blocked, %s reads it through search (copy): %v %v %v", c.id, role, conv, sen, per)
			}
		}
		// The register office reads everything, the item marked as blocked.
		conv, sen, per := readAs(RG)
		if !slices.Contains(append(append(conv, sen...), per...), c.id) {
			t.Errorf("%s blocked: the register office should still read it: %v %v %v", c.id, conv, sen, per)
		}
		block(t, env, false, "unblock-"+key, seed.NamedNovak, c.item, c.id)
		conv, sen, per = readAs(PO)
		if !slices.Contains(append(append(conv, sen...), per...), c.id) {
			t.Errorf("%s unblocked: police should read it again: %v %v %v", c.id, conv, sen, per)
		}
	}

	// A blocked expunged conviction leaves the full copy too.
	copyIDs := func(role model.Role) []string {
		r := testenv.DataAs[struct {
			Person struct{ Convictions []struct{ ID string } }
		}](t,
			env.As(role, `query($p: PurposeInput!) { person(id: "P-000002", purpose: $p) { convictions(includeExpunged: true) { id } } }`, map[string]any{"p": testenv.Purpose(role)}))
		var ids []string
		for _, c := range r.Person.Convictions {
			ids = append(ids, c.ID)
		}
		return ids
	}
	block(t, env, true, "block-expunged-1", seed.NamedDvorakova, model.RecordItemKindConviction, "C-000002-1")
	for _, role := range []model.Role{C, PR} {
		if ids := copyIDs(role); slices.Contains(ids, "C-000002-1") || !slices.Contains(ids, "C-000002-2") {
			t.Errorf("%s reads the full copy %v with a blocked expunged conviction", role, ids)
		}
	}
	if ids := copyIDs(RG); !slices.Contains(ids, "C-000002-1") {
		t.Errorf("the register office reads the blocked expunged conviction in the copy: %v", ids)
	}

	// A conviction whose sentence is being executed cannot be blocked (its ongoing period
	// would vanish, and the person read as free); nothing is written.
	r := env.As(RG, blockMutation, map[string]any{"in": map[string]any{"personId": seed.NamedSvoboda, "item": "CONVICTION", "itemId": "C-000003-1", "reason": "x"},
		"k": "block-served-1", "p": registrarPurpose()})
	wantCode(t, r, "CONFLICT")
	expectEq(t, "state", r.Errors[0].Extensions["state"], "ONGOING")
	svoboda := testenv.DataAs[struct {
		Person struct {
			Convictions      []struct{ ID string }
			DetentionHistory []struct{ ID string }
		}
	}](t, env.As(PO, `query($p: PurposeInput!) { person(id: "P-000003", purpose: $p) { convictions { id } detentionHistory { id } } }`, map[string]any{"p": testenv.Purpose(PO)}))
	if len(svoboda.Person.Convictions) != 1 || len(svoboda.Person.DetentionHistory) != 2 {
		t.Errorf("a refused blocking changed the record: %+v", svoboda.Person)
	}
	// The register office sees which periods went with a blocked conviction.
	block(t, env, true, "block-via-1", seed.NamedNovak, model.RecordItemKindConviction, "C-000001-1")
	via := testenv.DataAs[struct {
		Person struct {
			DetentionHistory []struct {
				ID      string
				Blocked *struct{ Via *string }
			}
		}
	}](t, env.As(RG, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { detentionHistory { id blocked { via } } } }`, map[string]any{"p": registrarPurpose()}))
	for _, q := range via.Person.DetentionHistory {
		if q.ID != "D-000001-3" && (q.Blocked == nil || q.Blocked.Via == nil || *q.Blocked.Via != "C-000001-1") {
			t.Errorf("period %s should be blocked via the conviction: %+v", q.ID, q.Blocked)
		}
	}
	block(t, env, false, "unblock-via-1", seed.NamedNovak, model.RecordItemKindConviction, "C-000001-1")

	// The register office sees the blocking mark on the item.
	block(t, env, true, "block-mark-1", seed.NamedNovak, model.RecordItemKindSentence, "S-000001-1-1")
	marked := testenv.DataAs[struct {
		Person struct {
			Convictions []struct {
				Sentences []struct {
					ID      string
					Blocked *struct{ Reason string }
				}
			}
		}
	}](t, env.As(RG, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { convictions { sentences { id blocked { reason } } } } }`, map[string]any{"p": registrarPurpose()}))
	if s := marked.Person.Convictions[0].Sentences; len(s) != 1 || s[0].Blocked == nil {
		t.Errorf("the register office should see the sentence marked blocked: %+v", s)
	}
	// The blocked field itself is the register office's only.
	for _, role := range []model.Role{C, PR, PO} {
		assertForbidden(t, env.As(role, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { blocked { reason } } }`, map[string]any{"p": testenv.Purpose(role)}))
	}

	// An ongoing period cannot be blocked (the person would read as free); offences go with
	// their conviction; an item is named.
	bad := []struct {
		in   map[string]any
		code string
		at   string
	}{
		{map[string]any{"personId": seed.NamedNovak, "item": "DETENTION_PERIOD", "itemId": "D-000001-3", "reason": "x"}, "CONFLICT", ""},
		{map[string]any{"personId": seed.NamedNovak, "item": "OFFENCE", "itemId": "O-000001-1-1", "reason": "x"}, "BAD_USER_INPUT", "input.item"},
		{map[string]any{"personId": seed.NamedNovak, "item": "CONVICTION", "reason": "x"}, "BAD_USER_INPUT", "input.itemId"},
		{map[string]any{"personId": seed.NamedNovak, "item": "CONVICTION", "itemId": "C-000001-1", "reason": " "}, "BAD_USER_INPUT", "input.reason"},
		{map[string]any{"personId": seed.NamedNovak, "item": "CONVICTION", "itemId": "C-nope", "reason": "x"}, "NOT_FOUND", ""},
	}
	for i, b := range bad {
		r := env.As(RG, blockMutation, map[string]any{"in": b.in, "k": "bad-block-" + string(rune('a'+i)), "p": registrarPurpose()})
		wantCode(t, r, b.code)
		if b.at != "" {
			expectEq(t, "field named", r.Errors[0].Extensions["field"], b.at)
		}
	}
	// Only the register office blocks.
	for _, role := range []model.Role{C, PR, PO, RE, PS, AU} {
		assertForbidden(t, env.As(role, blockMutation, map[string]any{"in": map[string]any{"personId": seed.NamedNovak, "item": "PERSON", "reason": "x"}, "k": "block-by-" + string(role), "p": testenv.Purpose(role)}))
	}
}

// novakPerson is what novakCard reads of a person.
type novakPerson struct {
	Convictions []struct {
		ID        string
		Offences  []struct{ ID string }
		Sentences []struct {
			ID         string
			Conviction struct{ ID string }
		}
	}
	DetentionHistory []struct {
		ID       string
		Sentence *struct {
			ID         string
			Conviction struct{ ID, CaseReference string }
		}
	}
}
