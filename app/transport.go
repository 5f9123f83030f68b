package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"custodia/apperr"
)

// statusRule is how one error code reaches HTTP.
type statusRule struct {
	// Status is the HTTP status of a response refused with this code.
	Status int
	// Always: the status is used whatever the client accepts. Otherwise the code is a GraphQL
	// request error: GraphQL-over-HTTP answers it with 200 under application/json and with
	// Status under application/graphql-response+json (when the response has no data).
	Always bool
}

// codeStatus is the one table from error code to HTTP status (DESIGN §9). Every code of
// apperr.Codes has a row (tested); docs/errors.md is generated from it.
var codeStatus = map[apperr.Code]statusRule{
	apperr.Unauthenticated:         {http.StatusUnauthorized, true},
	apperr.Forbidden:               {http.StatusForbidden, false},
	apperr.GrantRequired:           {http.StatusForbidden, false},
	apperr.GrantSuspended:          {http.StatusForbidden, false},
	apperr.GrantRevoked:            {http.StatusForbidden, false},
	apperr.GrantExpired:            {http.StatusForbidden, false},
	apperr.PurposeRequired:         {http.StatusBadRequest, false},
	apperr.NotFound:                {http.StatusNotFound, false},
	apperr.BadUserInput:            {http.StatusBadRequest, false},
	apperr.Conflict:                {http.StatusConflict, false},
	apperr.ComplexityLimitExceeded: {http.StatusBadRequest, false},
	apperr.RateLimited:             {http.StatusTooManyRequests, true},
	apperr.TooManySubscriptions:    {http.StatusTooManyRequests, false},
	apperr.BadRequest:              {http.StatusBadRequest, true},
	apperr.MethodNotAllowed:        {http.StatusMethodNotAllowed, true},
	apperr.PayloadTooLarge:         {http.StatusRequestEntityTooLarge, true},
	apperr.GraphQLParseFailed:      {http.StatusBadRequest, false},
	apperr.GraphQLValidationFailed: {http.StatusBadRequest, false},
	apperr.PersistedQueryNotFound:  {http.StatusBadRequest, false},
	apperr.ServiceUnavailable:      {http.StatusServiceUnavailable, true},
	apperr.Internal:                {http.StatusInternalServerError, true},
}

// StatusRule returns the HTTP status of a code and whether it applies whatever the client
// accepts (see codeStatus); unknown codes are INTERNAL's.
func StatusRule(code apperr.Code) (status int, always bool) {
	r, ok := codeStatus[code]
	if !ok {
		r = codeStatus[apperr.Internal]
	}
	return r.Status, r.Always
}

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// responseMediaType is the media type of the answer: application/graphql-response+json when
// the client prefers it (by its Accept header's order and q-values), application/json
// otherwise — also for */*, application/*, no Accept header, or only types custodia cannot send.
func responseMediaType(r *http.Request) string {
	best, bestQ := mediaJSON, 0.0
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		switch mt {
		case mediaGraphQLResponse, mediaJSON, "*/*", "application/*":
			if q > bestQ {
				best, bestQ = mt, q
			}
		}
	}
	if best != mediaGraphQLResponse {
		return mediaJSON
	}
	return best
}

// responseStatus is the HTTP status of a GraphQL response: 200 when it carries data or no
// error; otherwise the status of its first error's code by codeStatus.
func responseStatus(resp *graphql.Response, media string) int {
	if len(resp.Errors) == 0 {
		return http.StatusOK
	}
	if d := bytes.TrimSpace(resp.Data); len(d) > 0 && !bytes.Equal(d, []byte("null")) {
		return http.StatusOK // field errors next to data: always 2xx
	}
	status, always := StatusRule(errorCode(resp.Errors[0]))
	if always || media == mediaGraphQLResponse {
		return status
	}
	return http.StatusOK
}

func errorCode(e *gqlerror.Error) apperr.Code {
	code, _ := e.Extensions["code"].(string)
	if code == "" {
		return apperr.Internal
	}
	return apperr.Code(code)
}

