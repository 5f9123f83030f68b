package app_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/model"
)

// worstShape is a request built to be as expensive as possible to refuse within the body limit.
type worstShape struct {
	name  string
	code  string // the code it must be refused with
	small string // the code below the token limit, when it differs
	build func(size int) (query string, vars map[string]any)
}

// codeAt is the refusal code expected for the shape built at size.
func (s worstShape) codeAt(size int) string {
	if size < 8<<10 && s.small != "" {
		return s.small
	}
	return s.code
}

// repeat joins n copies of f(i).
func repeat(n int, sep string, f func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = f(i)
	}
	return strings.Join(parts, sep)
}

// worstShapes scale with size, roughly the body size in bytes.
var worstShapes = []worstShape{
	{"baseline: smallest refused operation", "GRANT_REQUIRED", "", func(size int) (string, map[string]any) {
		return "{ prisons { id } }" + strings.Repeat(" ", size-20), nil
	}},
	{"issue's doubled fragment spreads", "COMPLEXITY_LIMIT_EXCEEDED", "GRANT_REQUIRED", func(size int) (string, map[string]any) {
		// 25 levels of fragment Fi on Query { ...Fi+1 ...Fi+1 } (2^25 paths, 1.1 kB): a valid
		// operation, cheap once fragments are memoised; at the larger sizes as many levels as fit.
		levels := 25
		if size >= 8<<10 {
			levels = size / 50
		}
		return "query { ...F0 }\n" + repeat(levels, "\n", func(i int) string {
			return fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
		}) + fmt.Sprintf("\nfragment F%d on Query { prisons { id } }", levels), nil
	}},
	{"doubled fragment spreads", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		levels := max(25, size/60)
		q := "query { ...F0 }\n" + repeat(levels, "\n", func(i int) string {
			return fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d prisons { id name } }", i, i+1, i+1)
		}) + fmt.Sprintf("\nfragment F%d on Query { __typename }", levels)
		return q, nil
	}},
	{"repeated identical fields", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		return "{ prisons { " + strings.Repeat("id ", size/3) + "} }", nil
	}},
	{"repeated fields under the token limit", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		q := "{ prisons { " + strings.Repeat("id ", 1990) + "} }"
		return q + strings.Repeat(" ", max(0, size-len(q))), nil
	}},
	{"repeated nested fields", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		// A binary tree of ofType selections 8 levels deep: 2^8 same-named leaves to compare.
		var tree func(depth int) string
		tree = func(depth int) string {
			if depth == 0 {
				return "name"
			}
			sub := tree(depth - 1)
			return "ofType { " + sub + " } ofType { " + sub + " }"
		}
		q := `{ __type(name: "Person") { ` + tree(8) + ` } }`
		return q + strings.Repeat(" ", max(0, size-len(q))), nil
	}},
	{"same-named fields with wide selections", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		q := `{ person(id: "x", purpose: {caseReference: "a", reason: SUPERVISION}) { ` + strings.Repeat("residence { "+strings.Repeat("city ", 99)+"} ", 19) + `} }`
		return q + strings.Repeat(" ", max(0, size-len(q))), nil
	}},
	{"deep nesting", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		n := size / 14
		return strings.Repeat("{ prisons ", n) + "{ id }" + strings.Repeat(" }", n), nil
	}},
	{"many aliases", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		return "{ prisons { " + repeat(size/11, " ", func(i int) string { return fmt.Sprintf("a%d: id", i) }) + " } }", nil
	}},
	{"aliased introspection", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		return "{ " + repeat(max(100, size/70), " ", func(i int) string { return fmt.Sprintf("s%d: __schema { types { name fields { name } } }", i) }) + " }", nil
	}},
	{"huge argument list", "COMPLEXITY_LIMIT_EXCEEDED", "GRAPHQL_VALIDATION_FAILED", func(size int) (string, map[string]any) {
		return "{ prisons(" + repeat(size/10, ", ", func(i int) string { return fmt.Sprintf("a%d: 1", i) }) + ") { id } }", nil
	}},
	{"huge argument object", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		return `{ searchPersons(filter: {familyName: "x", givenNames: "y", ` + repeat(size/13, ", ", func(i int) string { return fmt.Sprintf("f%d: [1]", i) }) +
			`}, purpose: {caseReference: "a", reason: SUPERVISION}) { pageInfo { hasNextPage } } }`, nil
	}},
	{"wide input object under the token limit", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		q := `{ searchPersons(filter: {familyName: "x", ` + repeat(600, ", ", func(i int) string { return fmt.Sprintf("f%d: 1", i) }) +
			`}, purpose: {caseReference: "a", reason: SUPERVISION}) { pageInfo { hasNextPage } } }`
		return q + strings.Repeat(" ", max(0, size-len(q))), nil
	}},
	{"huge argument string", "GRANT_REQUIRED", "", func(size int) (string, map[string]any) {
		return `{ person(id: "` + strings.Repeat("x", size-100) + `", purpose: {caseReference: "a", reason: SUPERVISION}) { id } }`, nil
	}},
	{"many variables", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		return "query(" + repeat(size/15, ", ", func(i int) string { return fmt.Sprintf("$v%d: Int", i) }) + ") { prisons { id } }", nil
	}},
	{"many variables, all used", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		n := 300
		q := "mutation(" + repeat(n, ", ", func(i int) string { return fmt.Sprintf("$v%d: ID", i) }) + `) { activateAccessGrant(id: "x", input: {caseload: [` +
			repeat(n, ", ", func(i int) string { return fmt.Sprintf("$v%d", i) }) + "]}) { id } }"
		return q + strings.Repeat(" ", max(0, size-len(q))), nil
	}},
	{"many operations", "COMPLEXITY_LIMIT_EXCEEDED", "", func(size int) (string, map[string]any) {
		return repeat(size/32, "\n", func(i int) string { return fmt.Sprintf("query Q%d { prisons { id } }", i) }), nil
	}},
	{"long list in variables", "GRANT_REQUIRED", "", func(size int) (string, map[string]any) {
		names := make([]any, size/12)
		for i := range names {
			names[i] = "CZ"
		}
		return `mutation($p: PersonInput!) { registerPerson(input: $p, idempotencyKey: "k", purpose: {caseReference: "a", reason: REGISTER_MAINTENANCE}) { id } }`,
			map[string]any{"p": map[string]any{"givenNames": "A", "familyName": "B", "dateOfBirth": "1980-01-01", "sex": "MALE", "nationalities": names}}
	}},
}

