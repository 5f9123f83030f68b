// Package apperr is custodia's one error type. Every error a caller can see carries a stable
// Code (DESIGN §9), mapped once, by Presenter, to the GraphQL error's extensions.code. Errors
// that are not *Error are internal: the caller sees only "internal error" and the request ID,
// and the details go to the log.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a stable, documented error code; frontends switch on it.
type Code string

// The codes of DESIGN §9. Never rename one: they are part of the API contract.
const (
	Unauthenticated         Code = "UNAUTHENTICATED"
	Forbidden               Code = "FORBIDDEN"
	GrantRequired           Code = "GRANT_REQUIRED"
	GrantSuspended          Code = "GRANT_SUSPENDED"
	GrantRevoked            Code = "GRANT_REVOKED"
	GrantExpired            Code = "GRANT_EXPIRED"
	PurposeRequired         Code = "PURPOSE_REQUIRED"
	NotFound                Code = "NOT_FOUND"
	BadUserInput            Code = "BAD_USER_INPUT"
	Conflict                Code = "CONFLICT"
	ComplexityLimitExceeded Code = "COMPLEXITY_LIMIT_EXCEEDED"
	ServiceUnavailable      Code = "SERVICE_UNAVAILABLE"
	// RateLimited (HTTP 429) is the one code beyond DESIGN §9: too many requests of a subject.
	RateLimited Code = "RATE_LIMITED"
	// TooManySubscriptions: the official holds as many open subscriptions as allowed.
	TooManySubscriptions Code = "TOO_MANY_SUBSCRIPTIONS"
	Internal    Code = "INTERNAL"
)

// Error is an error whose message is safe to show to the caller. Extensions are added to the
// GraphQL error's extensions next to "code" (e.g. the field at fault, denied coordinates).
// Cause is never shown; it is logged for INTERNAL and SERVICE_UNAVAILABLE errors.
type Error struct {
	Code       Code
	Message    string
	Extensions map[string]any
	Cause      error
}

// Error returns the caller-facing message.
func (e *Error) Error() string { return e.Message }

// Unwrap exposes the cause to errors.Is / errors.As (for logging only).
func (e *Error) Unwrap() error { return e.Cause }

// New makes an error with a code and a caller-facing message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e with one more extension.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Extensions = make(map[string]any, len(e.Extensions)+1)
	for k, v := range e.Extensions {
		c.Extensions[k] = v
	}
	c.Extensions[key] = value
	return &c
}

// BadInput is a BAD_USER_INPUT error naming the input field at fault (a path such as
// "filter.dateOfBirth"), so a frontend can put the message next to the right form field.
func BadInput(field, format string, args ...any) *Error {
	return New(BadUserInput, format, args...).With("field", field)
}

// NotFoundf is a NOT_FOUND error. Its message must not reveal whether the record exists but is
// hidden from the caller.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// Unavailable wraps a failure to reach a dependency (the database, the audit store): the caller
// is told to retry, the cause is logged.
func Unavailable(cause error) *Error {
	return &Error{Code: ServiceUnavailable, Message: "the register is temporarily unavailable; retry shortly", Cause: cause}
}

// CodeOf is the code of err: the code of the first *Error in its chain, INTERNAL otherwise.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}
