// Package testenv runs custodia for tests the way it runs for users: a real embedded FerretDB,
// the real server handler behind a real HTTP listener, and real signed tokens. Each Env gets a
// database of its own on the package's shared FerretDB, so tests can run in parallel.
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"custodia/app"
	"custodia/auth"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// Today is the fixed "today" of test servers: the demo register's reference day.
var Today = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var (
	dbOnce sync.Once
	dbURI  string
	dbErr  error
	dbSeq  atomic.Int64
)

// SharedDatabaseURI starts (once per test binary) an embedded FerretDB in a temporary directory
// and returns its URI.
func SharedDatabaseURI(t testing.TB) string {
	t.Helper()
	dbOnce.Do(func() {
		dir, err := os.MkdirTemp("", "custodia-test-db-")
		if err != nil {
			dbErr = err
			return
		}
		e, err := store.StartEmbedded(dir, "127.0.0.1:0", nil)
		if err != nil {
			dbErr = err
			return
		}
		dbURI = e.URI()
	})
	if dbErr != nil {
		t.Fatalf("embedded FerretDB: %v", dbErr)
	}
	return dbURI
}

var (
	keyDirOnce sync.Once
	keyDir     string
)

// AuditKeyFile is the audit signing key file of a test database (created by the first server
// that uses it): every test server on one database signs with the same key.
func AuditKeyFile(t testing.TB, database string) string {
	t.Helper()
	keyDirOnce.Do(func() {
		var err error
		if keyDir, err = os.MkdirTemp("", "custodia-test-keys-"); err != nil {
			t.Fatalf("key directory: %v", err)
		}
	})
	return filepath.Join(keyDir, database+".key")
}

// Options shape a test server.
type Options struct {
	// Persons sizes the demo register (default 120).
	Persons int
	// Register, when set, is loaded instead of the demo register.
	Register *store.Register
	// MongoURI, when set, is used instead of the shared embedded FerretDB.
	MongoURI string
	// Database names the database (default: a fresh one per Env).
	Database string
	// Mutate adjusts the configuration before the server starts.
	Mutate func(*app.Config)
}

