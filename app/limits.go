package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/time/rate"

	"custodia/apperr"
	"custodia/auth"
	"custodia/graph"
	"custodia/model"
)

// Limits bound what one request may cost (DESIGN §9, issue "abuse limits"). Every refusal is
// an error with a stable code: COMPLEXITY_LIMIT_EXCEEDED for the shape and size of a request,
// RATE_LIMITED (HTTP 429) for too many requests, SERVICE_UNAVAILABLE for a timeout.
type Limits struct {
	Complexity    int
	Depth         int
	Aliases       int
	RootFields    int
	BodyBytes     int64
	Timeout       time.Duration
	RatePerSec    float64
	RateBurst     int
	CORSOrigins   []string
	AllowListFile string
}

// DefaultLimits suit the demo register and the frontends of DESIGN §1: a page of 50 persons
// with every relation fits well within them.
//
// The rate limit is per subject: 20 requests a second sustained, bursts of 100. The burst is
// sized so that no ordinary client is ever refused: a frontend page load issues a few dozen
// operations at once (one per panel, each possibly twice with automatic persisted queries), a
// GraphiQL session one or two per action plus its schema introspection, and the graphql-http
// conformance audit about 70 in a row. Scripted bulk reading is still held to 20 a second.
var DefaultLimits = Limits{Complexity: 30000, Depth: 12, Aliases: 30, RootFields: 10, BodyBytes: 1 << 20,
	Timeout: 15 * time.Second, RatePerSec: 20, RateBurst: 100}

// complexityOf estimates list sizes for the complexity limit: a list costs its element's
// complexity times its (maximum or typical) length.
func complexityOf() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	page := func(first *int, def int) int {
		if first != nil && *first > 0 {
			return *first
		}
		return def
	}
	c.Query.SearchPersons = func(child int, _ model.PersonSearchInput, first *int, _ *string, _ model.PurposeInput) int {
		return 1 + child*page(first, 20)
	}
	c.Query.AccessGrants = func(child int, _ *model.AccessGrantFilter, first *int, _ *string) int {
		return 1 + child*page(first, 20)
	}
	c.Query.AuditTrail = func(child int, _ *model.AuditFilter, first *int, _ *string) int { return 1 + child*page(first, 50) }
	c.Query.Prisons = func(child int, _ *model.PrisonKind) int { return 1 + child*40 }
	c.Query.Disclosures = func(child int, _ string) int { return 1 + child*50 }
	c.Query.MyAccessGrants = func(child int) int { return 1 + child*5 }
	c.Query.RecipientsToNotify = func(child int, _ string, _ model.DateTime) int { return 1 + child*10 }
	c.Person.Convictions = func(child int, _ *bool) int { return 1 + child*5 }
	c.Person.DetentionHistory = func(child int, _ *bool) int { return 1 + child*5 }
	c.Sentence.Transitions = func(child int) int { return 1 + child*4 }
	c.Person.PreviousNames = func(child int) int { return 1 + child*2 }
	c.Conviction.Offences = func(child int) int { return 1 + child*3 }
	c.Conviction.Sentences = func(child int) int { return 1 + child*3 }
	return c
}

// shapeLimits refuses operations that are too deep, use too many aliases or ask for too many
// root fields, before execution. Introspection subtrees are not counted.
type shapeLimits struct{ limits Limits }

var _ graphql.OperationContextMutator = shapeLimits{}

func (shapeLimits) ExtensionName() string                          { return "ShapeLimits" }
func (shapeLimits) Validate(schema graphql.ExecutableSchema) error { return nil }

func (l shapeLimits) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	depth, aliases, roots := measure(rc.Operation.SelectionSet, 1, map[string]bool{})
	var problem string
	switch {
	case depth > l.limits.Depth:
		problem = fmt.Sprintf("the operation is %d levels deep; the limit is %d", depth, l.limits.Depth)
	case aliases > l.limits.Aliases:
		problem = fmt.Sprintf("the operation uses %d aliases; the limit is %d", aliases, l.limits.Aliases)
	case roots > l.limits.RootFields:
		problem = fmt.Sprintf("the operation asks for %d root fields; the limit is %d", roots, l.limits.RootFields)
	default:
		return nil
	}
	e := apperr.New(apperr.ComplexityLimitExceeded, "%s", problem)
	return &gqlerror.Error{Message: e.Message, Err: e}
}

// measure returns the depth, the number of aliases and the number of fields at this level.
func measure(set ast.SelectionSet, level int, seen map[string]bool) (depth, aliases, fields int) {
	depth = level - 1
	for _, sel := range set {
		var d, a, f int
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			f = 1
			if s.Alias != "" && s.Alias != s.Name {
				a = 1
			}
			cd, ca, _ := measure(s.SelectionSet, level+1, seen)
			d, a = max(level, cd), a+ca
		case *ast.InlineFragment:
			d, a, f = measure(s.SelectionSet, level, seen)
		case *ast.FragmentSpread:
			if s.Definition == nil || seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			d, a, f = measure(s.Definition.SelectionSet, level, seen)
			delete(seen, s.Name)
		}
		depth, aliases, fields = max(depth, d), aliases+a, fields+f
	}
	return depth, aliases, fields
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
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Role, X-Request-ID")
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
