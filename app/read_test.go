package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"custodia/app"
	"custodia/internal/benchops"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/register"
	"custodia/seed"
	"custodia/store"
)

const personCard = benchops.PersonCard

func card(t *testing.T, env *testenv.Env, id string, copy bool) map[string]any {
	t.Helper()
	data := env.MustData(model.RoleCourt, personCard, map[string]any{"id": id, "purpose": testenv.Purpose(model.RoleCourt), "copy": copy})
	return data["person"].(map[string]any)
}

func TestNamedPersonsStories(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	P := testenv.Path

	novak := card(t, env, seed.NamedNovak, true)
	expect(t, "Novák status", P(novak, "detentionStatus"), map[string]any{
		"deprivedOfLiberty": true, "kind": "CUSTODY", "since": "2026-09-01", "inPrisonSince": "2026-09-01",
	})
	expectEq(t, "Novák custody authority", P(novak, "detentionStatus", "responsibleAuthority", "caseReference"), "1 KZV 245/2026")
	expectEq(t, "Novák custody authority kind", P(novak, "detentionStatus", "responsibleAuthority", "kind"), "PROSECUTION_OFFICE")
	expectEq(t, "Novák prison address", P(novak, "detentionStatus", "prison", "address", "street"), "Soudní 1672/1a")
	history := P(novak, "detentionHistory").([]any)
	if len(history) != 3 {
		t.Fatalf("Novák has %d periods, want 3", len(history))
	}
	expectEq(t, "newest first", P(history, 0, "start"), "2026-09-01")
	expectEq(t, "transfer", P(history, 2, "releaseReason"), "TRANSFER")
	expectEq(t, "transfer day", P(history, 2, "end"), P(history, 1, "start"))
	if P(history, 1, "prison", "id") == P(history, 2, "prison", "id") {
		t.Errorf("Novák's imprisonment should span two prisons")
	}
	expectEq(t, "served sentence", P(history, 1, "sentence", "durationMonths"), 48.0)
	convictions := P(novak, "convictions").([]any)
	if len(convictions) != 1 || P(convictions, 0, "expunged") != false {
		t.Errorf("Novák: want one unexpunged conviction, got %v", convictions)
	}

	dvorakova := card(t, env, seed.NamedDvorakova, true)
	expectEq(t, "Dvořáková never detained", P(dvorakova, "detentionStatus", "deprivedOfLiberty"), false)
	expectEq(t, "Dvořáková no history", len(P(dvorakova, "detentionHistory").([]any)), 0)
	full := P(dvorakova, "convictions").([]any)
	if len(full) != 2 {
		t.Fatalf("Dvořáková copy has %d convictions, want 2", len(full))
	}
	expectEq(t, "2024 suspended first", P(full, 0, "sentences", 0, "kind"), "SUSPENDED_IMPRISONMENT")
	expectEq(t, "2024 not expunged", P(full, 0, "expunged"), false)
	expectEq(t, "2010 fine", P(full, 1, "sentences", 0, "kind"), "FINE")
	expectEq(t, "2010 expunged", P(full, 1, "expunged"), true)
	extract := P(card(t, env, seed.NamedDvorakova, false), "convictions").([]any)
	if len(extract) != 1 || P(extract, 0, "expunged") != false {
		t.Errorf("Dvořáková extract: want only the unexpunged conviction, got %v", extract)
	}

	svoboda := card(t, env, seed.NamedSvoboda, false)
	expect(t, "Svoboda status", P(svoboda, "detentionStatus"), map[string]any{
		"deprivedOfLiberty": true, "kind": "IMPRISONMENT", "since": "2023-05-10", "inPrisonSince": "2025-02-01", "expectedRelease": "2029-05-10",
	})
	expectEq(t, "Svoboda six years", P(svoboda, "convictions", 0, "sentences", 0, "durationMonths"), 72.0)

	ferreira := card(t, env, seed.NamedFerreira, false)
	expect(t, "Ferreira status", P(ferreira, "detentionStatus"), map[string]any{
		"deprivedOfLiberty": true, "kind": "SECURITY_DETENTION", "since": "2025-07-01",
	})
	expectEq(t, "Ferreira no national ID", P(ferreira, "nationalId"), nil)
	expectEq(t, "Ferreira PT", P(ferreira, "nationalities", 0), "PT")
	expectEq(t, "Ferreira institute kind", P(ferreira, "detentionStatus", "prison", "kind"), "SECURITY_DETENTION_INSTITUTE")

	horvath := card(t, env, seed.NamedHorvath, false)
	expectEq(t, "Horváth free", P(horvath, "detentionStatus", "deprivedOfLiberty"), false)
	expectEq(t, "Horváth released", P(horvath, "detentionHistory", 0, "end"), "2024-03-15")
	expectEq(t, "Horváth conditional release", P(horvath, "detentionHistory", 0, "releaseReason"), "CONDITIONAL_RELEASE")
	expectEq(t, "Horváth sentence status", P(horvath, "convictions", 0, "sentences", 0, "status"), "CONDITIONALLY_RELEASED")
}

