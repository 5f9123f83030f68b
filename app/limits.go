package app

import (
	"fmt"
	"strconv"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
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
		"Query.corrections":        fixed(20),
		"Query.grantEvents":        page(50),
		// An export page reads and encodes `first` entries of the audit log.
		"Query.auditExport": page(1000),
		// A blocking mark is a few scalars stored with its item: it costs one, whatever is
		// selected below it (its children count zero times).
		"Person.blocked":          fixed(0),
		"Conviction.blocked":      fixed(0),
		"Sentence.blocked":        fixed(0),
		"DetentionPeriod.blocked": fixed(0),
		"Person.convictions":      fixed(5),
		"Person.detentionHistory": fixed(5),
		"Person.previousNames":    fixed(2),
		"Conviction.offences":     fixed(3),
		"Conviction.sentences":    fixed(3),
		"Sentence.transitions":    fixed(4),
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

// costs are the complexity estimates the walker applies (listLengths, introspectionCosts).
type costs struct {
	lists map[string]selection.Multiplier
	fixed map[string]int
}

func newCosts(schema *ast.Schema, complexity int) costs {
	fixed := introspectionCosts(schema)
	// verifyAuditChain reads and hashes the whole audit log, a cost no selection shows: it
	// weighs more than half the complexity limit, so an operation asks for it once (ten
	// aliased copies did ten verifications in one request).
	fixed["Query.verifyAuditChain"] = complexity/2 + 1
	return costs{lists: listLengths(), fixed: fixed}
}

const (
	cachedDocumentBytes = 64 << 10
	requestDocument     = "custodia.document" // Stats extension holding a large validated document
)

func envInt(name string, def int) (int, error) {
	v := env(name, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a whole number, got %q", name, v)
	}
	return n, nil
}
