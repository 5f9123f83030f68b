package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
	"golang.org/x/time/rate"

	"custodia/apperr"
	"custodia/auth"
	"custodia/policy"
	"custodia/selection"
)

// Limits bound what one request may cost (DESIGN §9, issue "abuse limits"). Every refusal is
// an error with a stable code: COMPLEXITY_LIMIT_EXCEEDED for the shape and size of a request,
// RATE_LIMITED (HTTP 429) for too many requests, SERVICE_UNAVAILABLE for a timeout.
type Limits struct {
	Complexity int
	Depth      int
	Aliases    int
	RootFields int
	// Tokens bounds the lexical tokens of a document (gqlparser's token limit): parsing stops
	// there.
	Tokens int
	// Width bounds the fields one selection set collects at its own level (through its
	// fragments), and the fields of one input object literal: validation compares them
	// pairwise.
	Width int
	// Operations bounds the operations in one document (validation walks each of them).
	Operations int
	// Variables bounds the variables one operation defines (validation is quadratic in them).
	Variables int
	// Overlaps bounds the pairs of same-named fields validation compares
	// (selection.Walker.Overlaps).
	Overlaps int
	// Spreads bounds the fragment spreads in one document (validation compares the fragments
	// a selection set reaches pairwise).
	Spreads int
	// BodyBytes bounds a request body (HTTP 413 beyond it). 64 KiB is about thirty times the
	// largest legitimate request (GraphiQL's introspection with a page of 50 persons, ~2 kB;
	// the token limit keeps any operation text small) and keeps decoding the worst body within
	// it to a fraction of the 5 ms refusal budget (docs/performance.md).
	BodyBytes     int64
	Timeout       time.Duration
	RatePerSec    float64
	RateBurst     int
	CORSOrigins   []string
	AllowListFile string
}

// DefaultLimits suit the demo register and the frontends of DESIGN §1: a page of 50 persons
// with every relation, and GraphiQL's introspection query, fit well within them.
//
// The rate limit is per subject: 20 requests a second sustained, bursts of 100. The burst is
// sized so that no ordinary client is ever refused: a frontend page load issues a few dozen
// operations at once (one per panel, each possibly twice with automatic persisted queries), a
// GraphiQL session one or two per action plus its schema introspection, and the graphql-http
// conformance audit about 70 in a row. Scripted bulk reading is still held to 20 a second.
var DefaultLimits = Limits{Complexity: 30000, Depth: 12, Aliases: 30, RootFields: 10, Tokens: 2000, Width: 100, Operations: 20, Spreads: 64, Overlaps: 1000, Variables: 50,
	BodyBytes: 64 << 10, Timeout: 15 * time.Second, RatePerSec: 20, RateBurst: 100}

// listLengths are the expected lengths of list fields for the complexity limit: a list costs its
// element's complexity times its length — the page size the query asks for, or a typical
// length.
func listLengths() map[string]selection.Multiplier {
	page := func(n int) selection.Multiplier { return selection.Multiplier{Length: n, PageArg: "first"} }
	fixed := func(n int) selection.Multiplier { return selection.Multiplier{Length: n} }
	return map[string]selection.Multiplier{
		"Query.searchPersons":      page(20),
		"Query.accessGrants":       page(20),
		"Query.auditTrail":         page(50),
		"Query.prisons":            fixed(40),
		"Query.disclosures":        fixed(50),
		"Query.myAccessGrants":     fixed(5),
		"Query.recipientsToNotify": fixed(10),
		"Person.convictions":       fixed(5),
		"Person.detentionHistory":  fixed(5),
		"Person.previousNames":     fixed(2),
		"Conviction.offences":      fixed(3),
		"Conviction.sentences":     fixed(3),
		"Sentence.transitions":     fixed(4),
	}
}

