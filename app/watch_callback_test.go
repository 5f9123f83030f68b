package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/watch"
)

// received is one POST an agency's receiver got.
type received struct {
	body      []byte
	signature string
	eventID   string
}

// TestWatchCallbackDeliversThinSignedRetried: REGISTRAR registers a PRISON_SERVICE-role
// agency's HTTPS callback; an admission is posted to it thin (ID, kind, person — nothing
// else), signed with the returned secret; the receiver's first answer (500) is retried; each
// delivery is a disclosure to the agency with its purpose.
func TestWatchCallbackDeliversThinSignedRetried(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []received
	failures := 1
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, received{body, r.Header.Get(watch.SignatureHeader), r.Header.Get(watch.EventIDHeader)})
		if failures > 0 {
			failures--
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer ts.Close()
	env := testenv.New(t, testenv.Options{Mutate: func(c *app.Config) {
		c.Watch.CallbackClient = ts.Client() // trusts the test server's certificate
		c.Watch.CallbackLoopback = true      // the test server listens on 127.0.0.1
		c.Watch.CallbackBackoff = 100 * time.Millisecond
	}})
	person := seed.NamedDvorakova
	const registerCallback = `mutation($in: EventCallbackInput!) { registerEventCallback(input: $in) { id secret role personIds } }`
	input := func(url string) map[string]any {
		return map[string]any{"in": map[string]any{"agency": "Vězeňská služba — dispečink", "role": "PRISON_SERVICE", "url": url, "personIds": []string{person},
			"purpose": map[string]any{"caseReference": "VS-2026/17", "reason": "DETENTION_MANAGEMENT"}}}
	}
	refused := []struct{ name, url, code string }{
		{"plain http", strings.Replace(ts.URL, "https", "http", 1), "BAD_USER_INPUT"},
	}
	for _, c := range refused {
		if r := env.As(model.RoleRegistrar, registerCallback, input(c.url)); !slices.Contains(r.Codes(), c.code) {
			t.Fatalf("%s: expected %s, got %s", c.name, c.code, r.Raw)
		}
	}
	if r := env.As(model.RoleCourt, registerCallback, input(ts.URL)); !slices.Contains(r.Codes(), "FORBIDDEN") {
		t.Fatalf("COURT registering a callback: %s", r.Raw)
	}
	reg := testenv.DataAs[struct {
		RegisterEventCallback struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		} `json:"registerEventCallback"`
	}](t, env.As(model.RoleRegistrar, registerCallback, input(ts.URL))).RegisterEventCallback
	if reg.Secret == "" {
		t.Fatal("no secret returned")
	}
	period := write(t, env, model.RolePrisonService, admit, "admitToDetention", detentionVars(person, "callback-admit"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the callback received %d posts, want the failed one and its retry", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	first, retry := got[0], got[1]
	mu.Unlock()
	if string(first.body) != string(retry.body) || first.eventID != retry.eventID {
		t.Fatalf("the retry differs: %s vs %s", first.body, retry.body)
	}
	var thin map[string]any
	if err := json.Unmarshal(retry.body, &thin); err != nil {
		t.Fatal(err)
	}
	if len(thin) != 3 || thin["kind"] != "ADMITTED" || thin["personId"] != person || thin["id"] != retry.eventID {
		t.Fatalf("not a thin event: %s (period %s)", retry.body, period)
	}
	ts0 := strings.TrimPrefix(strings.Split(retry.signature, ",")[0], "t=")
	unix, err := strconv.ParseInt(ts0, 10, 64)
	if err != nil {
		t.Fatalf("signature %q: %v", retry.signature, err)
	}
	if want := watch.Sign(reg.Secret, time.Unix(unix, 0), retry.body); retry.signature != want {
		t.Fatalf("signature %q, want %q", retry.signature, want)
	}
	disclosures, err := env.Server.Trail.Disclosures(context.Background(), person)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range disclosures {
		if d.OperationName != nil && *d.OperationName == "eventCallback" && d.Agency == "Vězeňská služba — dispečink" && d.Purpose != nil && d.Purpose.CaseReference == "VS-2026/17" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("expected 2 audited callback deliveries (the failed one and the retry), found %d", n)
	}
}
