package app

import (
	"context"
	"errors"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"custodia/policy"
	"custodia/selection"
)

// boundDocument is the first step of every operation, before gqlgen parses and validates it:
// it parses the text with the token limit, measures the whole document in one linear walk
// (package selection, fragments memoised) and refuses it with COMPLEXITY_LIMIT_EXCEEDED when
// it is over a limit, so validation — quadratic for some shapes — only ever sees bounded
// documents. A document it accepts it validates and hands to gqlgen through the shared query
// cache, so it is parsed and validated once; an invalid one it refuses with the validation
// errors of the caller's role schema (invalidForRole). A request whose time is up is refused
// between steps.
type boundDocument struct {
	limits Limits
	schema *ast.Schema
	costs  costs
	cache  graphql.Cache[*ast.QueryDocument]
	policy *policy.Policy
}

var _ graphql.OperationParameterMutator = boundDocument{}

func (boundDocument) ExtensionName() string { return "BoundDocument" }

func (boundDocument) Validate(schema graphql.ExecutableSchema) error { return nil }

func (b boundDocument) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if err := expired(ctx); err != nil {
		return err
	}
	if _, ok := b.cache.Get(ctx, params.Query); ok {
		return nil // validated before; this request's variables are measured after coercion
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: params.Query}, b.limits.Tokens)
	if err != nil {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && (strings.HasPrefix(gqlErr.Message, "exceeded token limit") || strings.HasPrefix(gqlErr.Message, "exceeded maximum nesting depth")) {
			return tooComplex("the document is too large or too deeply nested (at most %d tokens, %d levels)", b.limits.Tokens, parser.MaxNestingDepth)
		}
		return nil // gqlgen reports the syntax error (parsing again stops at the same token limit)
	}
	w := selection.Walker{Schema: b.schema, Lists: b.costs.lists, Fixed: b.costs.fixed, Vars: params.Variables}
	if refused := b.limits.refuseDocument(w.Document(doc)); refused != nil {
		return refused
	}
	// Counting overlaps expands fragments, so it comes last, within a budget: the complexity
	// limit, which bounds the expanded size of any document not refused above.
	for _, op := range doc.Operations {
		if w.Overlaps(op, b.limits.Complexity, b.limits.Overlaps) > b.limits.Overlaps {
			return tooComplex("the document repeats fields too often: validation would compare more than %d pairs of them", b.limits.Overlaps)
		}
	}
	if err := expired(ctx); err != nil {
		return err
	}
	if len(doc.Operations) == 0 {
		return nil // gqlgen reports "no operation provided"
	}
	if errs := validator.ValidateWithRules(b.schema, doc, validationRules()); len(errs) > 0 {
		return invalidForRole(ctx, b.policy, params.Query, b.limits.Tokens, errs)
	}
	b.cache.Add(ctx, params.Query, doc)
	return expired(ctx)
}

// documentCache is the query cache boundDocument and gqlgen share: validated documents of up to
// cachedDocumentBytes are kept across requests (least recently used out), larger ones only for
// the request that validated them — so large documents (a long string argument, say) cannot
// fill the server's memory, and are still parsed and validated once.
type documentCache struct {
	shared graphql.Cache[*ast.QueryDocument]
}

// requestDocumentEntry is a large validated document kept for its own request.
type requestDocumentEntry struct {
	query string
	doc   *ast.QueryDocument
}

func newDocumentCache() documentCache {
	return documentCache{shared: lru.New[*ast.QueryDocument](1000)}
}

func (c documentCache) Get(ctx context.Context, query string) (*ast.QueryDocument, bool) {
	if doc, ok := c.shared.Get(ctx, query); ok {
		return doc, true
	}
	if graphql.HasOperationContext(ctx) {
		if e, ok := graphql.GetOperationContext(ctx).Stats.GetExtension(requestDocument).(requestDocumentEntry); ok && e.query == query {
			return e.doc, true
		}
	}
	return nil, false
}

func (c documentCache) Add(ctx context.Context, query string, doc *ast.QueryDocument) {
	if len(query) <= cachedDocumentBytes {
		c.shared.Add(ctx, query, doc)
	} else if graphql.HasOperationContext(ctx) {
		graphql.GetOperationContext(ctx).Stats.SetExtension(requestDocument, requestDocumentEntry{query: query, doc: doc})
	}
}

// validationRules are gqlgen's default validation rules with suggestions off (the executor's
// own choice under SetDisableSuggestion(true)).
func validationRules() *rules.Rules {
	r := rules.NewDefaultRules()
	r.RemoveRule("FieldsOnCorrectType")
	r.AddRule(rules.FieldsOnCorrectTypeRuleWithoutSuggestions.Name, rules.FieldsOnCorrectTypeRuleWithoutSuggestions.RuleFunc)
	r.RemoveRule("ScalarLeafs")
	r.AddRule(rules.ScalarLeafsRuleWithoutSuggestions.Name, rules.ScalarLeafsRuleWithoutSuggestions.RuleFunc)
	return r
}

// expired refuses, between the steps before execution, a request whose REQUEST_TIMEOUT has
// passed (or whose client has gone).
func expired(ctx context.Context) *gqlerror.Error {
	if ctx.Err() == nil {
		return nil
	}
	return asGQLError(timedOut(ctx))
}