// introspectionCosts are the complexity of the introspection root fields: the size of what
// they can answer, whatever the selection (validation bounds the nesting of introspection
// lists). __schema costs an estimate of the full introspection answer — about 5 values per
// type, 10 per field, 8 per argument or input field, 4 per enum value — and __type the answer
// for the largest type; so GraphiQL's introspection fits, and many aliased copies do not.
func introspectionCosts(schema *ast.Schema) map[string]int {
	total, largest := 0, 0
	for _, t := range schema.Types {
		size := 5 + 4*len(t.EnumValues)
		for _, f := range t.Fields {
			if t.Kind == ast.InputObject {
				size += 8
				continue
			}
			size += 10 + 8*len(f.Arguments)
		}
		total += size
		largest = max(largest, size)
	}
	return map[string]int{"Query.__schema": total, "Query.__type": largest}
}

// refuseOperation checks the measure of the operation about to run (with this request's
// variables) against the limits.
func (l Limits) refuseOperation(m selection.Measure) *gqlerror.Error {
	switch {
	case m.Depth > l.Depth:
		return tooComplex("the operation is %d levels deep; the limit is %d", m.Depth, l.Depth)
	case m.Aliases > l.Aliases:
		return tooComplex("the operation uses %d aliases; the limit is %d", m.Aliases, l.Aliases)
	case m.Fields > l.RootFields:
		return tooComplex("the operation asks for %d root fields; the limit is %d", m.Fields, l.RootFields)
	case m.Complexity > l.Complexity:
		return tooComplex("operation has complexity %d, which exceeds the limit of %d", m.Complexity, l.Complexity)
	}
	return nil
}

// refuseDocument checks a whole parsed document, before validation: every operation and every
// fragment definition within the operation limits, the operations together within the
// complexity limit, no selection set wider than the width limit.
func (l Limits) refuseDocument(d selection.Document) *gqlerror.Error {
	switch {
	case d.Operations > l.Operations:
		return tooComplex("the document holds %d operations; the limit is %d", d.Operations, l.Operations)
	case d.Spreads > l.Spreads:
		return tooComplex("the document has %d fragment spreads; the limit is %d", d.Spreads, l.Spreads)
	case d.Variables > l.Variables:
		return tooComplex("an operation defines %d variables; the limit is %d", d.Variables, l.Variables)
	case d.Widest > l.Width:
		return tooComplex("a selection set of the document selects %d fields; the limit is %d", d.Widest, l.Width)
	case d.WidestObject > l.Width:
		return tooComplex("an input object of the document has %d fields; the limit is %d", d.WidestObject, l.Width)
	case d.TotalComplexity > l.Complexity && d.Operations > 1:
		return tooComplex("the document's operations have complexity %d together, which exceeds the limit of %d", d.TotalComplexity, l.Complexity)
	}
	return l.refuseOperation(d.Worst)
}

func tooComplex(format string, args ...any) *gqlerror.Error {
	e := apperr.New(apperr.ComplexityLimitExceeded, format, args...)
	return &gqlerror.Error{Message: e.Message, Err: e}
}

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

// costs are the complexity estimates the walker applies (listLengths, introspectionCosts).
type costs struct {
	lists map[string]selection.Multiplier
	fixed map[string]int
}

func newCosts(schema *ast.Schema) costs {
	return costs{lists: listLengths(), fixed: introspectionCosts(schema)}
}

var _ graphql.OperationParameterMutator = boundDocument{}

func (boundDocument) ExtensionName() string                          { return "BoundDocument" }
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

const (
	cachedDocumentBytes = 64 << 10
	requestDocument     = "custodia.document" // Stats extension holding a large validated document
)

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

// persistedTexts is the cache of automatic persisted queries: it keeps query texts of up to
// cachedDocumentBytes (least recently used out); larger ones are not persisted (their clients
// send the text again), so registering large documents cannot fill the server's memory.
type persistedTexts struct {
	shared graphql.Cache[string]
}

func newPersistedTexts() persistedTexts {
	return persistedTexts{shared: lru.New[string](1000)}
}

func (c persistedTexts) Get(ctx context.Context, hash string) (string, bool) {
	return c.shared.Get(ctx, hash)
}