// noGrantToken is a valid token of an official who has no access grant: the attacker of issue 10.
func noGrantToken(env *testenv.Env) string {
	return env.TokenFor(auth.Identity{Subject: "intruder", Name: "I. Ntruder", Username: "intruder", Email: "intruder@policie.example",
		Agency: "PČR", Roles: []model.Role{model.RolePolice}}, time.Hour)
}

// refusalSizes are the body sizes the worst shapes are built at: up to the largest within the
// default body limit (64 KiB, with room for the JSON envelope).
var refusalSizes = []int{2 << 10, 16 << 10, 60 << 10}

// TestWorstShapesAreRefused sends every worst shape at the largest size within the body limit
// from a token without a grant, through the real handler, and wants the refusal code; built
// beyond the limit (900 KiB), each is refused with HTTP 413 PAYLOAD_TOO_LARGE before decoding.
func TestWorstShapesAreRefused(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	token := noGrantToken(env)
	for _, s := range worstShapes {
		for _, size := range []int{refusalSizes[len(refusalSizes)-1], 900 << 10} {
			want, status := s.codeAt(size), 0
			if size > int(app.DefaultLimits.BodyBytes) {
				want, status = "PAYLOAD_TOO_LARGE", 413
			}
			t.Run(fmt.Sprintf("%s/%dKiB", s.name, size>>10), func(t *testing.T) {
				q, vars := s.build(size)
				start := time.Now()
				r := env.Do(token, q, vars)
				if len(r.Errors) == 0 || r.Errors[0].Code() != want || r.Data != nil || status != 0 && r.Status != status {
					t.Fatalf("want %s and no data, got HTTP %d %.300s", want, r.Status, r.Raw)
				}
				t.Logf("%d bytes refused in %v: %s", len(q), time.Since(start), r.Errors[0].Message)
			})
		}
	}
}

// TestLargestLegitimateRequestFits: the largest request custodia's tests send (GraphiQL's
// introspection in one document with a page of 50 persons) is far within the body limit.
func TestLargestLegitimateRequestFits(t *testing.T) {
	if n := len(fragmentPage); n*16 > int(app.DefaultLimits.BodyBytes) {
		t.Fatalf("the largest legitimate document is %d bytes, more than a sixteenth of the %d-byte body limit", n, app.DefaultLimits.BodyBytes)
	}
}

// BenchmarkRefuseWorstShapes measures, through the real handler and a token without a grant,
// the time to refuse each worst shape at three body sizes (docs/performance.md).
func BenchmarkRefuseWorstShapes(b *testing.B) {
	env := testenv.New(b, testenv.Options{Persons: 5, Mutate: func(c *app.Config) { c.Limits.RatePerSec = 0 }})
	token := noGrantToken(env)
	for _, s := range worstShapes {
		for _, size := range refusalSizes {
			q, vars := s.build(size)
			b.Run(fmt.Sprintf("%s/%dKiB", strings.ReplaceAll(s.name, " ", "_"), size>>10), func(b *testing.B) {
				start := cpuTime(b)
				for b.Loop() {
					if r := env.Do(token, q, vars); len(r.Errors) == 0 || r.Errors[0].Code() != s.codeAt(size) {
						b.Fatalf("want %s, got %.300s", s.codeAt(size), r.Raw)
					}
				}
				reportCPU(b, start) // the whole process: server, in-process client, embedded database
			})
		}
	}
}

