package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// Role sets of DESIGN §4, written out here independently of schema.graphqls so that the test
// checks the schema against the design.
var (
	C, PR, PO, RE, PS, RG, AU = model.RoleCourt, model.RoleProsecutor, model.RolePolice, model.RoleReintegration, model.RolePrisonService, model.RoleRegistrar, model.RoleAuditor

	personReaders  = []model.Role{C, PR, PO, RE, PS, RG}
	identityExtra  = []model.Role{C, PR, PO, PS, RG}
	residence      = []model.Role{C, PR, PO, RE, RG}
	history        = []model.Role{C, PR, PO, PS, RG}
	convictions    = []model.Role{C, PR, PO, RE, RG}
	periodSentence = []model.Role{C, PR, PO, PS, RG}
	copyReaders    = []model.Role{C, PR, RG}
	everyone       = []model.Role{C, PR, PO, RE, PS, RG, AU}
)

// selections on Person, with the roles that may read them.
var personSelections = []struct {
	name    string
	sel     string
	allowed []model.Role
}{
	{"names and date of birth", "givenNames familyName dateOfBirth sex nationalities", personReaders},
	{"national ID", "nationalId", identityExtra},
	{"birth name", "birthFamilyName", identityExtra},
	{"previous names", "previousNames { familyName }", identityExtra},
	{"place of birth", "placeOfBirth { city }", identityExtra},
	{"residence", "residence { city }", residence},
	{"detention status with prison address", "detentionStatus { deprivedOfLiberty kind since prison { name address { street city } } }", personReaders},
	{"responsible authority", "detentionStatus { responsibleAuthority { name caseReference } }", history},
	{"detention history", "detentionHistory { start end prison { name } }", history},
	{"convictions extract", "convictions { caseReference offences { category } sentences { kind } }", convictions},
	{"the sentence a period executes", "detentionHistory { sentence { kind status } }", periodSentence},
	{"sentence to conviction", "convictions { sentences { conviction { id } } }", convictions},
	{"period sentence to conviction", "detentionHistory { sentence { conviction { id } } }", []model.Role{C, PR, PO, RG}},
	{"full copy", "convictions(includeExpunged: true) { id expunged }", copyReaders},
	{"rehabilitation", "convictions { rehabilitation { rule } }", copyReaders},
}

// variants wrap a Person selection in the ways a client might try to get around the policy.
var variants = []struct {
	name  string
	query func(sel string) string
}{
	{"plain", func(sel string) string {
		return `query Q($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { id ` + sel + ` } }`
	}},
	{"alias", func(sel string) string {
		return `query Q($id: ID!, $p: PurposeInput!) { someone: person(id: $id, purpose: $p) { id ` + aliasFirst(sel) + ` } }`
	}},
	{"named fragment", func(sel string) string {
		return `query Q($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { id ...Card } } fragment Card on Person { ` + sel + ` }`
	}},
	{"inline fragment", func(sel string) string {
		return `query Q($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { ... on Person { id ` + sel + ` } } }`
	}},
}

// aliasFirst puts an alias on the first field of a selection.
func aliasFirst(sel string) string { return "renamed: " + sel }

func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	for _, s := range personSelections {
		for _, v := range variants {
			for _, role := range everyone {
				name := fmt.Sprintf("%s/%s/%s", s.name, v.name, role)
				t.Run(name, func(t *testing.T) {
					vars := map[string]any{"id": seed.NamedDvorakova, "p": testenv.Purpose(role)}
					r := env.As(role, v.query(s.sel), vars)
					if slices.Contains(s.allowed, role) {
						if len(r.Errors) != 0 || r.Data == nil {
							t.Fatalf("%s should be allowed: %s", role, r.Raw)
						}
						return
					}
					assertForbidden(t, r)
					// The answer must not depend on whether the person exists.
					vars["id"] = "P-999999"
					missing := env.As(role, v.query(s.sel), vars)
					assertForbidden(t, missing)
					if !slices.Equal(denied(r), denied(missing)) {
						t.Errorf("denial differs for an existing and a missing person: %v vs %v", denied(r), denied(missing))
					}
				})
			}
		}
	}
}