func (c persistedTexts) Add(ctx context.Context, hash, query string) {
	if len(query) <= cachedDocumentBytes {
		c.shared.Add(ctx, hash, query)
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

// allowList accepts only operations from a file of persisted operations (production option):
// a request names one by its SHA-256 (extensions.persistedQuery.sha256Hash) or sends its exact
// text.
type allowList struct{ operations map[string]string }

var _ graphql.OperationParameterMutator = allowList{}

func loadAllowList(path string) (allowList, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return allowList{}, err
	}
	var list map[string]string
	if err := json.Unmarshal(raw, &list); err != nil {
		return allowList{}, fmt.Errorf("%s: want a JSON object of sha256 → operation text: %w", path, err)
	}
	ops := make(map[string]string, len(list))
	for hash, text := range list {
		sum := sha256.Sum256([]byte(text))
		if hex.EncodeToString(sum[:]) != hash {
			return allowList{}, fmt.Errorf("%s: the hash %s does not match its operation", path, hash)
		}
		ops[hash] = text
	}
	return allowList{operations: ops}, nil
}

func (allowList) ExtensionName() string                          { return "OperationAllowList" }
func (allowList) Validate(schema graphql.ExecutableSchema) error { return nil }

func (a allowList) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	hash := ""
	if pq, ok := params.Extensions["persistedQuery"].(map[string]any); ok {
		hash, _ = pq["sha256Hash"].(string)
	}
	if params.Query != "" {
		sum := sha256.Sum256([]byte(params.Query))
		hash = hex.EncodeToString(sum[:])
	}
	text, ok := a.operations[hash]
	if !ok {
		e := apperr.New(apperr.Forbidden, "this server accepts only registered (persisted) operations").With("reason", "OPERATION_NOT_ALLOWED")
		return &gqlerror.Error{Message: e.Message, Err: e}
	}
	params.Query = text
	return nil
}

// rateLimiter keeps a token bucket per subject (per server instance).
type rateLimiter struct {
	perSec float64
	burst  int
	mu     sync.Mutex
	subj   map[string]*subjectBucket
}

type subjectBucket struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newRateLimiter(perSec float64, burst int) *rateLimiter {
	return &rateLimiter{perSec: perSec, burst: burst, subj: map[string]*subjectBucket{}}
}

func (r *rateLimiter) allow(subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	b := r.subj[subject]
	if b == nil {
		if len(r.subj) > 10000 { // forget idle subjects so memory stays bounded
			for k, v := range r.subj {
				if now.Sub(v.seen) > time.Minute {
					delete(r.subj, k)
				}
			}
		}
		b = &subjectBucket{limiter: rate.NewLimiter(rate.Limit(r.perSec), r.burst)}
		r.subj[subject] = b
	}
	b.seen = now
	return b.limiter.Allow()
}

// limitRate refuses a subject's requests beyond its rate with HTTP 429 and RATE_LIMITED.
func (s *Server) limitRate(next http.Handler) http.Handler {
	if s.limits.RatePerSec <= 0 {
		return next
	}
	rl := newRateLimiter(s.limits.RatePerSec, s.limits.RateBurst)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := auth.FromContext(r.Context()); p != nil && !rl.allow(p.Subject) {
			w.Header().Set("Retry-After", "1")
			s.refuse(w, r, apperr.New(apperr.RateLimited, "too many requests: at most %g per second (bursts of %d); retry shortly", s.limits.RatePerSec, s.limits.RateBurst))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitRequest bounds the body size and the time a request may take. A body announced larger
// than the limit is refused at once; a chunked one is cut at the limit by the reader, and the
// transport answers PAYLOAD_TOO_LARGE (HTTP 413) too.
func (s *Server) limitRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.limits.BodyBytes {
			s.refuse(w, r, apperr.New(apperr.PayloadTooLarge, "the request body is larger than %d bytes", s.limits.BodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.limits.BodyBytes)
		if isStream(r) { // a subscription lives until it ends or the client leaves
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.limits.Timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// cors answers browsers from the allowed origins ("*" for any); other origins get no CORS
// headers, so browsers refuse them.
func (s *Server) cors(next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, o := range s.limits.CORSOrigins {
		allowed[strings.TrimSpace(o)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (allowed["*"] || allowed[origin]) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Role, X-Request-ID, traceparent, tracestate")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Expose-Headers", "X-Request-ID, Retry-After")
			h.Set("Access-Control-Max-Age", "600")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func envInt(name string, def int) (int, error) {
	v := env(name, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a whole number, got %q", name, v)
	}
	return n, nil
}
