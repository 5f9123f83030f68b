package app

import (
	"context"
	"errors"

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
//     (policy.SchemaFor) by boundDocument, which returns those errors instead, wrapped in one
//     error (an operation parameter mutator returns one): this interceptor unwraps them. Their
//     wording, and their "Did you mean …?" suggestions, can only draw on what the role may see.
//   - Every other message about the request (variable coercion, parse errors, bad input) has
//     the hidden names the caller did not type replaced (policy.Redactor).
type roleMessages struct {
	policy  *policy.Policy
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
	var out gqlerror.List
	for _, e := range resp.Errors {
		var invalid validationErrors
		if errors.As(e.Err, &invalid) {
			for _, v := range invalid {
				out = append(out, m.present(ctx, v))
			}
			continue
		}
		out = append(out, e)
	}
	resp.Errors = out
	redact := m.policy.Redactor(p.Role, oc.RawQuery)
	for _, e := range resp.Errors {
		if hasCode(e, string(errcode.ValidationFailed), string(errcode.ParseFailed), string(apperr.PurposeRequired), string(apperr.BadUserInput)) {
			e.Message = redact(e.Message)
		}
	}
	return resp
}

// validationErrors are the validation errors of an operation for the caller's role, carried
// from boundDocument to roleMessages inside one *gqlerror.Error.
type validationErrors gqlerror.List

func (v validationErrors) Error() string { return v[0].Message }

// invalidForRole validates the document again, with suggestions, against the schema of the
// caller's role, and returns its errors wrapped in one error (see roleMessages). If the
// document is valid for the role's schema — only parts hidden from the role are wrong — the
// error says just that the operation is not valid.
func invalidForRole(ctx context.Context, pol *policy.Policy, query string, tokens int, errs gqlerror.List) *gqlerror.Error {
	if p := auth.FromContext(ctx); p != nil {
		if doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, tokens); err == nil {
			errs = validator.ValidateWithRules(pol.SchemaFor(p.Role), doc, rules.NewDefaultRules())
		}
	}
	if len(errs) == 0 {
		errs = gqlerror.List{gqlerror.Errorf("the operation is not valid")}
	}
	for _, e := range errs {
		errcode.Set(e, errcode.ValidationFailed)
	}
	wrapped := &gqlerror.Error{Message: errs[0].Message, Locations: errs[0].Locations, Err: validationErrors(errs)}
	errcode.Set(wrapped, errcode.ValidationFailed)
	return wrapped
}

func hasCode(e *gqlerror.Error, codes ...string) bool {
	c, _ := e.Extensions["code"].(string)
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}