func expectEq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func expect(t *testing.T, what string, got any, want map[string]any) {
	t.Helper()
	m, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object: %v", what, got)
	}
	for k, v := range want {
		expectEq(t, what+"."+k, m[k], v)
	}
}

const searchQuery = `
query Search($filter: PersonSearchInput!, $first: Int, $after: String, $purpose: PurposeInput!) {
  searchPersons(filter: $filter, first: $first, after: $after, purpose: $purpose) {
    edges { cursor node { id familyName givenNames dateOfBirth } }
    pageInfo { hasNextPage endCursor }
  }
}`

func searchIDs(t *testing.T, env *testenv.Env, filter map[string]any) []string {
	t.Helper()
	data := env.MustData(model.RolePolice, searchQuery, map[string]any{"filter": filter, "purpose": testenv.Purpose(model.RolePolice)})
	var ids []string
	for _, e := range testenv.Path(data, "searchPersons", "edges").([]any) {
		ids = append(ids, testenv.Path(e, "node", "id").(string))
	}
	return ids
}

func TestSearch(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	cases := []struct {
		name   string
		filter map[string]any
		want   string
	}{
		{"national ID", map[string]any{"nationalId": "800115/2346"}, seed.NamedNovak},
		{"national ID without slash", map[string]any{"nationalId": "8001152346"}, seed.NamedNovak},
		{"no diacritics, lower case", map[string]any{"familyName": "dvorakova", "dateOfBirth": "1975-06-30"}, seed.NamedDvorakova},
		{"upper case with diacritics", map[string]any{"familyName": "DVOŘÁKOVÁ", "givenNames": "marie"}, seed.NamedDvorakova},
		{"birth family name", map[string]any{"familyName": "Kralova", "dateOfBirth": "1975-06-30"}, seed.NamedDvorakova},
		{"Slovak letters", map[string]any{"familyName": "horvath", "givenNames": "JAN"}, seed.NamedHorvath},
		{"extra spaces", map[string]any{"familyName": "  Ferreira ", "givenNames": " ana  "}, seed.NamedFerreira},
		{"Portuguese without national ID", map[string]any{"familyName": "ferreira", "dateOfBirth": "1988-11-11"}, seed.NamedFerreira},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ids := searchIDs(t, env, c.filter)
			if !slices.Contains(ids, c.want) {
				t.Errorf("search %v: got %v, want it to contain %s", c.filter, ids, c.want)
			}
		})
	}
	if ids := searchIDs(t, env, map[string]any{"familyName": "dvorakova", "dateOfBirth": "1975-07-01"}); slices.Contains(ids, seed.NamedDvorakova) {
		t.Errorf("a wrong date of birth must not match")
	}
	if ids := searchIDs(t, env, map[string]any{"familyName": "dvorak", "dateOfBirth": "1975-06-30"}); len(ids) != 0 {
		t.Errorf("a partial family name must not match (no browsing), got %v", ids)
	}
}

// crowdRegister is a demo register in which n generated persons share one family name and
// date of birth, so that pages of any size can be filled; each of them has convictions (with
// offences and sentences) and a detention history.
func crowdRegister(n int) store.Register { return crowdRegisterOf(600, n) }

// crowdRegisterOf is crowdRegister in a demo register of total persons.
func crowdRegisterOf(total, n int) store.Register {
	r := seed.Build(seed.Options{Persons: total})
	withRecord := map[string]bool{}
	for _, d := range r.Detentions {
		withRecord[d.PersonID] = true
	}
	hasConviction := map[string]bool{}
	for _, c := range r.Convictions {
		hasConviction[c.PersonID] = true
	}
	count := 0
	for i := range r.Persons {
		p := &r.Persons[i]
		if count == n || !withRecord[p.ID] || !hasConviction[p.ID] {
			continue
		}
		p.FamilyName, p.BirthFamilyName, p.PreviousNames = "Zkušební", nil, nil
		p.DateOfBirth = model.MustDate("1985-05-05")
		p.Search = register.SearchKeys(p)
		count++
	}
	if count < n {
		panic(fmt.Sprintf("crowdRegister: only %d persons with a record", count))
	}
	return r
}

