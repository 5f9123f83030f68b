package app

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"custodia/apperr"
	"custodia/auth"
	"custodia/policy"
)

// roleMessages keeps error messages about the caller's operation within the caller's role
// schema (DESIGN §9): no message names — or suggests — a type, field, argument, input field or
// enum value the role may not see, unless the caller wrote it.
//
//   - An operation that fails validation is validated again against the role's schema
//     (policy.SchemaFor), and those errors are returned instead: their wording, and their
//     "Did you mean …?" suggestions, can only draw on what the role may see.
//   - Every other message about the request (variable coercion, parse errors, bad input) has
//     the hidden names the caller did not type replaced (policy.Redactor).
type roleMessages struct {
	policy  *policy.Policy
	tokens  int
	present graphql.ErrorPresenterFunc
}

var _ graphql.ResponseInterceptor = roleMessages{}

func (roleMessages) ExtensionName() string                          { return "RoleMessages" }
func (roleMessages) Validate(schema graphql.ExecutableSchema) error { return nil }

func (m roleMessages) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) == 0 || !graphql.HasOperationContext(ctx) {
		return resp
	}
	p := auth.FromContext(ctx)
	if p == nil {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Doc == nil && hasCode(resp.Errors, string(errcode.ValidationFailed), string(apperr.PurposeRequired)) {
		resp.Errors = m.revalidate(ctx, m.policy.SchemaFor(p.Role), oc.RawQuery, resp.Errors)
	}
	redact := m.policy.Redactor(p.Role, oc.RawQuery)
	for _, e := range resp.Errors {
		if hasCode(gqlerror.List{e}, string(errcode.ValidationFailed), string(errcode.ParseFailed), string(apperr.PurposeRequired), string(apperr.BadUserInput)) {
			e.Message = redact(e.Message)
		}
	}
	return resp
}

// revalidate validates query against the role's schema, with suggestions, and returns those
// errors presented as the executor presents its own (or the original ones if the text no
// longer parses).
func (m roleMessages) revalidate(ctx context.Context, schema *ast.Schema, query string, original gqlerror.List) gqlerror.List {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, m.tokens)
	if err != nil {
		return original
	}
	errs := validator.ValidateWithRules(schema, doc, rules.NewDefaultRules())
	if len(errs) == 0 {
		// Valid for the role's schema, invalid for the full one: only hidden parts are wrong.
		errs = gqlerror.List{gqlerror.Errorf("the operation is not valid")}
	}
	out := make(gqlerror.List, 0, len(errs))
	for _, e := range errs {
		errcode.Set(e, errcode.ValidationFailed)
		out = append(out, m.present(ctx, e))
	}
	return out
}

func hasCode(list gqlerror.List, codes ...string) bool {
	for _, e := range list {
		c, _ := e.Extensions["code"].(string)
		for _, want := range codes {
			if c == want {
				return true
			}
		}
	}
	return false
}
