package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// TestRestartKeepsDataWithoutReseeding runs the embedded default exactly as `go run .` does
// (no MONGODB_URI, data under DATA_DIR) twice on the same directory.
func TestRestartKeepsDataWithoutReseeding(t *testing.T) {
	dir := t.TempDir()
	cfg := app.Config{Mode: app.Development, ListenAddr: "127.0.0.1:0", DataDir: dir, MongoDatabase: "custodia",
		DemoPersons: 50, Claims: auth.DefaultClaimNames, DBTimeout: 2 * time.Second}
	ctx := context.Background()
	start := func() (*app.Server, map[string]int64) {
		srv, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		counts, err := srv.Store.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return srv, counts
	}
	srv, first := start()
	if first["persons"] != 50 || first["prisons"] < 30 || first["grants"] != int64(len(seed.Officials)) {
		t.Fatalf("first start should seed the demo register: %v", first)
	}
	// A write through the API: a token whose identity differs from the grant suspends it.
	o, _ := seed.OfficialFor(model.RolePolice)
	changed := o.Identity
	changed.Email = "someone.else@example.org"
	tok, _ := srv.DevKey.Sign(changed, time.Hour)
	req, _ := http.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":"{ prisons { id } }"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	rec := newRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if !strings.Contains(rec.body.String(), "GRANT_SUSPENDED") {
		t.Fatalf("identity change should suspend the grant: %s", rec.body.String())
	}
	srv.Close()

	srv, second := start()
	defer srv.Close()
	for col, n := range first {
		if second[col] != n {
			t.Errorf("after restart %s: %d documents, want %d (seeded twice or lost data)", col, second[col], n)
		}
	}
	grants, err := srv.Store.GrantsFor(ctx, o.Subject, model.RolePolice, o.Agency)
	if err != nil || len(grants) != 1 || grants[0].Status != model.GrantStatusSuspended {
		t.Errorf("the suspension written before the restart must persist: %+v, %v", grants, err)
	}
	if _, err := filepath.Glob(filepath.Join(dir, "db", "*")); err != nil {
		t.Error(err)
	}
}

type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func newRecorder() *recorder                    { return &recorder{header: http.Header{}, status: 200} }
func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }

// freeAddr is a loopback address with a free port, for a database that a test stops and starts
// again on the same address. The port is below Linux's ephemeral range (32768–60999): a database restarted on an ephemeral
// port can find it taken by the server's own reconnecting client, whose connection to a port
// nobody listens on may be given that very port as its source (a TCP self-connect).
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken: try another
		}
		addr := l.Addr().String()
		_ = l.Close()
		return addr
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// TestDatabaseOutageAndRecovery stops the database under a running server: requests fail with
// SERVICE_UNAVAILABLE and /readyz with 503; when the database is back, the server recovers by
// itself.
func TestDatabaseOutageAndRecovery(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	db, err := store.StartEmbedded(dir, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.New(t, testenv.Options{MongoURI: db.URI(), Persons: 20})
	const q = `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName detentionStatus { deprivedOfLiberty } } }`
	vars := map[string]any{"p": testenv.Purpose(model.RolePolice)}
	env.MustData(model.RolePolice, q, vars)

	db.Stop()
	r := env.As(model.RolePolice, q, vars)
	if r.Status != http.StatusServiceUnavailable || len(r.Errors) != 1 || r.Errors[0].Code() != "SERVICE_UNAVAILABLE" || r.Data != nil {
		t.Fatalf("with the database down: want 503 SERVICE_UNAVAILABLE and no data, got %d %s", r.Status, r.Raw)
	}
	if strings.Contains(r.Raw, "127.0.0.1") || strings.Contains(r.Raw, "connection") {
		t.Errorf("the error must not leak internals: %s", r.Raw)
	}
	if status, _ := env.Get("/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database down: %d, want 503", status)
	}
	if status, _ := env.Get("/healthz"); status != http.StatusOK {
		t.Errorf("/healthz is about the process and stays 200, got %d", status)
	}

	db, err = store.StartEmbedded(dir, addr, nil)
	if err != nil {
		t.Fatalf("restart database: %v", err)
	}
	defer db.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := env.As(model.RolePolice, q, vars)
		if len(r.Errors) == 0 {
			if testenv.Path(r.Data, "person", "familyName") != "Novák" {
				t.Fatalf("after recovery: %s", r.Raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not recover within 20 s: %s", r.Raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, _ := env.Get("/readyz"); status != http.StatusOK {
		t.Errorf("/readyz after recovery: %d", status)
	}
}
