package app

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"custodia/graph"
)

// BenchmarkBoundDocument measures the step that bounds a document before validation (parse
// with the token limit, one memoised walk, validation of what passes) on its own, without the
// HTTP transport's JSON decoding: doubled fragment spreads (2^levels paths), up to the most
// spreads the limit allows, and the largest document of distinct fragments and fields.
func BenchmarkBoundDocument(b *testing.B) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	for _, levels := range []int{8, 16, 31} {
		var q strings.Builder
		q.WriteString("query { ...F0 }\n")
		for i := 0; i < levels; i++ {
			fmt.Fprintf(&q, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		}
		fmt.Fprintf(&q, "fragment F%d on Query { prisons { id } }", levels)
		b.Run(fmt.Sprintf("doubled_spreads_%d_levels_%dB", levels, q.Len()), func(b *testing.B) {
			for b.Loop() {
				bd := boundDocument{limits: DefaultLimits, schema: schema, costs: newCosts(schema, DefaultLimits.Complexity), cache: lru.New[*ast.QueryDocument](10), policy: benchPolicy}
				if err := bd.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: q.String()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Every limit just met: 50 fragments spread once each from the operation, each selecting
	// prisons with 99 aliased fields of different names (validation compares every pair).
	var q strings.Builder
	q.WriteString("query {")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&q, " ...F%d", i)
	}
	q.WriteString(" }\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&q, "fragment F%d on Query { p%d: prisons { ", i, i)
		for j := 0; j < 8; j++ {
			fmt.Fprintf(&q, "id name ")
		}
		if i+1 < 50 && i >= 9 {
			fmt.Fprintf(&q, "} ...F%d }\n", i+1)
		} else {
			q.WriteString("} }\n")
		}
	}
	b.Run(fmt.Sprintf("limits_just_met_%dB", q.Len()), func(b *testing.B) {
		for b.Loop() {
			bd := boundDocument{limits: DefaultLimits, schema: schema, costs: newCosts(schema, DefaultLimits.Complexity), cache: lru.New[*ast.QueryDocument](10), policy: benchPolicy}
			_ = bd.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: q.String()})
		}
	})
}

// TestDocumentCacheKeepsLargeDocumentsPerRequest: a large document is served to the request
// that validated it, never to another one; small ones are shared.
func TestDocumentCacheKeepsLargeDocumentsPerRequest(t *testing.T) {
	c := newDocumentCache()
	request := func() context.Context {
		return graphql.WithOperationContext(context.Background(), &graphql.OperationContext{})
	}
	small, large := "{ prisons { id } }", `{ person(id: "`+strings.Repeat("x", cachedDocumentBytes)+`") { id } }`
	doc := &ast.QueryDocument{}
	first, second := request(), request()
	c.Add(first, small, doc)
	c.Add(first, large, doc)
	for _, g := range []struct {
		name  string
		ctx   context.Context
		query string
		want  bool
	}{
		{"small, same request", first, small, true},
		{"small, another request", second, small, true},
		{"large, same request", first, large, true},
		{"large, another request", second, large, false},
	} {
		if _, ok := c.Get(g.ctx, g.query); ok != g.want {
			t.Errorf("%s: cached %v, want %v", g.name, ok, g.want)
		}
	}
}

// TestPersistedTextsKeepOnlySmallOnes: automatic persisted queries persist texts up to
// cachedDocumentBytes, not larger ones.
func TestPersistedTextsKeepOnlySmallOnes(t *testing.T) {
	c := newPersistedTexts()
	ctx := context.Background()
	c.Add(ctx, "small", "{ prisons { id } }")
	c.Add(ctx, "large", strings.Repeat(" ", cachedDocumentBytes+1))
	if _, ok := c.Get(ctx, "small"); !ok {
		t.Error("a small query was not persisted")
	}
	if _, ok := c.Get(ctx, "large"); ok {
		t.Error("a large query was persisted")
	}
}
