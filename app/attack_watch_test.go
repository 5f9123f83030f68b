package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

// negligentFine is a conviction recorded with a negligent-offence fine already paid: deemed not
// convicted from the start, so it is in the full copy only (DESIGN §2, §7).
var negligentFine = map[string]any{"court": "Okresní soud v Jihlavě", "caseReference": "3 T 7/2021", "decisionDate": "2021-02-10", "finalDate": "2021-03-01",
	"offences":  []any{map[string]any{"legalProvision": "§ 147 odst. 1 TZ", "description": "těžké ublížení na zdraví z nedbalosti", "category": "0203 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": false}},
	"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "8000.00", "currency": "CZK"}, "status": "SERVED", "startDate": "2021-03-01", "endDate": "2021-04-01"}}}

const recordConvictionMutation = `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id } }`

// TestWatchTellsNothingOfBlockedRecords: blocked data reads as absent for every role but the
// register office (DESIGN §7a) — on a watch too. A COURT subscriber (a reader of the full copy,
// for whom the extract check does not apply) is not told of what happens to a blocked person
// or to a blocked conviction, and is told again once the blocking is lifted.
func TestWatchTellsNothingOfBlockedRecords(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	person := seed.NamedDvorakova
	court := env.SubscribeWS(env.Token(model.RoleCourt), watchCourt, map[string]any{"id": person, "p": testenv.Purpose(model.RoleCourt)})
	time.Sleep(300 * time.Millisecond)
	record := func(key string) string {
		return write(t, env, model.RoleRegistrar, recordConvictionMutation, "recordConviction",
			map[string]any{"pid": person, "in": negligentFine, "k": key, "p": registrarPurpose()})
	}
	quiet := func(what string) {
		t.Helper()
		if m, quiet := court.Quiet(700 * time.Millisecond); !quiet {
			t.Fatalf("COURT was told of %s: %s", what, m.Data)
		}
	}

	block(t, env, true, "watch-block-person", person, model.RecordItemKindPerson, "")
	record("watch-blocked-person-conviction")
	quiet("a conviction of a blocked person")
	block(t, env, false, "watch-unblock-person", person, model.RecordItemKindPerson, "")

	since := store.EventIDAt(time.Now()) + "00000000"
	cid := record("watch-visible-conviction")
	if e := event(t, court.Next(5*time.Second)); e.Kind != "CONVICTION_RECORDED" || e.ConvictionID == nil || *e.ConvictionID != cid {
		t.Fatalf("COURT received %+v, want CONVICTION_RECORDED of %s", e, cid)
	}
	// Once the conviction is blocked, a subscription resumed from before it was recorded is
	// not told of it; the blocking itself is no event.
	block(t, env, true, "watch-block-conviction", person, model.RecordItemKindConviction, cid)
	quiet("the blocking of a conviction")
	court = env.SubscribeWS(env.Token(model.RoleCourt), watchCourt, map[string]any{"id": person, "p": testenv.Purpose(model.RoleCourt), "after": since})
	quiet("a blocked conviction on resuming")
}

// TestWatchCallbackTellsAnExtractReaderNothingOfTheCopy: an agency callback registered in an
// extract reader's role (POLICE) is not posted events about records only the full copy holds —
// the rule a subscription of the same role follows (TestWatchExpungementOnlyToCopyReaders).
func TestWatchCallbackTellsAnExtractReaderNothingOfTheCopy(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var kinds []string
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var thin struct{ Kind string }
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &thin)
		mu.Lock()
		kinds = append(kinds, thin.Kind)
		mu.Unlock()
	}))
	defer ts.Close()
	env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) {
		c.Watch.CallbackClient = ts.Client()
		c.Watch.CallbackLoopback = true
		c.Watch.CallbackBackoff = 100 * time.Millisecond
	}})
	person := seed.NamedDvorakova
	r := env.As(model.RoleRegistrar, `mutation($in: EventCallbackInput!) { registerEventCallback(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"agency": "Policie ČR — KŘP Vysočina", "role": "POLICE", "url": ts.URL, "personIds": []string{person},
			"purpose": map[string]any{"caseReference": "KRPJ-1234/TČ-2026", "reason": "PRE_TRIAL_INVESTIGATION"}}})
	if len(r.Errors) > 0 {
		t.Fatalf("registerEventCallback: %s", r.Raw)
	}
	write(t, env, model.RoleCourt, recordConvictionMutation, "recordConviction",
		map[string]any{"pid": person, "in": negligentFine, "k": "callback-deemed", "p": testenv.Purpose(model.RoleCourt)})
	write(t, env, model.RolePrisonService, admit, "admitToDetention", detentionVars(person, "callback-admit-after-deemed"))
	var got []string
	poll(t, "the callback to receive ADMITTED", func() bool {
		mu.Lock()
		defer mu.Unlock()
		got = slices.Clone(kinds)
		return slices.Contains(got, "ADMITTED") // posted in event order: anything before it has been posted too
	})
	if !slices.Equal(got, []string{"ADMITTED"}) {
		t.Fatalf("the POLICE callback was posted %v, want only ADMITTED", got)
	}
}

// poll calls done every 50 ms until it is true, failing the test after 10 s waiting for what.
func poll(t *testing.T, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}

// TestWatchCallbackTargets: a callback URL cannot make the server post to its own host or
// network (server-side request forgery): loopback, link-local (cloud metadata), unspecified
// and multicast targets are refused at registration, and a receiver's redirect is not
// followed — the post is a failed delivery, retried to the receiver, never sent elsewhere.
func TestWatchCallbackTargets(t *testing.T) {
	t.Parallel()
	const registerCallback = `mutation($in: EventCallbackInput!) { registerEventCallback(input: $in) { id } }`
	input := func(url string) map[string]any {
		return map[string]any{"in": map[string]any{"agency": "Vězeňská služba — dispečink", "role": "PRISON_SERVICE", "url": url, "personIds": []string{seed.NamedDvorakova},
			"purpose": map[string]any{"caseReference": "VS-2026/17", "reason": "DETENTION_MANAGEMENT"}}}
	}
	strict := testenv.New(t, testenv.Options{Persons: 20})
	for _, url := range []string{"https://127.0.0.1:8443/events", "https://localhost/events", "https://api.LOCALHOST./events", "https://[::1]/events",
		"https://169.254.169.254/latest/meta-data/", "https://[fe80::1%25eth0]/events", "https://0.0.0.0/events", "https://[::ffff:127.0.0.1]/events", "https://224.0.0.1/events"} {
		if r := strict.As(model.RoleRegistrar, registerCallback, input(url)); len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "input.url" {
			t.Errorf("%s: want BAD_USER_INPUT on input.url, got %s", url, r.Raw)
		}
	}
	if r := strict.As(model.RoleRegistrar, registerCallback, input("https://10.20.30.40/events")); len(r.Errors) > 0 {
		t.Errorf("an agency receiver on a private network is a valid target: %s", r.Raw)
	}

	var mu sync.Mutex
	posts := map[string]int{}
	count := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			posts[name]++
			mu.Unlock()
		}
	}
	elsewhere := httptest.NewTLSServer(count("elsewhere"))
	defer elsewhere.Close()
	receiver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count("receiver")(w, r)
		http.Redirect(w, r, elsewhere.URL+"/internal", http.StatusTemporaryRedirect)
	}))
	defer receiver.Close()
	env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) {
		c.Watch.CallbackClient = receiver.Client() // trusts both test servers' certificate
		c.Watch.CallbackLoopback = true
		c.Watch.CallbackBackoff = 50 * time.Millisecond
	}})
	if r := env.As(model.RoleRegistrar, registerCallback, input(receiver.URL)); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	write(t, env, model.RolePrisonService, admit, "admitToDetention", detentionVars(seed.NamedDvorakova, "callback-redirect"))
	poll(t, "a post to the receiver and its retry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if posts["elsewhere"] > 0 {
			t.Fatalf("a redirect was followed: %v", posts)
		}
		return posts["receiver"] >= 2 // the redirect was a failed delivery, retried to the receiver
	})
}

// TestWatchTellsThePrisonServiceOnlyOfCustodialSentences: PRISON_SERVICE reads sentences only
// through the detention periods that execute them (DESIGN §4), so it is not told that a fine
// changed status — only of the custodial sentences it may read.
func TestWatchTellsThePrisonServiceOnlyOfCustodialSentences(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	l := &lifecycle{t: t, env: env}
	person := seed.NamedDvorakova
	prison := env.SubscribeWS(env.Token(model.RolePrisonService), `subscription($id: ID!, $p: PurposeInput!) {
	  watchPerson(personId: $id, purpose: $p) { kind sentenceId } }`, map[string]any{"id": person, "p": testenv.Purpose(model.RolePrisonService)})
	time.Sleep(300 * time.Millisecond)
	fine := map[string]any{"court": "Okresní soud v Kladně", "caseReference": "4 T 56/2026", "decisionDate": "2026-09-10", "finalDate": "2026-10-01",
		"offences": []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
		"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "20000.00", "currency": "CZK"}, "status": "PENDING"},
			map[string]any{"kind": "IMPRISONMENT", "durationMonths": 6, "status": "PENDING"}}}
	recorded := testenv.DataAs[recordedOut](t, env.As(model.RoleCourt, `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
	  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id sentences { id } } }`,
		map[string]any{"pid": person, "in": fine, "k": "watch-ps-fine", "p": testenv.Purpose(model.RoleCourt)})).C
	paid, custodial := recorded.Sentences[0].ID, recorded.Sentences[1].ID
	l.mustStatus(model.RoleCourt, person, paid, map[string]any{"version": 1, "status": "SERVED", "on": "2026-10-20"})
	write(t, env, model.RolePrisonService, `mutation($pid: ID!, $sid: ID!, $k: String!, $p: PurposeInput!) { admitToDetention(personId: $pid, idempotencyKey: $k, purpose: $p, input: {
	  kind: IMPRISONMENT, prisonId: "PRS-VALDICE", start: "2026-10-30", sentenceId: $sid, responsibleAuthority: {kind: COURT, name: "Okresní soud v Kladně", caseReference: "4 T 56/2026"}}) { id } }`,
		"admitToDetention", map[string]any{"pid": person, "sid": custodial, "k": "watch-ps-admit", "p": testenv.Purpose(model.RolePrisonService)})
	var got []string
	for len(got) == 0 || got[len(got)-1] != "ADMITTED" {
		m := prison.Next(5 * time.Second)
		var d struct {
			WatchPerson struct{ Kind, SentenceID *string } `json:"watchPerson"`
		}
		if err := json.Unmarshal(m.Data, &d); err != nil || d.WatchPerson.Kind == nil {
			t.Fatalf("not an event: %s %+v", m.Data, m.Errors)
		}
		e := *d.WatchPerson.Kind
		if d.WatchPerson.SentenceID != nil {
			e += ":" + *d.WatchPerson.SentenceID
		}
		got = append(got, e)
	}
	// The admission started the imprisonment (SENTENCE_STATUS_CHANGED of it), before or after
	// ADMITTED; the fine's payment is not told.
	if slices.Contains(got, "SENTENCE_STATUS_CHANGED:"+paid) {
		t.Fatalf("PRISON_SERVICE was told of the fine: %v", got)
	}
}