// Env is a running test server.
type Env struct {
	T      testing.TB
	Server *app.Server
	HTTP   *httptest.Server
	Config app.Config
	Logs   *bytes.Buffer
	// logWriter guards Logs while the server writes to it (LogLinesOf).
	logWriter *lockedWriter
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9]`)

// New starts a server for the test and stops it when the test ends.
func New(t testing.TB, opts Options) *Env {
	t.Helper()
	uri := opts.MongoURI
	if uri == "" {
		uri = SharedDatabaseURI(t)
	}
	if opts.Persons == 0 {
		opts.Persons = 120
	}
	db := opts.Database
	if db == "" {
		name := unsafeChars.ReplaceAllString(t.Name(), "_")
		if len(name) > 40 {
			name = name[:40]
		}
		db = fmt.Sprintf("t%d_%s", dbSeq.Add(1), name)
	}
	cfg := app.Config{
		Mode: app.Development, ListenAddr: "127.0.0.1:0", DataDir: t.TempDir(), MongoURI: uri, MongoDatabase: db,
		DemoPersons: opts.Persons, Claims: auth.DefaultClaimNames, DBTimeout: 2 * time.Second,
		Now:           func() time.Time { return Today },
		Introspection: true, GraphiQL: true,
		// The rate limit is off unless a test turns it on: tests fire many requests per subject.
		Limits: app.Limits{RatePerSec: 0, CORSOrigins: []string{"*"}},
	}
	// Instances sharing a database share its audit signing key, as a deployment's do.
	cfg.AuditSigningKeyFile = AuditKeyFile(t, db)
	// No checkpoint on a timer, so that counts of database commands stay exact; tests sign
	// checkpoints themselves (Trail.Checkpoint) or set a cadence.
	cfg.AuditCheckpointInterval = time.Hour
	if opts.Mutate != nil {
		opts.Mutate(&cfg)
	}
	ctx := context.Background()
	if opts.Register != nil {
		s, err := store.Open(ctx, store.Config{URI: uri, Database: db})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		if err := s.EnsureIndexes(ctx); err != nil {
			t.Fatalf("indexes: %v", err)
		}
		if err := s.LoadRegister(ctx, *opts.Register, nil); err != nil {
			t.Fatalf("load register: %v", err)
		}
		_ = s.Close(ctx)
	}
	logs := &bytes.Buffer{}
	logWriter := &lockedWriter{w: logs}
	log := slog.New(slog.NewJSONHandler(logWriter, nil))
	srv, err := app.New(ctx, cfg, log)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &Env{T: t, Server: srv, HTTP: hs, Config: cfg, Logs: logs, logWriter: logWriter}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Token signs a development token for the demo official of a role.
func (e *Env) Token(role model.Role) string {
	e.T.Helper()
	o, ok := seed.OfficialFor(role)
	if !ok {
		e.T.Fatalf("no demo official for role %s", role)
	}
	return e.TokenFor(o.Identity, time.Hour)
}

// TokenFor signs a development token for any identity.
func (e *Env) TokenFor(id auth.Identity, ttl time.Duration) string {
	e.T.Helper()
	tok, err := e.Server.DevKey.Sign(id, ttl)
	if err != nil {
		e.T.Fatalf("sign token: %v", err)
	}
	return tok
}

// Response is a decoded GraphQL response.
type Response struct {
	Status int
	Data   map[string]any
	Errors []GQLError
	Raw    string
}

// GQLError is one GraphQL error.
type GQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the extensions.code of the error.
func (g GQLError) Code() string { c, _ := g.Extensions["code"].(string); return c }

// LogLinesOf returns the server's log lines about the requests whose errors r carries (by
// their requestId), for a test's failure message.
func (e *Env) LogLinesOf(r Response) string {
	var out []string
	for _, g := range r.Errors {
		id, _ := g.Extensions["requestId"].(string)
		if id == "" {
			continue
		}
		e.logWriter.mu.Lock()
		text := e.Logs.String()
		e.logWriter.mu.Unlock()
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, id) {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

// Codes lists the codes of the response's errors.
func (r Response) Codes() []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Code())
	}
	return out
}

// Do posts a GraphQL request with a bearer token (none when token is "") and extra headers.
func (e *Env) Do(token, query string, vars map[string]any, headers ...string) Response {
	e.T.Helper()
	return e.post(token, map[string]any{"query": query, "variables": vars}, headers...)
}

func (e *Env) post(token string, payload map[string]any, headers ...string) Response {
	e.T.Helper()
	body, _ := json.Marshal(payload)
	req, _ := http.NewRequest(http.MethodPost, e.HTTP.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("POST /query: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := Response{Status: resp.StatusCode, Raw: string(raw)}
	var decoded struct {
		Data   map[string]any `json:"data"`
		Errors []GQLError     `json:"errors"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		e.T.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	out.Data, out.Errors = decoded.Data, decoded.Errors
	return out
}

// As runs a query as the demo official of a role.
func (e *Env) As(role model.Role, query string, vars map[string]any) Response {
	e.T.Helper()
	return e.Do(e.Token(role), query, vars)
}

// MustData runs a query as a role and fails the test on any error.
func (e *Env) MustData(role model.Role, query string, vars map[string]any) map[string]any {
	e.T.Helper()
	r := e.As(role, query, vars)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		e.T.Fatalf("%s: unexpected errors (HTTP %d): %s", role, r.Status, r.Raw)
	}
	return r.Data
}

// Get fetches a plain endpoint and returns status and body.
func (e *Env) Get(path string) (int, string) {
	e.T.Helper()
	resp, err := http.Get(e.HTTP.URL + path)
	if err != nil {
		e.T.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// DBCommands is the total of custodia_db_commands_total read from /metrics.
func (e *Env) DBCommands() int {
	e.T.Helper()
	_, body := e.Get("/metrics")
	total := 0.0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "custodia_db_commands_total{") {
			var v float64
			fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &v)
			total += v
		}
	}
	return int(total)
}

// Purpose is a valid purpose for the role's demo grant, as a GraphQL variable value.
func Purpose(role model.Role) map[string]any {
	o, _ := seed.OfficialFor(role)
	reason := model.PurposeCodeCriminalProceedings
	if len(o.AllowedPurposes) > 0 {
		reason = o.AllowedPurposes[0]
	}
	return map[string]any{"caseReference": "4 T 123/2025", "reason": string(reason)}
}

