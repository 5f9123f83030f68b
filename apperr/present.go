package apperr

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// RequestIDFunc returns the request ID carried by ctx, for error extensions and logs.
type RequestIDFunc func(ctx context.Context) string

// Presenter is the gqlgen error presenter: it gives every error a stable extensions.code,
// keeps the message of *Error, and replaces everything else by "internal error" while logging
// the details (never the request's variables or data) under the request ID.
func Presenter(log *slog.Logger, requestID RequestIDFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var appErr *Error
		if errors.As(err, &appErr) {
			gqlErr.Message = appErr.Message
			ext := map[string]any{"code": string(appErr.Code)}
			for k, v := range appErr.Extensions {
				ext[k] = v
			}
			if appErr.Cause != nil {
				log.ErrorContext(ctx, "request failed", "code", appErr.Code, "request_id", requestID(ctx), "error", appErr.Cause.Error())
			}
			gqlErr.Extensions = ext
			return gqlErr
		}
		if code, ok := gqlErr.Extensions["code"].(string); ok && isParserCode(code) {
			// gqlgen's own parse/validation errors: the message is about the query text, safe to show.
			if strings.Contains(gqlErr.Message, `argument "purpose" of type "PurposeInput!" is required`) {
				gqlErr.Extensions["code"] = string(PurposeRequired)
			}
			return gqlErr
		}
		log.ErrorContext(ctx, "internal error", "request_id", requestID(ctx), "path", gqlErr.Path.String(), "error", err.Error())
		return &gqlerror.Error{
			Message:    "internal error",
			Path:       gqlErr.Path,
			Locations:  gqlErr.Locations,
			Extensions: map[string]any{"code": string(Internal), "requestId": requestID(ctx)},
		}
	}
}

func isParserCode(code string) bool {
	switch code {
	case string(GraphQLParseFailed), string(GraphQLValidationFailed), string(PersistedQueryNotFound), string(ComplexityLimitExceeded):
		return true
	}
	return false
}