func TestPagination(t *testing.T) {
	t.Parallel()
	reg := crowdRegister(40)
	env := testenv.New(t, testenv.Options{Register: &reg})
	filter := map[string]any{"familyName": "zkusebni", "dateOfBirth": "1985-05-05"}
	purpose := testenv.Purpose(model.RolePolice)
	all := env.MustData(model.RolePolice, searchQuery, map[string]any{"filter": filter, "first": 50, "purpose": purpose})
	var want []string
	for _, e := range testenv.Path(all, "searchPersons", "edges").([]any) {
		want = append(want, testenv.Path(e, "node", "id").(string))
	}
	if len(want) != 40 || testenv.Path(all, "searchPersons", "pageInfo", "hasNextPage") != false {
		t.Fatalf("one page of 50 should hold all 40 persons, got %d", len(want))
	}
	for _, size := range []int{1, 7, 20, 40} {
		var got []string
		var after any
		for pages := 0; ; pages++ {
			if pages > 50 {
				t.Fatal("pagination does not end")
			}
			data := env.MustData(model.RolePolice, searchQuery, map[string]any{"filter": filter, "first": size, "after": after, "purpose": purpose})
			edges := testenv.Path(data, "searchPersons", "edges").([]any)
			if len(edges) > size {
				t.Fatalf("page of %d holds %d", size, len(edges))
			}
			for _, e := range edges {
				got = append(got, testenv.Path(e, "node", "id").(string))
			}
			if testenv.Path(data, "searchPersons", "pageInfo", "hasNextPage") != true {
				break
			}
			after = testenv.Path(data, "searchPersons", "pageInfo", "endCursor")
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d: got %v, want %v", size, got, want)
		}
	}
	// A cursor stays valid: the same cursor gives the same next page.
	first := env.MustData(model.RolePolice, searchQuery, map[string]any{"filter": filter, "first": 3, "purpose": purpose})
	cursor := testenv.Path(first, "searchPersons", "pageInfo", "endCursor")
	a := env.As(model.RolePolice, searchQuery, map[string]any{"filter": filter, "first": 3, "after": cursor, "purpose": purpose})
	b := env.As(model.RolePolice, searchQuery, map[string]any{"filter": filter, "first": 3, "after": cursor, "purpose": purpose})
	if a.Raw != b.Raw {
		t.Errorf("the same cursor gave different pages")
	}
}

// TestNoNPlusOne checks the cost of a page of persons with every relation in database
// commands, per engine: where the server serves $in from an index (MongoDB), one batched query
// per relation and level, so a page of 5 costs what a page of 50 does; where it scans for $in
// (FerretDB v1), batches are point lookups by _id, at most one per person and relation —
// bounded by the page size, never by the size of the register. Either way each criminal record
// is read once although the page selects both its copy and its extract (the sentences of the
// periods), the prisons come from the process's cache of reference data, and the audit entry
// costs the update of its per-person index (one command, store/auditpersons.go), its insert
// and the head hint's update (this process appended last, so no head read).
//
// It runs with the batching detected from the server and with one $in per relation forced
// (BATCH_LOADS=in), so both paths are checked whichever engine the tests run on.
func TestNoNPlusOne(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"", "in"} {
		t.Run("batch_loads="+mode, func(t *testing.T) {
			t.Parallel()
			noNPlusOne(t, mode)
		})
	}
}

