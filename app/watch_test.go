package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
	"custodia/store"
)

const watchPerson = `subscription($id: ID!, $p: PurposeInput!, $after: ID) {
  watchPerson(personId: $id, purpose: $p, after: $after) { id kind personId occurredAt detentionPeriodId } }`

const watchCourt = `subscription($id: ID!, $p: PurposeInput!, $after: ID) {
  watchPerson(personId: $id, purpose: $p, after: $after) { id kind personId convictionId expungedConvictionId detentionPeriodId } }`

// watchedEvent is one delivered event as the tests read it.
type watchedEvent struct {
	ID                   string  `json:"id"`
	Kind                 string  `json:"kind"`
	PersonID             string  `json:"personId"`
	OccurredAt           string  `json:"occurredAt"`
	DetentionPeriodID    *string `json:"detentionPeriodId"`
	ConvictionID         *string `json:"convictionId"`
	ExpungedConvictionID *string `json:"expungedConvictionId"`
}

// event decodes a subscription message that must carry an event.
func event(t *testing.T, m testenv.StreamMessage) watchedEvent {
	t.Helper()
	if m.Done || len(m.Errors) > 0 {
		t.Fatalf("expected an event, got done=%v errors=%+v", m.Done, m.Errors)
	}
	var d struct {
		WatchPerson  *watchedEvent `json:"watchPerson"`
		WatchPersons *watchedEvent `json:"watchPersons"`
	}
	if err := json.Unmarshal(m.Data, &d); err != nil {
		t.Fatalf("decode %s: %v", m.Data, err)
	}
	if d.WatchPerson != nil {
		return *d.WatchPerson
	}
	if d.WatchPersons == nil {
		t.Fatalf("no event in %s", m.Data)
	}
	return *d.WatchPersons
}

// endsWith asserts that the stream's next messages end it with the code.
func endsWith(t *testing.T, s *testenv.Stream, code string, within time.Duration) {
	t.Helper()
	m := s.Next(within)
	if !slices.Contains(m.Codes(), code) {
		t.Fatalf("expected the stream to end with %s, got done=%v errors=%+v data=%s", code, m.Done, m.Errors, m.Data)
	}
	if !m.Done {
		if m = s.Next(within); !m.Done {
			t.Fatalf("expected the end of the stream after %s, got %+v", code, m)
		}
	}
}

type subscribeFunc func(env *testenv.Env, token, query string, vars map[string]any) *testenv.Stream

var transports = []struct {
	name      string
	subscribe subscribeFunc
}{
	{"graphql-transport-ws", (*testenv.Env).SubscribeWS},
	{"SSE", (*testenv.Env).SubscribeSSE},
}

const (
	admit = `mutation($pid: ID!, $k: String!, $p: PurposeInput!) { admitToDetention(personId: $pid, idempotencyKey: $k, purpose: $p, input: {
	  kind: CUSTODY, prisonId: "PRS-BRNO-VV", start: "2026-10-30", responsibleAuthority: {kind: PROSECUTION_OFFICE, name: "Krajské státní zastupitelství v Brně", caseReference: "2 KZV 88/2026"}}) { id } }`
	transfer = `mutation($pid: ID!, $k: String!, $p: PurposeInput!) { transferDetention(personId: $pid, idempotencyKey: $k, purpose: $p, input: {toPrisonId: "PRS-PANKRAC", date: "2026-10-31"}) { id } }`
	release  = `mutation($pid: ID!, $k: String!, $p: PurposeInput!) { releaseFromDetention(personId: $pid, idempotencyKey: $k, purpose: $p, input: {date: "2026-10-31", reason: CUSTODY_ENDED}) { id } }`
)

// write runs a register mutation that must succeed and returns the ID it answered with.
func write(t *testing.T, env *testenv.Env, role model.Role, query, field string, vars map[string]any) string {
	t.Helper()
	r := env.As(role, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", field, r.Raw)
	}
	id, _ := testenv.Path(r.Data, field, "id").(string)
	return id
}

func detentionVars(person, key string) map[string]any {
	return map[string]any{"pid": person, "k": key, "p": testenv.Purpose(model.RolePrisonService)}
}