// reportCPU reports the process's CPU time per iteration since start, in milliseconds.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// graphiQLIntrospection is the introspection query of current GraphiQL (graphql-js
// getIntrospectionQuery with descriptions, repeatable directives and deprecated arguments).
const graphiQLIntrospection = `query IntrospectionQuery {
  __schema {
    description queryType { name kind } mutationType { name kind } subscriptionType { name kind }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }`

// fragmentPage is the page of 50 persons with every relation, written with fragments the way a
// frontend composes them, in a document that also holds GraphiQL's introspection.
const fragmentPage = `query Page($first: Int, $copy: Boolean) {
  searchPersons(filter: {familyName: "zkusebni", dateOfBirth: "1985-05-05"}, first: $first, purpose: {caseReference: "4 T 1/2026", reason: CRIMINAL_PROCEEDINGS}) {
    edges { cursor node { ...Identity ...Detention convictions(includeExpunged: $copy) { ...ConvictionCard } } }
    pageInfo { hasNextPage endCursor }
  }
}
fragment Identity on Person { id givenNames familyName birthFamilyName dateOfBirth sex nationalities nationalId residence { ...Place } }
fragment Place on Address { street city postalCode country }
fragment PrisonCard on Prison { id name address { ...Place } }
fragment Detention on Person {
  detentionStatus { deprivedOfLiberty kind since prison { ...PrisonCard } responsibleAuthority { name } }
  detentionHistory { id kind start end prison { ...PrisonCard } sentence { id kind } }
}
fragment ConvictionCard on Conviction { id court caseReference decisionDate expunged
  offences { legalProvision category } sentences { id kind status durationMonths } rehabilitation { earliestDate rule } }
` + graphiQLIntrospection

// TestLegitimateLargeOperationsPass: the bounds leave ordinary large work alone — the page of 50
// persons with every relation (inline and through fragments, in a document with several
// operations) and GraphiQL's introspection.
func TestLegitimateLargeOperationsPass(t *testing.T) {
	t.Parallel()
	reg := crowdRegister(50)
	env := testenv.New(t, testenv.Options{Register: &reg})
	token := env.Token(model.RoleCourt)
	for _, c := range []struct {
		name, query, operation string
		vars                   map[string]any
	}{
		{"page of 50", benchPage, "", map[string]any{"first": 50, "copy": true}},
		{"page of 50 through fragments", fragmentPage, "Page", map[string]any{"first": 50, "copy": true}},
		{"GraphiQL introspection", fragmentPage, "IntrospectionQuery", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := env.DoOperation(token, c.query, c.operation, c.vars)
			if len(r.Errors) > 0 || r.Data == nil {
				t.Fatalf("refused: %.500s", r.Raw)
			}
			if c.operation != "IntrospectionQuery" {
				if edges, _ := testenv.Path(r.Data, "searchPersons", "edges").([]any); len(edges) != 50 {
					t.Errorf("%d persons, want 50", len(edges))
				}
			}
		})
	}
}

// BenchmarkRefusalStep measures the same shapes at the same sizes fed directly to the step that
// bounds a document before validation (parse with the token limit, the memoised walk, and
// gqlparser's validation for what passes), without the HTTP transport's JSON decoding, the
// token check and the audit write that every request pays (docs/performance.md).
func BenchmarkRefusalStep(b *testing.B) {
	for _, s := range worstShapes {
		for _, size := range refusalSizes {
			q, vars := s.build(size)
			b.Run(fmt.Sprintf("%s/%dKiB", strings.ReplaceAll(s.name, " ", "_"), size>>10), func(b *testing.B) {
				start := cpuTime(b)
				for b.Loop() {
					_ = app.BoundDocument(q, vars)
				}
				reportCPU(b, start)
			})
		}
	}
}

// TestAliasedIntrospectionIsCounted: introspection counts under the complexity limit — one
// copy of the schema passes, eight aliased copies (under the alias limit) do not.
func TestAliasedIntrospectionIsCounted(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	one := "{ s0: __schema { types { name } } }"
	eight := "{ " + repeat(8, " ", func(i int) string { return fmt.Sprintf("s%d: __schema { types { name } }", i) }) + " }"
	env.MustData(model.RolePolice, one, nil)
	r := env.As(model.RolePolice, eight, nil)
	if r.Data != nil || len(r.Errors) != 1 || r.Errors[0].Code() != "COMPLEXITY_LIMIT_EXCEEDED" || !strings.Contains(r.Errors[0].Message, "complexity") {
		t.Fatalf("eight aliased __schema: want COMPLEXITY_LIMIT_EXCEEDED, got %.300s", r.Raw)
	}
}
