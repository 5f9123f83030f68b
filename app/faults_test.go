package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// TestDatabaseStopsUnderLoad stops the database while clients keep querying: every answer is
// data or SERVICE_UNAVAILABLE (no crash, no other error), and service resumes by itself when
// the database returns.
func TestDatabaseStopsUnderLoad(t *testing.T) {
	t.Parallel()
	dir, addr := t.TempDir(), freeAddr(t)
	db, err := store.StartEmbedded(dir, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := testenv.New(t, testenv.Options{MongoURI: db.URI(), Persons: 20})
	q := `query($p: PurposeInput!) { person(id: "P-000003", purpose: $p) { detentionStatus { deprivedOfLiberty } } }`
	vars := map[string]any{"p": testenv.Purpose(model.RolePolice)}
	token := env.Token(model.RolePolice)

	var ok, unavailable, other atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	giveUp := time.Now().Add(60 * time.Second)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000 && time.Now().Before(giveUp); i++ { // bounded in count and time
				select {
				case <-stop:
					return
				default:
				}
				r := env.Do(token, q, vars)
				switch {
				case len(r.Errors) == 0:
					ok.Add(1)
				case r.Errors[0].Code() == "SERVICE_UNAVAILABLE" && r.Data == nil:
					unavailable.Add(1)
				default:
					other.Add(1)
					t.Errorf("unexpected answer during the outage: %s; the server logged: %s", r.Raw, env.LogLinesOf(r))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	db.Stop()
	time.Sleep(2500 * time.Millisecond)
	db, err = store.StartEmbedded(dir, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r := env.Do(token, q, vars); len(r.Errors) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	okBefore := ok.Load()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if unavailable.Load() == 0 || other.Load() != 0 || ok.Load() <= okBefore {
		t.Fatalf("outage under load: %d ok, %d SERVICE_UNAVAILABLE, %d other; service resumed: %v", ok.Load(), unavailable.Load(), other.Load(), ok.Load() > okBefore)
	}
	t.Logf("outage under load: %d ok, %d SERVICE_UNAVAILABLE", ok.Load(), unavailable.Load())
}

// TestServerRestartLosesNoAcknowledgedWrite restarts the server (graceful shutdown) while
// clients register persons: every write that was acknowledged is in the register afterwards,
// and a client retrying an unacknowledged write with its key gets one person, not two.
func TestServerRestartLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	uri := testenv.SharedDatabaseURI(t)
	addr := freeAddr(t)
	cfg := app.Config{Mode: app.Development, ListenAddr: addr, DataDir: t.TempDir(), MongoURI: uri, MongoDatabase: fmt.Sprintf("restart_%d", time.Now().UnixNano()),
		DemoPersons: 10, Claims: auth.DefaultClaimNames, DBTimeout: 2 * time.Second, Now: func() time.Time { return testenv.Today }}
	start := func() (context.CancelFunc, chan error, *app.Server) {
		srv, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx); srv.Close() }()
		for i := 0; i < 100; i++ { // wait until it listens
			if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
				resp.Body.Close()
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return cancel, done, srv
	}
	cancel, done, srv := start()
	o := officialToken(t, srv, model.RoleRegistrar)

	type ack struct{ key, id string }
	var mu sync.Mutex
	var acked []ack
	var unacked []string
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				key := fmt.Sprintf("restart-w%d-n%03d", w, i)
				id, err := registerOverHTTP(addr, o, key)
				mu.Lock()
				if err == nil {
					acked = append(acked, ack{key, id})
				} else {
					unacked = append(unacked, key)
				}
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(400 * time.Millisecond)
	cancel() // graceful shutdown while writes are in flight
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	wg.Wait()

	cancel, done, srv = start()
	defer func() { cancel(); <-done }()
	o = officialToken(t, srv, model.RoleRegistrar)
	if len(acked) == 0 || len(unacked) == 0 {
		t.Fatalf("the restart should interrupt the load: %d acknowledged, %d not", len(acked), len(unacked))
	}
	for _, a := range acked {
		id, err := registerOverHTTP(addr, o, a.key) // the retry returns the first result
		if err != nil || id != a.id {
			t.Fatalf("acknowledged write %s (%s) lost or changed after the restart: %q %v", a.key, a.id, id, err)
		}
		found, err := srv.Store.PersonsByIDs(context.Background(), store.Scope{}, []string{a.id})
		if err != nil || found[a.id] == nil {
			t.Fatalf("acknowledged person %s is not in the register: %v", a.id, err)
		}
	}
	// Unacknowledged writes retried with their keys complete exactly once.
	for _, key := range unacked[:min(5, len(unacked))] {
		first, err := registerOverHTTP(addr, o, key)
		if err != nil {
			t.Fatalf("retry of %s: %v", key, err)
		}
		again, _ := registerOverHTTP(addr, o, key)
		if again != first {
			t.Fatalf("retrying %s twice gave two persons: %s, %s", key, first, again)
		}
	}
	t.Logf("%d writes acknowledged before the restart, all present; %d interrupted", len(acked), len(unacked))
}

func officialToken(t *testing.T, srv *app.Server, role model.Role) string {
	t.Helper()
	o, _ := seed.OfficialFor(role)
	tok, err := srv.DevKey.Sign(o.Identity, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// registerOverHTTP registers a person with an idempotency key and returns the new ID; any
// failure (refused connection, error response) is an error: the write was not acknowledged.
func registerOverHTTP(addr, token, key string) (string, error) {
	body, _ := json.Marshal(map[string]any{"query": registerPerson, "variables": map[string]any{"in": personInput(""), "key": key, "p": registrarPurpose()}})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/query", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Data struct {
			RegisterPerson struct{ ID string } `json:"registerPerson"`
		}
		Errors []testenv.GQLError
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 || out.Data.RegisterPerson.ID == "" {
		return "", fmt.Errorf("not acknowledged: %s", raw)
	}
	return out.Data.RegisterPerson.ID, nil
}
