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

// The codes of DESIGN §9. Never rename one: they are part of the API contract. Each code's
// HTTP status is decided once, by the HTTP layer (package app); Codes lists them all.
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
	// RateLimited: too many requests of one subject.
	RateLimited Code = "RATE_LIMITED"
	// BadRequest: the HTTP request is not a GraphQL request custodia accepts (malformed JSON,
	// a batch, a wrong content type, parameters of the wrong type, a bad persisted-query hash).
	BadRequest Code = "BAD_REQUEST"
	// MethodNotAllowed: an HTTP method other than GET and POST, or a mutation sent with GET.
	MethodNotAllowed Code = "METHOD_NOT_ALLOWED"
	// PayloadTooLarge: the request body is larger than the configured limit.
	PayloadTooLarge Code = "PAYLOAD_TOO_LARGE"
	// GraphQLParseFailed, GraphQLValidationFailed and PersistedQueryNotFound are set by gqlgen
	// (the same strings); they are named here so that every code has one list.
	GraphQLParseFailed      Code = "GRAPHQL_PARSE_FAILED"
	GraphQLValidationFailed Code = "GRAPHQL_VALIDATION_FAILED"
	PersistedQueryNotFound  Code = "PERSISTED_QUERY_NOT_FOUND"
	// TooManySubscriptions: the official holds as many open subscriptions as allowed.
	TooManySubscriptions Code = "TOO_MANY_SUBSCRIPTIONS"
	ServiceUnavailable   Code = "SERVICE_UNAVAILABLE"
	Internal             Code = "INTERNAL"
)

// CodeInfo documents one code: when a caller gets it.
type CodeInfo struct {
	Code Code
	When string
}

// Codes lists every code a caller can get, in the order of the documentation (docs/errors.md
// is generated from it and the HTTP layer's status table, and tested against both).
var Codes = []CodeInfo{
	{Unauthenticated, "no bearer token, a token that fails verification (signature, issuer, audience, expiry, role), or ambiguous credentials (two `Authorization` headers, a token also in the query string or a cookie)"},
	{Forbidden, "the operation selects a schema coordinate the caller's role may not read (`extensions.deniedCoordinates` lists them), or an operation outside the production allow-list; no data"},
	{GrantRequired, "the caller has no access grant for this subject, role and agency; only grant self-service operations run"},
	{GrantSuspended, "the caller's grant is suspended (e.g. its identity claims changed: re-confirm it)"},
	{GrantRevoked, "the caller's grant was revoked"},
	{GrantExpired, "the caller's grant is past its validity end"},
	{PurposeRequired, "a root field that reads person data was sent without `purpose`, or with a purpose the grant does not allow"},
	{NotFound, "the record does not exist or is outside the caller's rows (REINTEGRATION caseload) — the two read alike"},
	{BadUserInput, "an argument or input field is invalid; `extensions.field` names it"},
	{Conflict, "a stale `version`, an idempotency key reused with other input, or a write the register's state forbids"},
	{ComplexityLimitExceeded, "the operation is too deep, too complex, uses too many aliases or root fields, or the document is over a bound checked before validation (tokens, fields of one selection set or input object, fragment spreads, repeated fields, variables, operations)"},
	{RateLimited, "the subject sent more requests than its rate allows; retry after `Retry-After` seconds"},
	{TooManySubscriptions, "the official already holds as many open subscriptions (`watchPerson`, `watchPersons`) as one official may; `extensions.limit` says how many"},
	{BadRequest, "the HTTP request is malformed: not JSON, a JSON batch (array), a `Content-Type` other than `application/json`, `query`/`operationName`/`variables`/`extensions` of the wrong type or missing, bad JSON in GET parameters, a persisted-query hash that does not match its query, a subscription sent without a stream (SSE or websocket)"},
	{MethodNotAllowed, "an HTTP method other than GET or POST, or a mutation sent with GET (the `Allow` header says what is allowed)"},
	{PayloadTooLarge, "the request body is larger than `MAX_BODY_BYTES`, whether announced by `Content-Length` or sent chunked"},
	{GraphQLParseFailed, "the query text is not valid GraphQL syntax, or exceeds the parser's token limit"},
	{GraphQLValidationFailed, "the query does not validate against the caller's schema, or its variables do not match their types"},
	{PersistedQueryNotFound, "an automatic persisted query sent by hash only, and the server does not know the hash yet: send the query text with the hash"},
	{ServiceUnavailable, "the database or the audit trail cannot be reached, or the request ran past `REQUEST_TIMEOUT`; no data, retry shortly (`/readyz` is 503 meanwhile)"},
	{Internal, "a fault of the server itself; the message is hidden, the details are in the server log under `extensions.requestId`"},
}

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
