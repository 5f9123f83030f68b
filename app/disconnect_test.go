package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"custodia/internal/testenv"
	"custodia/model"
)

// TestClientsDisconnectingDuringBatchedLoads has eight clients ask for pages of persons with
// their detention and convictions (batched point lookups on the embedded engine) and hang up
// after a few milliseconds, many times over: afterwards no goroutine is left behind and no
// connection slot is held — eight clients at once are still answered in full.
func TestClientsDisconnectingDuringBatchedLoads(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	const page = `query($p: PurposeInput!) { searchPersons(filter: {familyName: "novak", dateOfBirth: "1980-01-15"}, first: 50, purpose: $p) {
	  edges { node { id convictions { id sentences { id } } detentionHistory { id prison { id } } detentionStatus { deprivedOfLiberty } } } } }`
	body, err := json.Marshal(map[string]any{"query": page, "variables": map[string]any{"p": testenv.Purpose(model.RoleCourt)}})
	if err != nil {
		t.Fatal(err)
	}
	token := env.Token(model.RoleCourt)
	env.MustData(model.RoleCourt, page, map[string]any{"p": testenv.Purpose(model.RoleCourt)})
	http.DefaultClient.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	before := ownGoroutines()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+(c+i)%12)*time.Millisecond)
				req := env.NewRequest(http.MethodPost, "/query", bytes.NewReader(body), "Content-Type", "application/json", "Authorization", "Bearer "+token)
				if resp, err := http.DefaultClient.Do(req.WithContext(ctx)); err == nil {
					resp.Body.Close()
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	// Every slot is free again: eight clients at once are answered in full.
	var answered sync.WaitGroup
	for range 8 {
		answered.Add(1)
		go func() {
			defer answered.Done()
			r := env.As(model.RoleCourt, page, map[string]any{"p": testenv.Purpose(model.RoleCourt)})
			if len(r.Errors) > 0 {
				t.Errorf("after the disconnections: %s", r.Raw)
			}
		}()
	}
	answered.Wait()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	after := ownGoroutines()
	for len(after) > len(before) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		after = ownGoroutines()
	}
	t.Logf("goroutines in custodia's code: %d before, %d after", len(before), len(after))
	if len(after) > len(before) {
		t.Errorf("goroutines in custodia's code: %d before, %d after the disconnections\n%s", len(before), len(after), strings.Join(after, "\n\n"))
	}
}

// ownGoroutines returns the stacks of the goroutines running custodia's code (the embedded
// database's and the HTTP client's connections come and go with the driver's pool), except
// the caller's.
func ownGoroutines() []string {
	buf := make([]byte, 8<<20)
	var out []string
	for i, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if i > 0 && strings.Contains(g, "custodia/") && !strings.Contains(g, "custodia/app_test.") {
			out = append(out, g)
		}
	}
	return out
}