// TestWatchPersonDetentionEvents: admission, transfer and release reach a COURT subscriber
// over both transports, in order, each naming its period, and each delivery is a disclosure
// with the subscription's purpose.
func TestWatchPersonDetentionEvents(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	for i, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			person := seed.NamedDvorakova
			if i == 1 {
				person = seed.NamedHorvath
			}
			s := tr.subscribe(env, env.Token(model.RoleCourt), watchPerson, map[string]any{"id": person, "p": testenv.Purpose(model.RoleCourt)})
			time.Sleep(200 * time.Millisecond) // the subscription is registered before the writes
			key := tr.name + "-" + person
			steps := []struct{ query, field, kind string }{
				{admit, "admitToDetention", "ADMITTED"},
				{transfer, "transferDetention", "TRANSFERRED"},
				{release, "releaseFromDetention", "RELEASED"},
			}
			for _, st := range steps {
				period := write(t, env, model.RolePrisonService, st.query, st.field, detentionVars(person, key+"-"+st.kind))
				e := event(t, s.Next(5*time.Second))
				if e.Kind != st.kind || e.PersonID != person || e.DetentionPeriodID == nil || *e.DetentionPeriodID != period || e.ID == "" {
					t.Fatalf("%s: got %+v, want kind %s period %s", st.field, e, st.kind, period)
				}
			}
			disclosures, err := env.Server.Trail.Disclosures(context.Background(), person)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, d := range disclosures {
				if d.OperationName != nil && *d.OperationName == "watchPerson" && d.Role == model.RoleCourt && d.Purpose != nil && d.Purpose.CaseReference == "4 T 123/2025" {
					n++
				}
			}
			if n != len(steps) {
				t.Fatalf("expected %d watchPerson disclosures of %s, found %d", len(steps), person, n)
			}
		})
	}
}

// TestWatchRefusals: what a subscription may not do, refused at subscription with a code.
func TestWatchRefusals(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Mutate: func(c *app.Config) { c.Watch.PerSubject = 2 }})
	outside := ""
	for _, id := range []string{seed.NamedNovak, seed.NamedSvoboda, seed.NamedFerreira} {
		r := env.As(model.RoleReintegration, `query($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { id } }`, map[string]any{"id": id, "p": testenv.Purpose(model.RoleReintegration)})
		if slices.Contains(r.Codes(), "NOT_FOUND") {
			outside = id
			break
		}
	}
	if outside == "" {
		t.Fatal("no named person outside the demo caseload")
	}
	cases := []struct {
		name  string
		role  model.Role
		query string
		vars  map[string]any
		code  string
	}{
		{"REINTEGRATION outside its caseload", model.RoleReintegration, watchPerson, map[string]any{"id": outside, "p": testenv.Purpose(model.RoleReintegration)}, "NOT_FOUND"},
		{"unknown person", model.RoleCourt, watchPerson, map[string]any{"id": "P-999999", "p": testenv.Purpose(model.RoleCourt)}, "NOT_FOUND"},
		{"POLICE selecting the expungement reference", model.RolePolice, watchCourt, map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(model.RolePolice)}, "FORBIDDEN"},
		{"a purpose the grant does not allow", model.RoleReintegration, watchPerson, map[string]any{"id": seed.NamedDvorakova, "p": map[string]any{"caseReference": "x", "reason": "CRIMINAL_PROCEEDINGS"}}, "FORBIDDEN"},
		{"AUDITOR", model.RoleAuditor, watchPerson, map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(model.RoleCourt)}, "FORBIDDEN"},
		{"resume point not an event ID", model.RoleCourt, watchPerson, map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(model.RoleCourt), "after": "nonsense"}, "BAD_USER_INPUT"},
	}
	for _, tr := range transports {
		for _, c := range cases {
			t.Run(tr.name+"/"+c.name, func(t *testing.T) {
				s := tr.subscribe(env, env.Token(c.role), c.query, c.vars)
				m := s.Next(5 * time.Second)
				if !slices.Contains(m.Codes(), c.code) {
					t.Fatalf("expected %s, got done=%v errors=%+v data=%s", c.code, m.Done, m.Errors, m.Data)
				}
			})
		}
	}
	t.Run("refusals are audited", func(t *testing.T) {
		found := 0
		for _, e := range env.AuditEntries("demo-reintegration") {
			if e.OperationName != nil && *e.OperationName == "watchPerson" && e.ErrorCode != nil && *e.ErrorCode == "NOT_FOUND" && e.Outcome == "FAILED" && len(e.PersonIDs) == 0 {
				found++
			}
		}
		if found != len(transports) {
			t.Fatalf("expected %d audited NOT_FOUND watchPerson refusals of REINTEGRATION, found %d", len(transports), found)
		}
	})
	t.Run("a bad token in connection_init is refused and audited", func(t *testing.T) {
		forged := env.ForeignToken(auth.Identity{Subject: "ws-forger", Name: "X", Agency: "Policie České republiky", Roles: []model.Role{model.RolePolice}})
		m := env.SubscribeWS(forged, watchPerson, map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(model.RolePolice)}).Next(5 * time.Second)
		if !m.Done {
			t.Fatalf("a forged token's subscription was not refused: %+v %s", m, m.Data)
		}
		entries := env.AuditEntries("ws-forger")
		if len(entries) != 1 || entries[0].Outcome != "DENIED" || entries[0].ErrorCode == nil || *entries[0].ErrorCode != "UNAUTHENTICATED" || entries[0].SubjectVerified {
			t.Fatalf("audit of the refused connection: %+v", entries)
		}
	})
	t.Run("subscriptions per official are bounded", func(t *testing.T) {
		token := env.Token(model.RoleProsecutor)
		vars := map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(model.RoleProsecutor)}
		for range 2 {
			s := env.SubscribeWS(token, watchPerson, vars)
			if m, quiet := s.Quiet(500 * time.Millisecond); !quiet {
				t.Fatalf("subscription within the bound refused: %+v", m)
			}
		}
		m := env.SubscribeSSE(token, watchPerson, vars).Next(5 * time.Second)
		if !slices.Contains(m.Codes(), "TOO_MANY_SUBSCRIPTIONS") {
			t.Fatalf("expected TOO_MANY_SUBSCRIPTIONS, got %+v", m)
		}
	})
}

