package app_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// searchPage is the typed result of searchQuery.
type searchPage struct {
	Data struct {
		SearchPersons struct {
			Edges []struct {
				Node struct {
					ID         string `json:"id"`
					FamilyName string `json:"familyName"`
				} `json:"node"`
			} `json:"edges"`
		} `json:"searchPersons"`
	} `json:"data"`
	Errors []testenv.GQLError `json:"errors"`
}

// searchAs runs searchQuery as a role and returns the IDs found.
func searchAs(t *testing.T, env *testenv.Env, role model.Role, filter map[string]any) []string {
	t.Helper()
	r := env.As(role, searchQuery, map[string]any{"filter": filter, "first": 50, "purpose": testenv.Purpose(role)})
	var page searchPage
	if err := json.Unmarshal([]byte(r.Raw), &page); err != nil || len(page.Errors) > 0 {
		t.Fatalf("search as %s: %v %s", role, err, r.Raw)
	}
	ids := []string{}
	for _, e := range page.Data.SearchPersons.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

// TestSearchMatchesOnlyNamesTheRoleMayRead checks DESIGN §4: birth and previous family names
// take part in a search only for roles whose policy lets them read those fields, so a search
// is no oracle for a hidden field. Marie Dvořáková (born Králová) is in the demo REINTEGRATION
// caseload, so only the name rule can hide her from that role.
func TestSearchMatchesOnlyNamesTheRoleMayRead(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	byBirthName := map[string]any{"familyName": "kralova", "dateOfBirth": "1975-06-30"}
	byBirthNameAndGiven := map[string]any{"familyName": "Králová", "givenNames": "marie"}
	byCurrentName := map[string]any{"familyName": "dvorakova", "dateOfBirth": "1975-06-30"}
	cases := []struct {
		role   model.Role
		filter map[string]any
		found  bool
	}{
		{C, byBirthName, true},
		{PR, byBirthName, true},
		{PO, byBirthName, true},
		{PO, byBirthNameAndGiven, true},
		{PS, byBirthName, true},
		{RG, byBirthName, true},
		{RE, byBirthName, false},
		{RE, byBirthNameAndGiven, false},
		{RE, byCurrentName, true},
	}
	for _, c := range cases {
		t.Run(string(c.role), func(t *testing.T) {
			ids := searchAs(t, env, c.role, c.filter)
			if got := slices.Contains(ids, seed.NamedDvorakova); got != c.found {
				t.Errorf("%s searching %v: found Dvořáková = %v, want %v (%v)", c.role, c.filter, got, c.found, ids)
			}
		})
	}
}

// TestSearchKeysSurviveInterruptedWrites stops registrations and renames between their writes —
// after the new search keys, before the person; after the person, before the old keys are
// removed — as a crash would, and checks that every search reads the register as it is: nobody
// is found under a name they do not have, everybody under the names they have, and the retry
// or the next write completes.
func TestSearchKeysSurviveInterruptedWrites(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	s := env.Server.Store
	crash := errors.New("crash")
	stopAfter := func(step string) {
		s.SetInterrupt(func(at string) error {
			if at == step {
				return crash
			}
			return nil
		})
	}
	mala := map[string]any{"familyName": "mala", "dateOfBirth": "1995-03-08"}
	vesela := map[string]any{"familyName": "vesela", "givenNames": "tereza"}
	found := func(what string, filter map[string]any, id string, want bool) {
		t.Helper()
		ids := searchAs(t, env, PO, filter)
		if slices.Contains(ids, id) != want || (id == "" && len(ids) != 0) {
			t.Errorf("%s: search %v found %v; want %s found = %v", what, filter, ids, id, want)
		}
	}

	// Registration stopped after its search keys: the key names a person who does not exist.
	stopAfter(store.StepSearchKeysAdded)
	reg := map[string]any{"in": personInput(validBirthNumber(410)), "key": "crash-register-1", "p": registrarPurpose()}
	wantCode(t, env.As(RG, registerPerson, reg), "INTERNAL")
	found("registration interrupted before the person", mala, "", false)
	s.SetInterrupt(nil)
	id := testenv.Path(env.MustData(RG, registerPerson, reg), "registerPerson", "id").(string)
	found("registration retried", mala, id, true)

	const update = `mutation($id: ID!, $v: Int!, $in: PersonInput!, $key: String!, $p: PurposeInput!) {
	  updatePerson(id: $id, version: $v, input: $in, idempotencyKey: $key, purpose: $p) { version familyName } }`
	renamed := personInput(validBirthNumber(410))
	renamed["familyName"] = "Veselá"

	// Rename stopped after the new keys, before the person: still found only as Malá.
	stopAfter(store.StepSearchKeysAdded)
	wantCode(t, env.As(RG, update, map[string]any{"id": id, "v": 1, "in": renamed, "key": "crash-rename-1", "p": registrarPurpose()}), "INTERNAL")
	found("rename interrupted before the person: old name", mala, id, true)
	found("rename interrupted before the person: new name", vesela, id, false)

	// Rename stopped after the person, before the old keys are removed: found only as Veselá.
	stopAfter(store.StepPersonWritten)
	wantCode(t, env.As(RG, update, map[string]any{"id": id, "v": 1, "in": renamed, "key": "crash-rename-2", "p": registrarPurpose()}), "INTERNAL")
	found("rename interrupted after the person: old name", mala, id, false)
	found("rename interrupted after the person: new name", vesela, id, true)

	// The next write starts from the stored person: back to Malá, and found as Malá again.
	s.SetInterrupt(nil)
	env.MustData(RG, update, map[string]any{"id": id, "v": 2, "in": personInput(validBirthNumber(410)), "key": "rename-back-1", "p": registrarPurpose()})
	found("renamed back: old name", mala, id, true)
	found("renamed back: new name", vesela, id, false)
}
