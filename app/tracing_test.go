package app_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
)

// tracedEnv is a test server whose spans go to an in-memory recorder.
func tracedEnv(t *testing.T) (*testenv.Env, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	env := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.TracerProvider = tp }})
	return env, rec
}

const lookupQuery = `query Lookup($n: String!, $p: PurposeInput!) { personByNationalId(nationalId: $n, purpose: $p) { familyName convictions { caseReference } } }`

var lookupVars = map[string]any{"n": "800115/2346", "p": map[string]any{"caseReference": "KRPA-SECRET-77", "reason": "PRE_TRIAL_INVESTIGATION"}}

// secrets are values of the lookup that must never reach a span attribute.
var secrets = []string{"800115", "Novák", "KRPA-SECRET", "personByNationalId(", "Bearer", "eyJ"}

func checkNoSecrets(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, s := range spans {
		for _, a := range s.Attributes() {
			v := fmt.Sprint(a.Value.AsInterface())
			for _, secret := range secrets {
				if strings.Contains(v, secret) || strings.Contains(v, url.QueryEscape(secret)) {
					t.Errorf("span %q attribute %s carries %q", s.Name(), a.Key, secret)
				}
			}
		}
		for _, e := range s.Events() {
			for _, a := range e.Attributes {
				for _, secret := range secrets {
					if strings.Contains(fmt.Sprint(a.Value.AsInterface()), secret) {
						t.Errorf("span %q event %q attribute %s carries %q", s.Name(), e.Name, a.Key, secret)
					}
				}
			}
		}
	}
}

func TestTracingNeverRecordsVariables(t *testing.T) {
	t.Parallel()
	env, rec := tracedEnv(t)
	env.MustData(model.RolePolice, lookupQuery, lookupVars)
	// The same lookup by GET: query and variables travel in the URL's query string.
	vars, _ := json.Marshal(lookupVars)
	req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+"/query?query="+url.QueryEscape(lookupQuery)+"&variables="+url.QueryEscape(string(vars)), nil)
	req.Header.Set("Authorization", "Bearer "+env.Token(model.RolePolice))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data   map[string]any     `json:"data"`
		Errors []testenv.GQLError `json:"errors"`
	}
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(got.Errors) > 0 || got.Data["personByNationalId"] == nil {
		t.Fatalf("the lookup by GET: %d %v %+v", resp.StatusCode, err, got)
	}
	names := map[string]bool{}
	for _, s := range rec.Ended() {
		names[s.Name()] = true
	}
	checkNoSecrets(t, rec.Ended())
	for _, want := range []string{"POST /query", "GET /query", "graphql Lookup", "db find", "audit append"} {
		if !names[want] {
			t.Errorf("no %q span among %v", want, names)
		}
	}
}

