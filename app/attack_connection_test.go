package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"custodia/app"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// TestConnectionOperationsAreAuthorisedEach: a websocket connection carries many operations
// (graphql-transport-ws runs queries and mutations too); each is authorised as a request of
// its own, against the grant and caseload as they are when it runs. A connection opened
// before a revocation read persons over it for as long as it stayed open, and a caseload
// reduced meanwhile still let it read the persons taken out.
func TestConnectionOperationsAreAuthorisedEach(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	const read = `query($id: ID!, $p: PurposeInput!) { person(id: $id, purpose: $p) { id familyName } }`
	type person struct {
		Person *struct{ ID string } `json:"person"`
	}
	readOn := func(c *testenv.Connection, role model.Role, id string) (string, []string) {
		t.Helper()
		m := c.Do(read, map[string]any{"id": id, "p": testenv.Purpose(role)})
		var d person
		_ = json.Unmarshal(m.Data, &d)
		got := ""
		if d.Person != nil {
			got = d.Person.ID
		}
		return got, m.Codes()
	}

	court := env.Connect(env.Token(C))
	if got, codes := readOn(court, C, seed.NamedNovak); got != seed.NamedNovak {
		t.Fatalf("COURT before the revocation: %q %v", got, codes)
	}
	reintegration := env.Connect(env.Token(RE))
	if got, codes := readOn(reintegration, RE, seed.NamedHorvath); got != seed.NamedHorvath {
		t.Fatalf("REINTEGRATION before the caseload changed: %q %v", got, codes)
	}

	if r := env.As(RG, `mutation { revokeAccessGrant(id: "GRANT-demo-court", reason: "Odchod z funkce") { status } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := env.As(RG, `mutation { suspendAccessGrant(id: "GRANT-demo-reintegration", reason: "Změna spisu") { status } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	if r := env.As(RG, `mutation($id: ID!) { activateAccessGrant(id: "GRANT-demo-reintegration", input: {caseload: [$id]}) { status } }`, map[string]any{"id": seed.NamedDvorakova}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}

	if got, codes := readOn(court, C, seed.NamedNovak); got != "" || len(codes) != 1 || codes[0] != "GRANT_REVOKED" {
		t.Errorf("COURT after the revocation, on the same connection: %q %v, want GRANT_REVOKED and no data", got, codes)
	}
	if got, codes := readOn(reintegration, RE, seed.NamedHorvath); got != "" || len(codes) != 1 || codes[0] != "NOT_FOUND" {
		t.Errorf("REINTEGRATION after Horváth left its caseload, on the same connection: %q %v, want NOT_FOUND", got, codes)
	}
	if got, codes := readOn(reintegration, RE, seed.NamedDvorakova); got != seed.NamedDvorakova {
		t.Errorf("REINTEGRATION reads its new caseload on the same connection: %q %v", got, codes)
	}
}

// TestConnectionOperationsAreRateLimited: the per-subject rate limit counts the operations of
// a websocket connection too. A browser connection (token in connection_init) was never
// limited: its upgrade request carries no token, and its operations bypassed the middleware.
func TestConnectionOperationsAreRateLimited(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) { c.Limits.RatePerSec, c.Limits.RateBurst = 1, 3 }})
	conn := env.Connect(env.Token(PO))
	limited := 0
	for range 10 {
		m := conn.Do(`{ prisons { id } }`, nil)
		if slices.Contains(m.Codes(), "RATE_LIMITED") {
			if m.Data != nil && string(m.Data) != "null" {
				t.Fatalf("a limited operation returned data: %s", m.Data)
			}
			limited++
		}
	}
	if limited < 5 {
		t.Fatalf("%d of 10 operations in a burst of 3 at 1/s were limited", limited)
	}
	entries := env.AuditEntries("demo-police")
	refused := 0
	for _, e := range entries {
		if e.ErrorCode != nil && *e.ErrorCode == "RATE_LIMITED" {
			refused++
		}
	}
	if refused != limited {
		t.Errorf("%d limited operations, %d audited as RATE_LIMITED", limited, refused)
	}
}

// TestConnectionMessagesKeepTheBodyLimit: a websocket message is bounded like a /query body
// (BODY_LIMIT, 64 KiB): a larger one closes the connection before it is decoded. gqlgen's
// default let messages of 1 MiB through, sixteen times the work a request may ask for.
func TestConnectionMessagesKeepTheBodyLimit(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	conn := env.Connect(env.Token(PO))
	if m := conn.Do(`{ prisons { id } }`, nil); m.Done || len(m.Errors) > 0 {
		t.Fatalf("a small operation: %+v", m)
	}
	big := map[string]any{"p": map[string]any{"caseReference": strings.Repeat("x", 100<<10), "reason": "CRIMINAL_PROCEEDINGS"}}
	m := conn.Do(`query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { id } }`, big)
	if !m.Done || !slices.Contains(m.Codes(), "WS_CLOSE_StatusMessageTooBig") {
		t.Fatalf("a 100 KiB message: want the connection closed as too big, got done=%v %+v", m.Done, m.Errors)
	}
}

// TestSubscriptionNeedsAStream: a subscription sent as a plain POST (one JSON answer) is
// refused at once with BAD_REQUEST. It was opened and held unanswered until the request
// timed out (SERVICE_UNAVAILABLE after REQUEST_TIMEOUT), taking a subscription of the
// official's bounded number meanwhile.
func TestSubscriptionNeedsAStream(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) { c.Limits.Timeout = 5 * time.Second }})
	r := env.As(C, `subscription($id: ID!, $p: PurposeInput!) { watchPerson(personId: $id, purpose: $p) { id } }`,
		map[string]any{"id": seed.NamedNovak, "p": testenv.Purpose(C)})
	if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].Code() != "BAD_REQUEST" {
		t.Fatalf("want HTTP 400 BAD_REQUEST, got %d %s", r.Status, r.Raw)
	}
}

// TestEveryOperationIsBoundedByTheRequestTimeout: REQUEST_TIMEOUT bounds every query and
// mutation whatever carries it. Over a websocket connection, or as a POST accepting
// text/event-stream (which gqlgen's SSE transport also runs), an operation had no deadline: a
// verification of the whole audit log ran as long as it took.
func TestEveryOperationIsBoundedByTheRequestTimeout(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20, Mutate: func(c *app.Config) { c.Limits.Timeout = 50 * time.Millisecond }})
	for range 400 { // a log whose verification takes far longer than the timeout
		if err := env.Server.Trail.Append(context.Background(), &model.AuditEntry{Kind: model.AuditKindOperation, Outcome: model.AuditOutcomeAllowed}); err != nil {
			t.Fatal(err)
		}
	}
	const verify = `{ verifyAuditChain { valid } }`
	if m := env.Connect(env.Token(AU)).Do(verify, nil); !slices.Contains(m.Codes(), "SERVICE_UNAVAILABLE") || string(m.Data) != "" && string(m.Data) != "null" {
		t.Errorf("over a websocket connection: want SERVICE_UNAVAILABLE and no data, got %s %+v", m.Data, m.Errors)
	}
	s := env.SubscribeSSE(env.Token(AU), verify, nil)
	if m := s.Next(10 * time.Second); !slices.Contains(m.Codes(), "SERVICE_UNAVAILABLE") || string(m.Data) != "" && string(m.Data) != "null" {
		t.Errorf("as text/event-stream: want SERVICE_UNAVAILABLE and no data, got %s %+v", m.Data, m.Errors)
	}
}
