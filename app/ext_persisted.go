package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/auth"
)

// persistedQueries is gqlgen's automatic persisted queries with a code on every error: a hash
// that does not match its query, or a malformed persistedQuery extension, is BAD_REQUEST.
type persistedQueries struct {
	extension.AutomaticPersistedQuery
}

var _ graphql.OperationParameterMutator = persistedQueries{}

func (p persistedQueries) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	err := p.AutomaticPersistedQuery.MutateOperationParameters(ctx, params)
	if err != nil && err.Extensions["code"] == nil {
		return asGQLError(badRequest("automatic persisted query: %s", err.Message))
	}
	return err
}

// persistedTexts is the cache of automatic persisted queries: it keeps query texts of up to
// cachedDocumentBytes (least recently used out); larger ones are not persisted (their clients
// send the text again), so registering large documents cannot fill the server's memory. Each
// official's texts are their own (keyed by subject and hash): shared, a hash told anyone
// whether someone had recently sent that exact text — a query naming a person and a case.
type persistedTexts struct {
	shared graphql.Cache[string]
}

func newPersistedTexts() persistedTexts {
	return persistedTexts{shared: lru.New[string](1000)}
}

// key is the cache key of a hash for the request's official.
func (persistedTexts) key(ctx context.Context, hash string) string {
	subject := ""
	if p := auth.FromContext(ctx); p != nil {
		subject = p.Subject
	}
	return subject + "\x00" + hash
}

func (c persistedTexts) Get(ctx context.Context, hash string) (string, bool) {
	return c.shared.Get(ctx, c.key(ctx, hash))
}

func (c persistedTexts) Add(ctx context.Context, hash, query string) {
	if len(query) <= cachedDocumentBytes {
		c.shared.Add(ctx, c.key(ctx, hash), query)
	}
}