// Path walks decoded JSON by keys and indexes, e.g. Path(data, "person", "convictions", 0, "id").
func Path(v any, steps ...any) any {
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// DoOperation posts a document with several operations and names the one to run.
func (e *Env) DoOperation(token, query, operationName string, vars map[string]any) Response {
	e.T.Helper()
	return e.post(token, map[string]any{"query": query, "operationName": operationName, "variables": vars})
}

// Post sends a raw GraphQL request payload (query, variables, extensions).
func (e *Env) Post(token string, payload map[string]any) Response {
	e.T.Helper()
	return e.post(token, payload)
}

// HTTPResponse is a raw /query answer: status, headers and the decoded GraphQL errors.
type HTTPResponse struct {
	Status int
	Header http.Header
	Errors []GQLError
	// HasData is true when the body has a non-null data entry.
	HasData bool
	Raw     string
}

// Code is the extensions.code of the first error ("" without errors).
func (r HTTPResponse) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// NewRequest builds a request to the test server; target is a path with its query string.
// Headers come in name, value pairs and are added (so a name may repeat).
func (e *Env) NewRequest(method, target string, body io.Reader, headers ...string) *http.Request {
	e.T.Helper()
	req, err := http.NewRequest(method, e.HTTP.URL+target, body)
	if err != nil {
		e.T.Fatalf("request %s %s: %v", method, target, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

// Send sends a request and decodes the answer; a body that is not a GraphQL JSON response
// fails the test (every answer of /query must be one, errors included).
func (e *Env) Send(req *http.Request) HTTPResponse {
	e.T.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := HTTPResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if req.Method == http.MethodOptions || req.Method == http.MethodHead {
		return out
	}
	var decoded struct {
		Data   json.RawMessage `json:"data"`
		Errors []GQLError      `json:"errors"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		e.T.Fatalf("%s %s: the answer is not GraphQL JSON (HTTP %d): %q", req.Method, req.URL, resp.StatusCode, raw)
	}
	out.Errors = decoded.Errors
	out.HasData = len(decoded.Data) > 0 && string(decoded.Data) != "null"
	return out
}

// ForeignToken signs a token for id with a key the server does not trust (a forgery).
func (e *Env) ForeignToken(id auth.Identity) string {
	e.T.Helper()
	key, err := auth.LoadOrCreateDevKey(e.T.TempDir())
	if err != nil {
		e.T.Fatalf("foreign key: %v", err)
	}
	tok, err := key.Sign(id, time.Hour)
	if err != nil {
		e.T.Fatalf("sign: %v", err)
	}
	return tok
}

// AuditEntry is one audit trail entry as AUDITOR reads it.
type AuditEntry struct {
	Sequence        int      `json:"sequence"`
	Kind            string   `json:"kind"`
	Subject         *string  `json:"subject"`
	SubjectVerified bool     `json:"subjectVerified"`
	Role            *string  `json:"role"`
	OperationName   *string  `json:"operationName"`
	Outcome         string   `json:"outcome"`
	ErrorCode       *string  `json:"errorCode"`
	RequestID       *string  `json:"requestId"`
	PersonIDs       []string `json:"personIds"`
}

// AuditEntries reads, as the demo AUDITOR, the newest entries (up to 50) whose subject is
// subject.
func (e *Env) AuditEntries(subject string) []AuditEntry {
	e.T.Helper()
	r := e.As(model.RoleAuditor, `query($f: AuditFilter) { auditTrail(filter: $f, first: 50) { edges { node {
	  sequence kind subject subjectVerified role operationName outcome errorCode requestId personIds } } } }`,
		map[string]any{"f": map[string]any{"subject": subject}})
	out := DataAs[struct {
		AuditTrail struct {
			Edges []struct {
				Node AuditEntry `json:"node"`
			} `json:"edges"`
		} `json:"auditTrail"`
	}](e.T, r)
	entries := make([]AuditEntry, len(out.AuditTrail.Edges))
	for i, edge := range out.AuditTrail.Edges {
		entries[i] = edge.Node
	}
	return entries
}

// DataAs decodes a response's data into a typed value, failing the test on errors in the
// response or on a shape that does not decode.
func DataAs[T any](t testing.TB, r Response) T {
	t.Helper()
	var out struct {
		Data T `json:"data"`
	}
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors (HTTP %d): %s", r.Status, r.Raw)
	}
	if err := json.Unmarshal([]byte(r.Raw), &out); err != nil {
		t.Fatalf("decode %s: %v", r.Raw, err)
	}
	return out.Data
}