func assertForbidden(t *testing.T, r testenv.Response) {
	t.Helper()
	if r.Data != nil || len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" {
		t.Fatalf("want no data and exactly one FORBIDDEN error, got %s", r.Raw)
	}
	if len(denied(r)) == 0 {
		t.Fatalf("the FORBIDDEN error must list the denied coordinates: %s", r.Raw)
	}
}

func denied(r testenv.Response) []string {
	if len(r.Errors) == 0 {
		return nil
	}
	list, _ := r.Errors[0].Extensions["deniedCoordinates"].([]any)
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = fmt.Sprint(v)
	}
	sort.Strings(out)
	return out
}

// TestPolicyCannotBeBypassed tries the tricks one by one against one denied coordinate.
func TestPolicyCannotBeBypassed(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	p := testenv.Purpose(model.RolePolice)
	cases := []struct {
		name  string
		role  model.Role
		query string
		vars  map[string]any
		want  []string
	}{
		{"copy via variable", PO, `query($c: Boolean, $p: PurposeInput!) { person(id: "P-000002", purpose: $p) { convictions(includeExpunged: $c) { id } } }`,
			map[string]any{"c": true, "p": p}, []string{"Person.convictions(includeExpunged:)"}},
		{"copy via variable default", PO, `query($c: Boolean = true, $p: PurposeInput!) { person(id: "P-000002", purpose: $p) { convictions(includeExpunged: $c) { id } } }`,
			map[string]any{"p": p}, []string{"Person.convictions(includeExpunged:)"}},
		{"copy through a connection and fragment", PO, `query($p: PurposeInput!) { searchPersons(filter: {familyName: "dvorakova", givenNames: "marie"}, purpose: $p) { edges { node { ...C } } } } fragment C on Person { convictions(includeExpunged: true) { id } }`,
			map[string]any{"p": p}, []string{"Person.convictions(includeExpunged:)"}},
		{"national-ID search as reintegration", RE, `query($f: PersonSearchInput!, $p: PurposeInput!) { searchPersons(filter: $f, purpose: $p) { edges { node { id } } } }`,
			map[string]any{"f": map[string]any{"nationalId": "755630/4129"}, "p": testenv.Purpose(RE)}, []string{"PersonSearchInput.nationalId"}},
		{"lookup by national ID as reintegration", RE, `query($p: PurposeInput!) { personByNationalId(nationalId: "755630/4129", purpose: $p) { id } }`,
			map[string]any{"p": testenv.Purpose(RE)}, []string{"Query.personByNationalId"}},
		{"one denied field among allowed ones denies all", PS, `query($p: PurposeInput!) { prisons { id } person(id: "P-000003", purpose: $p) { familyName residence { city } } }`,
			map[string]any{"p": testenv.Purpose(PS)}, []string{"Person.residence"}},
		{"several denied coordinates are all listed", PS, `query($p: PurposeInput!) { person(id: "P-000003", purpose: $p) { familyName residence { city } convictions { id } } }`,
			map[string]any{"p": testenv.Purpose(PS)}, []string{"Person.convictions", "Person.residence"}},
		{"a type the role cannot see is not named", AU, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`,
			map[string]any{"p": p}, []string{"Query.person"}},
		{"operation name chosen by the caller", PS, `query Harmless($p: PurposeInput!) { person(id: "P-000003", purpose: $p) { residence { city } } } query Other { prisons { id } }`,
			map[string]any{"p": testenv.Purpose(PS)}, []string{"Person.residence"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.As(c.role, c.query, c.vars)
			if strings.Contains(c.query, "query Other") {
				r = env.DoOperation(env.Token(c.role), c.query, "Harmless", c.vars)
			}
			assertForbidden(t, r)
			if got := denied(r); !slices.Equal(got, c.want) {
				t.Errorf("denied %v, want %v", got, c.want)
			}
		})
	}
}

func TestIntrospectionPerRole(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	// The role schema must serve the introspection fields however the document reaches them:
	// the field middleware is installed per operation, from a walk of the root selection.
	const fields = `__type(name: "Person") { fields { name args { name } } } __schema { queryType { fields { name } } types { name } }`
	shapes := []struct{ name, query string }{
		{"direct", `{ ` + fields + ` }`},
		{"named fragment", `query { ...Outer } fragment Outer on Query { ...Inner } fragment Inner on Query { ` + fields + ` }`},
		{"inline fragment", `query { ... on Query { ... @include(if: true) { ` + fields + ` } } }`},
		{"beside data", `query { prisons { id } ... on Query { ` + fields + ` } }`},
	}
	for _, shape := range shapes {
		for _, role := range everyone {
			t.Run(shape.name+"/"+string(role), func(t *testing.T) {
				if shape.name == "beside data" && role == AU {
					t.Skip("AUDITOR may not read prisons")
				}
				introspectionPerRole(t, env, role, shape.query)
			})
		}
	}
}

func introspectionPerRole(t *testing.T, env *testenv.Env, role model.Role, q string) {
	t.Helper()
	data := env.MustData(role, q, nil)
	var queryFields []string
	for _, f := range testenv.Path(data, "__schema", "queryType", "fields").([]any) {
		queryFields = append(queryFields, testenv.Path(f, "name").(string))
	}
	if slices.Contains(personReaders, role) != slices.Contains(queryFields, "person") {
		t.Errorf("Query.person visible=%v for %s", slices.Contains(queryFields, "person"), role)
	}
	if slices.Contains(identityExtra, role) != slices.Contains(queryFields, "personByNationalId") {
		t.Errorf("Query.personByNationalId visible=%v for %s", slices.Contains(queryFields, "personByNationalId"), role)
	}
	personType := testenv.Path(data, "__type")
	if role == AU {
		if personType != nil {
			t.Fatalf("AUDITOR must not see the Person type: %v", personType)
		}
		for _, ty := range testenv.Path(data, "__schema", "types").([]any) {
			if name := testenv.Path(ty, "name"); name == "Person" || name == "Conviction" || name == "DetentionPeriod" {
				t.Errorf("AUDITOR's schema lists %v", name)
			}
		}
		return
	}
	fields := map[string][]string{}
	for _, f := range personType.(map[string]any)["fields"].([]any) {
		var args []string
		for _, a := range testenv.Path(f, "args").([]any) {
			args = append(args, testenv.Path(a, "name").(string))
		}
		fields[testenv.Path(f, "name").(string)] = args
	}
	check := func(field string, allowed []model.Role) {
		if _, ok := fields[field]; ok != slices.Contains(allowed, role) {
			t.Errorf("Person.%s visible=%v for %s", field, ok, role)
		}
	}
	check("nationalId", identityExtra)
	check("residence", residence)
	check("detentionHistory", history)
	check("convictions", convictions)
	check("detentionStatus", personReaders)
	if args, ok := fields["convictions"]; ok && slices.Contains(args, "includeExpunged") != slices.Contains(copyReaders, role) {
		t.Errorf("includeExpunged visible=%v for %s", slices.Contains(args, "includeExpunged"), role)
	}
}

func TestReintegrationCaseload(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	const q = `query($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { id familyName } }`
	p := testenv.Purpose(RE)
	for _, id := range []string{seed.NamedDvorakova, seed.NamedHorvath} {
		data := env.MustData(RE, q, map[string]any{"id": id, "p": p})
		expectEq(t, "in caseload", testenv.Path(data, "person", "id"), id)
	}
	outside := env.As(RE, q, map[string]any{"id": seed.NamedNovak, "p": p})
	missing := env.As(RE, q, map[string]any{"id": "P-999999", "p": p})
	for _, r := range []testenv.Response{outside, missing} {
		if len(r.Errors) != 1 || r.Errors[0].Code() != "NOT_FOUND" || r.Data != nil {
			t.Fatalf("want NOT_FOUND, got %s", r.Raw)
		}
	}
	if strings.Replace(outside.Raw, seed.NamedNovak, "ID", 1) != strings.Replace(missing.Raw, "P-999999", "ID", 1) {
		t.Errorf("a person outside the caseload must read exactly like a missing one:\n%s\n%s", outside.Raw, missing.Raw)
	}
	search := env.MustData(RE, searchQuery, map[string]any{"filter": map[string]any{"familyName": "novak", "dateOfBirth": "1980-01-15"}, "purpose": p})
	if edges := testenv.Path(search, "searchPersons", "edges").([]any); len(edges) != 0 {
		t.Errorf("search must not find persons outside the caseload: %v", edges)
	}
	// The same search by an unrestricted role finds him.
	if ids := searchIDs(t, env, map[string]any{"familyName": "novak", "dateOfBirth": "1980-01-15"}); !slices.Contains(ids, seed.NamedNovak) {
		t.Errorf("POLICE should find Novák, got %v", ids)
	}
}

func TestExpungedConvictionsNeedTheCopy(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	const q = `query($p: PurposeInput!, $copy: Boolean) { person(id: "P-000002", purpose: $p) { convictions(includeExpunged: $copy) { id expunged } } }`
	for _, role := range convictions {
		extract := env.MustData(role, q, map[string]any{"p": testenv.Purpose(role)})
		if n := len(testenv.Path(extract, "person", "convictions").([]any)); n != 1 {
			t.Errorf("%s extract: %d convictions, want 1 (the expunged one hidden)", role, n)
		}
		r := env.As(role, q, map[string]any{"p": testenv.Purpose(role), "copy": true})
		if slices.Contains(copyReaders, role) {
			if n := len(testenv.Path(r.Data, "person", "convictions").([]any)); n != 2 {
				t.Errorf("%s copy: %d convictions, want 2", role, n)
			}
		} else if len(r.Errors) != 1 || r.Errors[0].Code() != "FORBIDDEN" {
			t.Errorf("%s asking for the copy: want FORBIDDEN, got %s", role, r.Raw)
		}
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	o, _ := seed.OfficialFor(PO)
	multi := o.Identity
	multi.Roles = []model.Role{PO, C}
	cases := []struct {
		name    string
		token   string
		headers []string
		status  int
		code    string
	}{
		{"no token", "", nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"garbage", "not-a-jwt", nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"truncated", env.Token(PO)[:40], nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"several roles without X-Role", env.TokenFor(multi, 3600e9), nil, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"X-Role not carried", env.Token(PO), []string{"X-Role", "REGISTRAR"}, http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"X-Role chooses one of several", env.TokenFor(multi, 3600e9), []string{"X-Role", "POLICE"}, http.StatusOK, ""},
		{"X-Role chooses a role without a grant", env.TokenFor(multi, 3600e9), []string{"X-Role", "COURT"}, http.StatusOK, "GRANT_REQUIRED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do(c.token, `{ me { role } prisons { id } }`, nil, c.headers...)
			if r.Status != c.status {
				t.Fatalf("HTTP %d, want %d: %s", r.Status, c.status, r.Raw)
			}
			if c.code == "" {
				expectEq(t, "role", testenv.Path(r.Data, "me", "role"), "POLICE")
				return
			}
			if len(r.Errors) != 1 || r.Errors[0].Code() != c.code || r.Data != nil {
				t.Fatalf("want one %s error and no data: %s", c.code, r.Raw)
			}
		})
	}
}
