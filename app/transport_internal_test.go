package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// BenchmarkDecodeBody measures what reading a POST body costs before GraphQL sees it, for the
// worst bodies within the default 64 KiB limit (DESIGN §9: refusing a request costs at most a
// few milliseconds of CPU).
func BenchmarkDecodeBody(b *testing.B) {
	const size = 64 << 10
	pad := func(prefix, unit, suffix string) []byte {
		n := (size - len(prefix) - len(suffix)) / len(unit)
		return []byte(prefix + strings.Repeat(unit, n) + suffix)
	}
	bodies := []struct {
		name string
		body []byte
	}{
		{"64KiB string query", pad(`{"query":"`, "a", `"}`)},
		{"64KiB variables, many keys", pad(`{"query":"{ a }","variables":{`, `"k":1,`, `"z":1}}`)},
		{"64KiB nested arrays (malformed)", pad(`{"query":"{ a }","variables":{"v":`, "[", "")},
		{"64KiB malformed at the end", pad(`{"query":"{ a }","variables":{"v":"`, "x", `"`)},
		{"64KiB batch", pad(`[`, `{"query":"{ a }"},`, `{}]`)},
	}
	for _, c := range bodies {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				_, _ = decodeBody(c.body)
			}
		})
	}
}

// BenchmarkDecodeBodyGqlgenBaseline decodes the same bodies as gqlgen's POST transport did
// (json.Decoder with UseNumber into graphql.RawParams), for comparison.
func BenchmarkDecodeBodyGqlgenBaseline(b *testing.B) {
	const size = 64 << 10
	pad := func(prefix, unit, suffix string) []byte {
		n := (size - len(prefix) - len(suffix)) / len(unit)
		return []byte(prefix + strings.Repeat(unit, n) + suffix)
	}
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"64KiB string query", pad(`{"query":"`, "a", `"}`)},
		{"64KiB variables, many keys", pad(`{"query":"{ a }","variables":{`, `"k":1,`, `"z":1}}`)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				var p graphql.RawParams
				dec := json.NewDecoder(bytes.NewReader(c.body))
				dec.UseNumber()
				_ = dec.Decode(&p)
			}
		})
	}
}

func TestResponseMediaType(t *testing.T) {
	cases := []struct{ accept, want string }{
		{"", mediaJSON},
		{"*/*", mediaJSON},
		{"application/json", mediaJSON},
		{"application/graphql-response+json", mediaGraphQLResponse},
		{"application/graphql-response+json, application/json;q=0.9", mediaGraphQLResponse},
		{"application/json;q=0.9, application/graphql-response+json", mediaGraphQLResponse},
		{"application/json, application/graphql-response+json", mediaJSON},
		{"application/graphql-response+json;q=0, application/json", mediaJSON},
		{"text/html", mediaJSON},
	}
	for _, c := range cases {
		r, _ := http.NewRequest(http.MethodPost, "/query", nil)
		r.Header.Set("Accept", c.accept)
		if got := responseMediaType(r); got != c.want {
			t.Errorf("Accept %q: want %s, got %s", c.accept, c.want, got)
		}
	}
}
