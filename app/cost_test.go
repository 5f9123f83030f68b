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
	if size < 64<<10 && s.small != "" {
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
		// 25 levels of fragment Fi on Query { ...Fi+1 ...Fi+1 } (2^25 paths), then as many more
		// levels as fit: a valid operation, cheap once fragments are memoised.
		levels := max(25, size/50)
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
		return "{ prisons { " + strings.Repeat("id ", 4000) + "} }" + strings.Repeat(" ", size), nil
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
	{"huge argument object", "COMPLEXITY_LIMIT_EXCEEDED", "GRAPHQL_VALIDATION_FAILED", func(size int) (string, map[string]any) {
		return `{ searchPersons(filter: {familyName: "x", givenNames: "y", ` + repeat(size/13, ", ", func(i int) string { return fmt.Sprintf("f%d: [1]", i) }) +
			`}, purpose: {caseReference: "a", reason: SUPERVISION}) { pageInfo { hasNextPage } } }`, nil
	}},
	{"huge argument string", "GRANT_REQUIRED", "", func(size int) (string, map[string]any) {
		return `{ person(id: "` + strings.Repeat("x", size-100) + `", purpose: {caseReference: "a", reason: SUPERVISION}) { id } }`, nil
	}},
	{"many variables", "COMPLEXITY_LIMIT_EXCEEDED", "GRAPHQL_VALIDATION_FAILED", func(size int) (string, map[string]any) {
		return "query(" + repeat(size/15, ", ", func(i int) string { return fmt.Sprintf("$v%d: Int", i) }) + ") { prisons { id } }", nil
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

// TestWorstShapesAreRefused sends every worst shape at the largest size within the body limit
// from a token without a grant, through the real handler, and wants the refusal code.
func TestWorstShapesAreRefused(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	token := noGrantToken(env)
	for _, s := range worstShapes {
		t.Run(s.name, func(t *testing.T) {
			q, vars := s.build(900 << 10)
			start := time.Now()
			r := env.Do(token, q, vars)
			if len(r.Errors) == 0 || r.Errors[0].Code() != s.codeAt(900<<10) || r.Data != nil {
				t.Fatalf("want %s and no data, got HTTP %d %.300s", s.codeAt(900<<10), r.Status, r.Raw)
			}
			t.Logf("%d bytes refused in %v: %s", len(q), time.Since(start), r.Errors[0].Message)
		})
	}
}

// BenchmarkRefuseWorstShapes measures, through the real handler and a token without a grant,
// the time to refuse each worst shape at three body sizes (docs/performance.md).
func BenchmarkRefuseWorstShapes(b *testing.B) {
	env := testenv.New(b, testenv.Options{Persons: 5, Mutate: func(c *app.Config) { c.Limits.RatePerSec = 0 }})
	token := noGrantToken(env)
	for _, s := range worstShapes {
		for _, size := range []int{2 << 10, 64 << 10, 900 << 10} {
			q, vars := s.build(size)
			b.Run(fmt.Sprintf("%s/%dKiB", strings.ReplaceAll(s.name, " ", "_"), size>>10), func(b *testing.B) {
				start := cpuTime(b)
				for b.Loop() {
					if r := env.Do(token, q, vars); len(r.Errors) == 0 || r.Errors[0].Code() != s.codeAt(size) {
						b.Fatalf("want %s, got %.300s", s.codeAt(size), r.Raw)
					}
				}
				// CPU of the whole process (server and in-process client) per request.
				b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
			})
		}
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