// TestWatchExpungementOnlyToCopyReaders: POLICE (extract) and COURT (copy) watch one person; a
// conviction is recorded and expunged, then the person is admitted. COURT receives all three;
// POLICE receives the conviction (while in the extract) and the admission, never the
// expungement — and, resuming from before, not even the conviction any more.
func TestWatchExpungementOnlyToCopyReaders(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	person := seed.NamedDvorakova
	court := env.SubscribeWS(env.Token(model.RoleCourt), watchCourt, map[string]any{"id": person, "p": testenv.Purpose(model.RoleCourt)})
	police := env.SubscribeSSE(env.Token(model.RolePolice), watchPerson, map[string]any{"id": person, "p": testenv.Purpose(model.RolePolice)})
	time.Sleep(300 * time.Millisecond)
	conviction := map[string]any{"court": "Okresní soud v Jihlavě", "caseReference": "2 T 9/2020", "decisionDate": "2020-02-10", "finalDate": "2020-03-01",
		"offences":  []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
		"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "5000.00", "currency": "CZK"}, "status": "SERVED", "startDate": "2020-03-01", "endDate": "2020-04-01"}}}
	cid := write(t, env, model.RoleCourt, `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
	  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id } }`, "recordConviction",
		map[string]any{"pid": person, "in": conviction, "k": "watch-conviction", "p": testenv.Purpose(model.RoleCourt)})
	// POLICE is told of the conviction while it is in the extract.
	recorded := event(t, police.Next(5*time.Second))
	if recorded.Kind != "CONVICTION_RECORDED" {
		t.Fatalf("POLICE received %+v", recorded)
	}
	write(t, env, model.RoleCourt, `mutation($pid: ID!, $id: ID!, $k: String!, $p: PurposeInput!) {
	  recordExpungement(personId: $pid, convictionId: $id, expungedOn: "2026-10-01", idempotencyKey: $k, purpose: $p) { id } }`, "recordExpungement",
		map[string]any{"pid": person, "id": cid, "k": "watch-expunge", "p": testenv.Purpose(model.RoleCourt)})
	write(t, env, model.RolePrisonService, admit, "admitToDetention", detentionVars(person, "watch-admit-after-expunge"))

	got := func(s *testenv.Stream, n int) []string {
		var kinds []string
		for range n {
			kinds = append(kinds, event(t, s.Next(5*time.Second)).Kind)
		}
		return kinds
	}
	if k := got(court, 3); !slices.Equal(k, []string{"CONVICTION_RECORDED", "EXPUNGED", "ADMITTED"}) {
		t.Fatalf("COURT received %v", k)
	}
	if k := got(police, 1); !slices.Equal(k, []string{"ADMITTED"}) {
		t.Fatalf("POLICE received %v", k)
	}
	if m, quiet := police.Quiet(500 * time.Millisecond); !quiet {
		t.Fatalf("POLICE received more: %+v %s", m, m.Data)
	}
	// Resuming from before the conviction, POLICE is not told of the now expunged conviction
	// either; COURT, resuming likewise, is told of all three.
	resume := func(role model.Role, query string) *testenv.Stream {
		return env.SubscribeWS(env.Token(role), query, map[string]any{"id": person, "p": testenv.Purpose(role), "after": store.EventIDAt(time.Now().Add(-time.Minute)) + "00000000"})
	}
	if k := got(resume(model.RolePolice, watchPerson), 1); !slices.Equal(k, []string{"ADMITTED"}) {
		t.Fatalf("POLICE resumed with %v", k)
	}
	if k := got(resume(model.RoleCourt, watchCourt), 3); !slices.Equal(k, []string{"CONVICTION_RECORDED", "EXPUNGED", "ADMITTED"}) {
		t.Fatalf("COURT resumed with %v", k)
	}
}

// TestWatchGrantRevokedEndsSubscription: a grant revoked while a subscription is open ends it
// with GRANT_REVOKED, over both transports, without waiting for an event.
func TestWatchGrantRevokedEndsSubscription(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Mutate: func(c *app.Config) { c.Watch.Recheck = 300 * time.Millisecond }})
	token := env.Token(model.RoleCourt)
	vars := map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(model.RoleCourt)}
	ws, sse := env.SubscribeWS(token, watchPerson, vars), env.SubscribeSSE(token, watchPerson, vars)
	for _, s := range []*testenv.Stream{ws, sse} {
		if m, quiet := s.Quiet(500 * time.Millisecond); !quiet {
			t.Fatalf("subscription refused before the revocation: %+v", m)
		}
	}
	r := env.As(model.RoleRegistrar, `mutation { revokeAccessGrant(id: "GRANT-demo-court", reason: "Odchod z funkce") { status } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	endsWith(t, ws, "GRANT_REVOKED", 5*time.Second)
	endsWith(t, sse, "GRANT_REVOKED", 5*time.Second)
}

// TestWatchResume: a client that reconnects with the last event ID it received gets the
// events it missed, then live ones, each once.
func TestWatchResume(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	person := seed.NamedHorvath
	vars := map[string]any{"id": person, "p": testenv.Purpose(model.RoleProsecutor)}
	token := env.Token(model.RoleProsecutor)
	s := env.SubscribeWS(token, watchPerson, vars)
	time.Sleep(200 * time.Millisecond)
	write(t, env, model.RolePrisonService, admit, "admitToDetention", detentionVars(person, "resume-admit"))
	first := event(t, s.Next(5*time.Second))
	s.Close()
	write(t, env, model.RolePrisonService, transfer, "transferDetention", detentionVars(person, "resume-transfer"))
	write(t, env, model.RolePrisonService, release, "releaseFromDetention", detentionVars(person, "resume-release"))
	vars["after"] = first.ID
	again := env.SubscribeSSE(token, watchPerson, vars)
	var kinds []string
	for range 2 {
		kinds = append(kinds, event(t, again.Next(5*time.Second)).Kind)
	}
	if !slices.Equal(kinds, []string{"TRANSFERRED", "RELEASED"}) {
		t.Fatalf("resumed with %v", kinds)
	}
	if m, quiet := again.Quiet(700 * time.Millisecond); !quiet {
		t.Fatalf("an event twice: %+v %s", m, m.Data)
	}
}

// TestWatchAcrossInstances: an event written through one instance reaches a subscriber on
// another instance of the same database within two seconds — ten of the hub's 200 ms polls:
// on the project's 2 cores, among the package's parallel tests, one second was exceeded now
// and then (1.04 s, 1.57 s) with nothing wrong but the load.
func TestWatchAcrossInstances(t *testing.T) {
	t.Parallel()
	a := testenv.New(t, testenv.Options{})
	b := testenv.New(t, testenv.Options{MongoURI: a.Config.MongoURI, Database: a.Config.MongoDatabase})
	person := seed.NamedDvorakova
	s := b.SubscribeWS(b.Token(model.RoleCourt), watchPersons(1), map[string]any{"ids": []string{person, seed.NamedNovak}, "p": testenv.Purpose(model.RoleCourt)})
	time.Sleep(300 * time.Millisecond)
	period := write(t, a, model.RolePrisonService, admit, "admitToDetention", detentionVars(person, "across-admit"))
	acked := time.Now()
	e := event(t, s.Next(5*time.Second))
	if took := time.Since(acked); took > 2*time.Second {
		t.Fatalf("the event took %s to reach the other instance", took)
	}
	if e.Kind != "ADMITTED" || e.DetentionPeriodID == nil || *e.DetentionPeriodID != period {
		t.Fatalf("got %+v", e)
	}
}

func watchPersons(int) string {
	return `subscription($ids: [ID!]!, $p: PurposeInput!) { watchPersons(personIds: $ids, purpose: $p) { id kind personId detentionPeriodId } }`
}

// TestWatchShutdown: closing the server's watches ends every subscription with
// SERVICE_UNAVAILABLE (reason SHUTDOWN).
func TestWatchShutdown(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	var streams []*testenv.Stream
	for i, tr := range transports {
		streams = append(streams, tr.subscribe(env, env.Token(model.RoleCourt), watchPerson, map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(model.RoleCourt)}))
		if m, quiet := streams[i].Quiet(400 * time.Millisecond); !quiet {
			t.Fatalf("%s refused: %+v", tr.name, m)
		}
	}
	env.Server.Watches.Hub.Close(nil)
	for i, s := range streams {
		t.Run(fmt.Sprint(transports[i].name), func(t *testing.T) { endsWith(t, s, "SERVICE_UNAVAILABLE", 5*time.Second) })
	}
}