func noNPlusOne(t *testing.T, batchLoads string) {
	reg := crowdRegister(50)
	// Grant and prison caches that cannot expire between the measurements, however slow the
	// machine.
	env := testenv.New(t, testenv.Options{Register: &reg, Mutate: func(c *app.Config) {
		c.GrantCacheTTL, c.PrisonCacheTTL, c.BatchLoads = time.Minute, time.Minute, batchLoads
		c.AuditPersonIndexInterval = time.Hour // the background indexer's commands are not the page's
	}})
	const q = `query Page($first: Int, $purpose: PurposeInput!) {
	  searchPersons(filter: {familyName: "zkusebni", dateOfBirth: "1985-05-05"}, first: $first, purpose: $purpose) {
	    edges { node {
	      id familyName
	      convictions(includeExpunged: true) { id offences { legalProvision } sentences { id kind conviction { id person { id } } } }
	      detentionHistory { id prison { id name address { city } } sentence { id kind } }
	      detentionStatus { deprivedOfLiberty prison { id name } }
	    } }
	  }
	}`
	// Per page: up to three search key documents (one per kind of family name the role may
	// match), the audit entry (its insert and the head hint's update),
	// and the relations:
	// persons (and the one after the page, to know whether more follow), detention records and
	// criminal records (each read once, copy and extract together). No prisons query: the
	// warm-up page filled the cache.
	const searchKeys, audit, relations = 3, 2, 3
	commands := map[int]int{}
	prisons := map[int]int{}
	vars := func(size int) map[string]any {
		return map[string]any{"first": size, "purpose": testenv.Purpose(model.RoleCourt)}
	}
	env.MustData(model.RoleCourt, q, vars(50)) // warm the grant and prison caches
	for _, size := range []int{5, 50} {
		before := env.DBCommands()
		data := env.MustData(model.RoleCourt, q, vars(size))
		commands[size] = env.DBCommands() - before
		edges := testenv.Path(data, "searchPersons", "edges").([]any)
		if len(edges) != size {
			t.Fatalf("page of %d returned %d persons", size, len(edges))
		}
		distinct := map[any]bool{}
		for _, e := range edges {
			for _, p := range testenv.Path(e, "node", "detentionHistory").([]any) {
				distinct[testenv.Path(p, "prison", "id")] = true
			}
		}
		prisons[size] = len(distinct)
	}
	switch mode := env.Server.Store.BatchLoads(); mode {
	case "in":
		if commands[5] != commands[50] {
			t.Errorf("database commands: %d for 5 persons, %d for 50 — relations are not batched", commands[5], commands[50])
		}
		if limit := 1 + audit + relations; commands[50] > limit {
			t.Errorf("a page with every relation took %d database commands, want at most %d: one query each for the search key documents, persons, detention records and criminal records (copy and extract in one read), the audit index, insert and head update, no prisons query", commands[50], limit)
		}
	case "point-lookups":
		for size, n := range commands {
			if limit := searchKeys + audit + relations*size + 1; n > limit {
				t.Errorf("a page of %d took %d database commands, want at most %d: %d search key documents, %d audit (index, insert, head update), per person one point lookup of the person, the detention record and the criminal record (copy and extract in one read), the person after the page (whether more follow), no prisons query", size, n, limit, searchKeys, audit)
			}
		}
	default:
		t.Fatalf("unknown batch mode %q", mode)
	}
	t.Logf("batch loads %s; database commands per page: %v; distinct prisons %v", env.Server.Store.BatchLoads(), commands, prisons)
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	purpose := testenv.Purpose(model.RolePolice)
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		code  string
		field string
	}{
		{"unknown person", `query($p: PurposeInput!) { person(id: "P-999999", purpose: $p) { id } }`, map[string]any{"p": purpose}, "NOT_FOUND", ""},
		{"unknown national ID", `query($p: PurposeInput!) { personByNationalId(nationalId: "010101/0008", purpose: $p) { id } }`, map[string]any{"p": purpose}, "NOT_FOUND", ""},
		{"unknown prison", `{ prison(id: "PRS-NOWHERE") { id } }`, nil, "NOT_FOUND", ""},
		{"malformed date", searchQuery, map[string]any{"filter": map[string]any{"familyName": "novak", "dateOfBirth": "15.1.1980"}, "purpose": purpose}, "BAD_USER_INPUT", ""},
		{"impossible date", searchQuery, map[string]any{"filter": map[string]any{"familyName": "novak", "dateOfBirth": "1980-02-30"}, "purpose": purpose}, "BAD_USER_INPUT", ""},
		{"page over the cap", searchQuery, map[string]any{"filter": map[string]any{"nationalId": "800115/2346"}, "first": 51, "purpose": purpose}, "BAD_USER_INPUT", "first"},
		{"page of zero", searchQuery, map[string]any{"filter": map[string]any{"nationalId": "800115/2346"}, "first": 0, "purpose": purpose}, "BAD_USER_INPUT", "first"},
		{"forged cursor", searchQuery, map[string]any{"filter": map[string]any{"nationalId": "800115/2346"}, "after": "bm9wZQ", "purpose": purpose}, "BAD_USER_INPUT", "after"},
		{"browsing by family name only", searchQuery, map[string]any{"filter": map[string]any{"familyName": "novak"}, "purpose": purpose}, "BAD_USER_INPUT", "filter"},
		{"empty filter", searchQuery, map[string]any{"filter": map[string]any{}, "purpose": purpose}, "BAD_USER_INPUT", "filter"},
		{"malformed national ID", `query($p: PurposeInput!) { personByNationalId(nationalId: "abc", purpose: $p) { id } }`, map[string]any{"p": purpose}, "BAD_USER_INPUT", "nationalId"},
		{"empty case reference", `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { id } }`, map[string]any{"p": map[string]any{"caseReference": "  ", "reason": "PRE_TRIAL_INVESTIGATION"}}, "BAD_USER_INPUT", "purpose.caseReference"},
		{"case reference with markup", `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { id } }`, map[string]any{"p": map[string]any{"caseReference": "<script>", "reason": "PRE_TRIAL_INVESTIGATION"}}, "BAD_USER_INPUT", "purpose.caseReference"},
		{"case reference too long", `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { id } }`, map[string]any{"p": map[string]any{"caseReference": strings.Repeat("9", 65), "reason": "PRE_TRIAL_INVESTIGATION"}}, "BAD_USER_INPUT", "purpose.caseReference"},
		{"reason the grant does not allow", `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { id } }`, map[string]any{"p": map[string]any{"caseReference": "4 T 1/2026", "reason": "SUPERVISION"}}, "FORBIDDEN", ""},
		{"purpose missing", `{ person(id: "P-000001") { id } }`, nil, "PURPOSE_REQUIRED", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.As(model.RolePolice, c.query, c.vars)
			if len(r.Errors) != 1 || r.Errors[0].Code() != c.code {
				t.Fatalf("want one %s error, got %s", c.code, r.Raw)
			}
			if c.field != "" && r.Errors[0].Extensions["field"] != c.field {
				t.Errorf("error should name field %q: %s", c.field, r.Raw)
			}
			if r.Errors[0].Message == "" || r.Errors[0].Message == "internal error" {
				t.Errorf("error message should say what to fix: %s", r.Raw)
			}
			if c.code != "NOT_FOUND" && r.Data != nil && testenv.Path(r.Data, "person", "id") != nil {
				t.Errorf("no data may come with a %s error: %s", c.code, r.Raw)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	for _, c := range []struct {
		path, contains string
	}{
		{"/healthz", "alive"},
		{"/readyz", "ready"},
		{"/metrics", "custodia_db_commands_total"},
		{"/", "graphiql"},
	} {
		status, body := env.Get(c.path)
		if status != http.StatusOK || !strings.Contains(strings.ToLower(body), c.contains) {
			t.Errorf("GET %s: %d, body lacks %q", c.path, status, c.contains)
		}
	}
	env.MustData(model.RolePolice, `query Prisons { prisons { id } }`, nil)
	if _, body := env.Get("/metrics"); !strings.Contains(body, `custodia_request_duration_seconds_count{operation="Prisons"}`) {
		t.Errorf("/metrics lacks request latency by operation name")
	}
}

func TestPrisons(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	data := env.MustData(model.RoleAuditor, `{ prisons { id name kind address { street city postalCode country } phone email } }`, nil)
	list := data["prisons"].([]any)
	if len(list) < 30 {
		t.Errorf("want about 30 prisons, got %d", len(list))
	}
	kinds := map[any]bool{}
	for _, p := range list {
		kinds[testenv.Path(p, "kind")] = true
		if testenv.Path(p, "address", "city") == "" {
			t.Errorf("prison without address: %v", p)
		}
	}
	if len(kinds) != len(model.AllPrisonKind) {
		t.Errorf("want every prison kind, got %v", kinds)
	}
	custody := env.MustData(model.RolePolice, `{ prisons(kind: CUSTODY_PRISON) { kind } }`, nil)
	for _, p := range custody["prisons"].([]any) {
		expectEq(t, "filtered kind", testenv.Path(p, "kind"), "CUSTODY_PRISON")
	}
	one := env.MustData(model.RolePolice, `{ prison(id: "PRS-PANKRAC") { name address { city } } }`, nil)
	expectEq(t, "prison by id", testenv.Path(one, "prison", "name"), "Vazební věznice Praha-Pankrác")
}