// TestTraceContextIsContinued sends a W3C traceparent: the request's spans join that trace
// under the caller's span, the operation span is a child of the HTTP span, every database
// command and the audit append are below the operation span, and the log lines of the
// request carry the trace ID.
func TestTraceContextIsContinued(t *testing.T) {
	t.Parallel()
	env, rec := tracedEnv(t)
	const (
		callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		callerSpan  = "00f067aa0ba902b7"
	)
	r := env.Do(env.Token(model.RoleCourt), lookupQuery, map[string]any{"n": "800115/2346", "p": testenv.Purpose(model.RoleCourt)},
		"traceparent", "00-"+callerTrace+"-"+callerSpan+"-01", "tracestate", "vendor=opaque")
	if len(r.Errors) > 0 {
		t.Fatalf("lookup: %s", r.Raw)
	}
	var inTrace []sdktrace.ReadOnlySpan
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID().String() == callerTrace {
			inTrace = append(inTrace, s)
			byID[s.SpanContext().SpanID()] = s
		}
	}
	find := func(name string) sdktrace.ReadOnlySpan {
		for _, s := range inTrace {
			if s.Name() == name {
				return s
			}
		}
		t.Fatalf("no span %q in the caller's trace (%d spans in it)", name, len(inTrace))
		return nil
	}
	httpSpan, opSpan := find("POST /query"), find("graphql Lookup")
	if got := httpSpan.Parent().SpanID().String(); got != callerSpan || !httpSpan.Parent().IsRemote() {
		t.Errorf("the HTTP span's parent is %s (remote %v), want the caller's span %s", got, httpSpan.Parent().IsRemote(), callerSpan)
	}
	if got := httpSpan.Parent().TraceState().Get("vendor"); got != "opaque" {
		t.Errorf("tracestate not carried: vendor=%q", got)
	}
	if opSpan.Parent().SpanID() != httpSpan.SpanContext().SpanID() {
		t.Errorf("the operation span is not a child of the HTTP span")
	}
	// below reports whether s descends from the operation span.
	below := func(s sdktrace.ReadOnlySpan) bool {
		for p := s.Parent(); p.IsValid(); {
			if p.SpanID() == opSpan.SpanContext().SpanID() {
				return true
			}
			parent, ok := byID[p.SpanID()]
			if !ok {
				return false
			}
			p = parent.Parent()
		}
		return false
	}
	// Database commands run in the grant check (before the operation) or in the operation.
	grantSpan := find("grant check")
	if grantSpan.Parent().SpanID() != httpSpan.SpanContext().SpanID() {
		t.Errorf("the grant check span is not a child of the HTTP span")
	}
	underOperation := 0
	for _, s := range inTrace {
		if !strings.HasPrefix(s.Name(), "db ") {
			continue
		}
		parent := s.Parent().SpanID()
		if parent != opSpan.SpanContext().SpanID() && parent != grantSpan.SpanContext().SpanID() {
			t.Errorf("database span %q is a child of %q, not of the operation or grant check span", s.Name(), byID[parent].Name())
		}
		if parent == opSpan.SpanContext().SpanID() {
			underOperation++
		}
	}
	if underOperation == 0 {
		t.Error("no database span under the operation span in the caller's trace")
	}
	if audit := find("audit append"); !below(audit) {
		t.Error("the audit append is not below the operation span")
	}
	checkNoSecrets(t, inTrace)

	// The request's log lines carry the trace and span IDs.
	var requestLines int
	sc := bufio.NewScanner(strings.NewReader(env.Logs.String()))
	for sc.Scan() {
		var line struct {
			Msg     string `json:"msg"`
			TraceID string `json:"trace_id"`
			SpanID  string `json:"span_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "request" {
			continue
		}
		requestLines++
		if line.TraceID != callerTrace || line.SpanID != httpSpan.SpanContext().SpanID().String() {
			t.Errorf("access log line with trace %q span %q, want %s %s", line.TraceID, line.SpanID, callerTrace, httpSpan.SpanContext().SpanID())
		}
	}
	if requestLines == 0 {
		t.Errorf("no access log line: %s", env.Logs.String())
	}
}

// TestCORSAllowsTraceHeaders: a browser may send traceparent and tracestate cross-origin.
func TestCORSAllowsTraceHeaders(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	req, _ := http.NewRequest(http.MethodOptions, env.HTTP.URL+"/query", nil)
	req.Header.Set("Origin", "https://case.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, traceparent, tracestate")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"traceparent", "tracestate"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, h)
		}
	}
}

// TestBuildInfoMetric: /metrics exposes custodia_build_info with version, Go version and
// revision labels.
func TestBuildInfoMetric(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	status, body := env.Get("/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "custodia_build_info{") {
			for _, label := range []string{`goversion="go`, `revision="`, `version="`} {
				if !strings.Contains(line, label) {
					t.Errorf("custodia_build_info lacks %s: %s", label, line)
				}
			}
			if !strings.HasSuffix(line, " 1") {
				t.Errorf("custodia_build_info is not 1: %s", line)
			}
			return
		}
	}
	t.Errorf("no custodia_build_info in /metrics")
}
