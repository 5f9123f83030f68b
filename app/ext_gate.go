package app

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/metrics"
	"custodia/policy"
	"custodia/selection"
)

// operationGate decides, after validation and before execution, whether the operation runs.
// One walk of the operation (package selection) gives both the coordinates it selects and its
// measure: it is refused with COMPLEXITY_LIMIT_EXCEEDED when too deep, too wide, too aliased or
// too complex for this request's variables, then with the grant error or one FORBIDDEN error
// listing every coordinate the role may not use (package policy) — and no data either way.
type operationGate struct {
	limits  Limits
	schema  *ast.Schema
	costs   costs
	policy  *policy.Policy
	metrics *metrics.Metrics
}

var (
	_ graphql.HandlerExtension        = operationGate{}
	_ graphql.OperationContextMutator = operationGate{}
)

func (operationGate) ExtensionName() string { return "OperationGate" }

func (operationGate) Validate(schema graphql.ExecutableSchema) error { return nil }

func (g operationGate) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if err := expired(ctx); err != nil {
		return err
	}
	p := auth.FromContext(ctx)
	if p == nil {
		e := apperr.New(apperr.Unauthenticated, "authentication required")
		return &gqlerror.Error{Message: e.Message, Err: e}
	}
	check := g.policy.NewChecker(p.Role, rc.Doc, rc.Variables)
	var roots []string
	w := selection.Walker{Schema: g.schema, Doc: rc.Doc, Lists: g.costs.lists, Fixed: g.costs.fixed, Vars: rc.Variables, MissingFragment: check.MissingFragment,
		Visit: func(f selection.Field) {
			check.Visit(f)
			if f.Root {
				roots = append(roots, f.Node.Name)
			}
		}}
	measure := w.Operation(rc.Operation)
	audit.RecordFrom(ctx).SetCoordinates(check.Selected())
	if refused := g.limits.refuseOperation(measure); refused != nil {
		return refused
	}
	if p.GrantErr != nil && !grantSelfService(roots) {
		return &gqlerror.Error{Message: p.GrantErr.Error(), Err: p.GrantErr}
	}
	denied := check.Denied()
	if len(denied) == 0 {
		return nil
	}
	g.metrics.Denials.WithLabelValues(string(p.Role)).Inc()
	e := apperr.New(apperr.Forbidden, "role %s may not read %s", p.Role, strings.Join(denied, ", ")).With("deniedCoordinates", denied)
	return &gqlerror.Error{Message: e.Message, Err: e}
}

// grantSelfServiceFields are the root fields an official may use without an active grant: to
// see who they are, their grants and their grants' events, to request access and to
// re-confirm a suspended grant.
var grantSelfServiceFields = map[string]bool{
	"me": true, "myAccessGrants": true, "requestAccess": true, "reconfirmAccessGrant": true, "grantEvents": true,
	"__typename": true, "__schema": true, "__type": true,
}

func grantSelfService(roots []string) bool {
	for _, f := range roots {
		if !grantSelfServiceFields[f] {
			return false
		}
	}
	return true
}