// writeResponse is the one writer of /query responses: every answer — data, GraphQL errors or
// a refusal before GraphQL — leaves through it, with its status from codeStatus, the media
// type the client accepts, and its codes counted in the metrics.
func (s *Server) writeResponse(w http.ResponseWriter, r *http.Request, resp *graphql.Response) {
	media := responseMediaType(r)
	status := responseStatus(resp, media)
	for _, e := range resp.Errors {
		s.Metrics.Errors.WithLabelValues(string(errorCode(e))).Inc()
	}
	if len(resp.Errors) > 0 {
		responseInfoFrom(r.Context()).code = string(errorCode(resp.Errors[0]))
	}
	body, err := json.Marshal(wireResponse{Errors: resp.Errors, Data: resp.Data, Extensions: resp.Extensions})
	if err != nil {
		s.log.ErrorContext(r.Context(), "response not encodable", "request_id", requestIDFrom(r.Context()), "error", err.Error())
		status = http.StatusInternalServerError
		body, _ = json.Marshal(wireResponse{Errors: gqlerror.List{{Message: "internal error",
			Extensions: map[string]any{"code": string(apperr.Internal), "requestId": requestIDFrom(r.Context())}}}})
		responseInfoFrom(r.Context()).code = string(apperr.Internal)
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// wireResponse is a GraphQL response as sent: without a data entry when the operation was not
// executed (a request error, GraphQL-over-HTTP), with "data": null when execution nulled it.
type wireResponse struct {
	Errors     gqlerror.List   `json:"errors,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// graphqlHTTP is custodia's GraphQL-over-HTTP transport (GET and POST, one operation per
// request). It replaces gqlgen's transports so that every malformed request gets a coded
// error through writeResponse — never a message quoting the body — and is audited by the
// executor's response interceptors like any operation.
type graphqlHTTP struct{ s *Server }

var _ graphql.Transport = graphqlHTTP{}

// Supports takes every request to /query: refusing a method or media type is its job too.
func (graphqlHTTP) Supports(*http.Request) bool { return true }

// Do reads the request, runs the operation and writes the answer.
func (t graphqlHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	start := graphql.Now()
	params, err := readParams(r)
	if err != nil {
		if apperr.CodeOf(err) == apperr.MethodNotAllowed {
			w.Header().Set("Allow", "GET, POST")
		}
		t.s.writeResponse(w, r, exec.DispatchError(ctx, gqlerror.List{asGQLError(err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	oc, errs := exec.CreateOperationContext(ctx, params)
	switch {
	case oc == nil || oc.Operation == nil:
	case r.Method == http.MethodGet && oc.Operation.Operation != ast.Query:
		// GET is safe and cacheable by HTTP's rules: only queries (GraphQL-over-HTTP).
		w.Header().Set("Allow", "POST")
		errs = gqlerror.List{asGQLError(apperr.New(apperr.MethodNotAllowed, "a %s must be sent with POST; GET runs only queries", oc.Operation.Operation))}
	case oc.Operation.Operation == ast.Subscription:
		// One answer per request cannot carry a stream: the subscription would be opened and
		// held, unanswered, until the request timed out.
		errs = gqlerror.List{asGQLError(apperr.New(apperr.BadRequest, "a subscription needs a stream: send it with Accept: text/event-stream (Server-Sent Events) or over a graphql-transport-ws websocket"))}
	}
	if errs != nil {
		t.s.writeResponse(w, r, exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	resp := responses(ctx)
	if resp == nil { // the request's context ended before the response was produced
		resp = exec.DispatchError(ctx, gqlerror.List{asGQLError(timedOut(ctx))})
	}
	t.s.writeResponse(w, r, resp)
}

func asGQLError(err error) *gqlerror.Error {
	return &gqlerror.Error{Message: err.Error(), Err: err}
}

// timedOut is the SERVICE_UNAVAILABLE error of a request whose context ended.
func timedOut(ctx context.Context) *apperr.Error {
	return &apperr.Error{Code: apperr.ServiceUnavailable, Message: "the request took longer than the server allows and was stopped; no data is returned, retry shortly",
		Cause: fmt.Errorf("request context ended: %w", context.Cause(ctx))}
}

func badRequest(format string, args ...any) *apperr.Error {
	return apperr.New(apperr.BadRequest, format, args...)
}

// readParams decodes a GET or POST request into GraphQL parameters. Its errors never quote
// the request: a body may hold personal data (DESIGN §9).
func readParams(r *http.Request) (*graphql.RawParams, error) {
	switch r.Method {
	case http.MethodGet:
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, badRequest("the URL's query string is malformed")
		}
		p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
		if p.Variables, err = jsonObject("variables", q.Get("variables")); err != nil {
			return nil, err
		}
		if p.Extensions, err = jsonObject("extensions", q.Get("extensions")); err != nil {
			return nil, err
		}
		return p, requireQuery(p)
	case http.MethodPost:
		mt, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != mediaJSON {
			return nil, badRequest("send the request with Content-Type: application/json")
		}
		if cs, ok := mp["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, badRequest("the request body must be UTF-8 encoded")
		}
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
				return nil, apperr.New(apperr.PayloadTooLarge, "the request body is larger than %d bytes", tooLarge.Limit)
			}
			return nil, badRequest("the request body could not be read")
		}
		return decodeBody(raw)
	}
	return nil, apperr.New(apperr.MethodNotAllowed, "use GET or POST")
}

// decodeBody decodes a POST body in one pass: one JSON object with query, operationName,
// variables and extensions of the right types (null counts as absent).
func decodeBody(raw []byte) (*graphql.RawParams, error) {
	body := bytes.TrimSpace(raw)
	switch {
	case len(body) == 0:
		return nil, badRequest("the request body is empty: send a JSON object with a query")
	case body[0] == '[':
		return nil, badRequest("batched requests (a JSON array) are not supported: send one operation per request")
	case body[0] != '{':
		return nil, badRequest("the request body is not a JSON object")
	}
	var fields struct {
		Query, OperationName, Variables, Extensions any
	}
	if err := strictJSON(body, &fields); err != nil {
		return nil, badRequest("the request body is not a JSON object")
	}
	p := &graphql.RawParams{}
	var ok bool
	if p.Query, ok = optional[string](fields.Query); !ok {
		return nil, badRequest("query must be a string")
	}
	if p.OperationName, ok = optional[string](fields.OperationName); !ok {
		return nil, badRequest("operationName must be a string")
	}
	if p.Variables, ok = optional[map[string]any](fields.Variables); !ok {
		return nil, badRequest("variables must be a JSON object")
	}
	if p.Extensions, ok = optional[map[string]any](fields.Extensions); !ok {
		return nil, badRequest("extensions must be a JSON object")
	}
	return p, requireQuery(p)
}

// optional is v as a T, or T's zero value when v is absent or null; ok is false for another type.
func optional[T any](v any) (t T, ok bool) {
	if v == nil {
		return t, true
	}
	t, ok = v.(T)
	return t, ok
}

// jsonObject decodes a GET parameter holding a JSON object ("" is none).
func jsonObject(name, value string) (map[string]any, error) {
	if value == "" {
		return nil, nil
	}
	var out map[string]any
	if err := strictJSON([]byte(value), &out); err != nil || out == nil {
		return nil, badRequest("the %s parameter must be a JSON object", name)
	}
	return out, nil
}

// strictJSON decodes exactly one JSON value, numbers kept as json.Number as gqlgen expects.
func strictJSON(raw []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// requireQuery refuses a request with neither a query nor a persisted-query hash.
func requireQuery(p *graphql.RawParams) error {
	if p.Query == "" && p.Extensions["persistedQuery"] == nil {
		return badRequest("the request has no query: send query (a string) or extensions.persistedQuery")
	}
	return nil
}

// ErrorTableMarkdown renders every code of apperr.Codes with its HTTP status from codeStatus
// and when it happens: the table of docs/errors.md and the README (tested to match).
func ErrorTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| code | HTTP status | when |\n|---|---|---|\n")
	for _, c := range apperr.Codes {
		status, always := StatusRule(c.Code)
		text := fmt.Sprintf("%d", status)
		if !always {
			text = fmt.Sprintf("200; %d under `application/graphql-response+json` when there is no data", status)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.Code, text, c.When)
	}
	return b.String()
}
