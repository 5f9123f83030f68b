package app_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"custodia/internal/testenv"
	"custodia/seed"
)

type grantEvent struct {
	Sequence                       int
	Kind, GrantID, Subject, Agency string
	From                           *string
	To                             string
	Reason, Actor                  *string
}

type eventPage struct {
	GrantEvents struct {
		Edges []struct {
			Cursor string
			Node   grantEvent
		}
		PageInfo pageInfo
	}
}

const eventsQuery = `query($after: String, $first: Int, $agency: String) { grantEvents(after: $after, first: $first, agency: $agency) {
  edges { cursor node { sequence kind grantId subject agency from to reason actor } } pageInfo { hasNextPage endCursor } } }`

// feed reads the whole event feed a token may read, page by page from a cursor, as an
// agency's mail system would poll it.
func feed(t *testing.T, env *testenv.Env, token string, after *string, agency *string) ([]grantEvent, *string) {
	t.Helper()
	var out []grantEvent
	for {
		vars := map[string]any{"first": 3}
		if after != nil {
			vars["after"] = *after
		}
		if agency != nil {
			vars["agency"] = *agency
		}
		page := testenv.DataAs[eventPage](t, env.Do(token, eventsQuery, vars)).GrantEvents
		for _, e := range page.Edges {
			out = append(out, e.Node)
		}
		after = page.PageInfo.EndCursor
		if !page.PageInfo.HasNextPage {
			return out, after
		}
	}
}

func kinds(events []grantEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Kind+":"+e.Subject)
	}
	return out
}

// TestGrantWorkflowAsThePortalRunsIt: an approver asks for a change and a cancellation of a
// subordinate's grant and the register office decides; the register office suspends and
// resumes a whole agency; every transition is an event each reader gets from its cursor.
func TestGrantWorkflowAsThePortalRunsIt(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	registrar := env.Token(RG)
	approver := env.Token(PO) // demo-police, approver of Policie České republiky
	newbie := env.TokenFor(officer("pcr-feed", "Ota Nový"), time.Hour)
	purpose := map[string]any{"p": testenv.Purpose(PO)}

	// The official's own feed starts empty; it is readable without a grant.
	mine, mark := feed(t, env, newbie, nil, nil)
	if len(mine) != 0 {
		t.Fatalf("a new official has no events: %v", kinds(mine))
	}
	id := testenv.Path(call(t, env, newbie, `mutation { requestAccess(input: {justification: "Nový vyšetřovatel"}) { id } }`, nil), "requestAccess", "id").(string)
	call(t, env, approver, `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`, map[string]any{"id": id})
	call(t, env, registrar, `mutation($id: ID!) { activateAccessGrant(id: $id, input: {}) { status } }`, map[string]any{"id": id})
	call(t, env, newbie, personQuery, purpose)

	// The approver asks for a narrower grant; the register office applies it.
	change := `mutation($id: ID!, $in: GrantChangeInput!) { requestGrantChange(id: $id, input: $in, reason: "Přeložen na dopravní policii") {
	  status pendingChange { kind requestedBy reason allowedPurposes } } }`
	changeVars := map[string]any{"id": id, "in": map[string]any{"allowedPurposes": []string{"PRE_TRIAL_INVESTIGATION"}}}
	wantCode(t, env.Do(newbie, change, changeVars), "FORBIDDEN")       // not an approver
	wantCode(t, env.Do(env.Token(C), change, changeVars), "NOT_FOUND") // another agency's approver: a grant it may not see
	wantCode(t, env.Do(approver, change, map[string]any{"id": id, "in": map[string]any{}}), "BAD_USER_INPUT")
	wantCode(t, env.Do(approver, change, map[string]any{"id": id, "in": map[string]any{"allowedPurposes": []string{"SUPERVISION"}}}), "BAD_USER_INPUT")
	pending := call(t, env, approver, change, changeVars)
	expect(t, "pending change", testenv.Path(pending, "requestGrantChange", "pendingChange"), map[string]any{"kind": "CHANGE", "requestedBy": "demo-police"})
	wantCode(t, env.Do(approver, change, changeVars), "CONFLICT") // one pending request at a time
	decide := `mutation($id: ID!, $a: Boolean!) { decideGrantChange(id: $id, accept: $a, reason: "Schváleno rejstříkem") { status allowedPurposes pendingChange { kind } } }`
	wantCode(t, env.Do(approver, decide, map[string]any{"id": id, "a": true}), "FORBIDDEN")
	applied := call(t, env, registrar, decide, map[string]any{"id": id, "a": true})
	expectEq(t, "purposes changed", testenv.Path(applied, "decideGrantChange", "allowedPurposes", 0), "PRE_TRIAL_INVESTIGATION")
	expectEq(t, "no longer pending", testenv.Path(applied, "decideGrantChange", "pendingChange"), nil)
	wantCode(t, env.Do(registrar, decide, map[string]any{"id": id, "a": true}), "CONFLICT")

	// The register office suspends the whole agency: the approver and the official are cut
	// off; the register office's own agency cannot be suspended this way.
	suspend := `mutation($a: String!) { suspendAgencyGrants(agency: $a, reason: "Kompromitované pracoviště") { id status } }`
	resume := `mutation($a: String!) { resumeAgencyGrants(agency: $a, reason: "Pracoviště prověřeno") { id status } }`
	agency := "Policie České republiky"
	wantCode(t, env.Do(approver, suspend, map[string]any{"a": agency}), "FORBIDDEN")
	wantCode(t, env.Do(registrar, suspend, map[string]any{"a": "Rejstřík trestů"}), "BAD_USER_INPUT")
	suspended := call(t, env, registrar, suspend, map[string]any{"a": agency})["suspendAgencyGrants"].([]any)
	if len(suspended) != 2 {
		t.Fatalf("two police grants should be suspended: %v", suspended)
	}
	wantCode(t, env.Do(newbie, personQuery, purpose), "GRANT_SUSPENDED")
	wantCode(t, env.Do(approver, personQuery, purpose), "GRANT_SUSPENDED")
	env.MustData(C, personQuery, map[string]any{"p": testenv.Purpose(C)}) // other agencies work on
	if again := call(t, env, registrar, suspend, map[string]any{"a": agency})["suspendAgencyGrants"].([]any); len(again) != 0 {
		t.Errorf("suspending again changes nothing: %v", again)
	}
	// A suspended official still reads their own events (to learn why).
	mine, _ = feed(t, env, newbie, mark, nil)
	expectEq(t, "own events, in order", kinds(mine), []string{"REQUESTED:pcr-feed", "APPROVED:pcr-feed", "ACTIVATED:pcr-feed", "CHANGE_REQUESTED:pcr-feed", "CHANGE_APPLIED:pcr-feed", "SUSPENDED:pcr-feed"})
	if last := mine[len(mine)-1]; last.Reason == nil || *last.Reason != "Kompromitované pracoviště" || last.Actor == nil || *last.Actor != "demo-registrar" {
		t.Errorf("suspension event: %+v", last)
	}

	// One grant suspended on its own stays suspended when the agency resumes.
	call(t, env, registrar, `mutation { activateAccessGrant(id: "GRANT-demo-police", input: {}) { status } }`, nil)
	call(t, env, registrar, `mutation { suspendAccessGrant(id: "GRANT-demo-police", reason: "Vlastní prověrka") { status } }`, nil)
	resumed := call(t, env, registrar, resume, map[string]any{"a": agency})["resumeAgencyGrants"].([]any)
	if len(resumed) != 1 || testenv.Path(resumed, 0, "id") != id {
		t.Fatalf("only the agency-suspended grant resumes: %v", resumed)
	}
	call(t, env, newbie, personQuery, purpose)
	wantCode(t, env.Do(approver, personQuery, purpose), "GRANT_SUSPENDED")
	call(t, env, registrar, `mutation { activateAccessGrant(id: "GRANT-demo-police", input: {}) { status } }`, nil)

	// The approver asks to cancel the grant; the register office revokes it.
	call(t, env, approver, `mutation($id: ID!) { requestGrantCancellation(id: $id, reason: "Odchod ze služebního poměru") { pendingChange { kind } } }`, map[string]any{"id": id})
	revoked := call(t, env, registrar, decide, map[string]any{"id": id, "a": true})
	expectEq(t, "cancelled", testenv.Path(revoked, "decideGrantChange", "status"), "REVOKED")
	wantCode(t, env.Do(newbie, personQuery, purpose), "GRANT_REVOKED")

	// Each reader gets the events it may read, gap-free and in order, from its cursor.
	all, end := feed(t, env, registrar, nil, nil)
	for i := range all {
		if all[i].Sequence != i+1 {
			t.Fatalf("the feed has a gap or is out of order at %d: %+v", i, all[i])
		}
	}
	if more, _ := feed(t, env, registrar, end, nil); len(more) != 0 {
		t.Errorf("nothing after the end cursor: %v", kinds(more))
	}
	auditor, _ := feed(t, env, env.Token(AU), nil, nil)
	expectEq(t, "auditor reads the whole feed", len(auditor), len(all))
	police, _ := feed(t, env, approver, nil, nil) // an approver reads its agency
	for _, e := range police {
		if e.Agency != agency {
			t.Errorf("an approver reads another agency's event: %+v", e)
		}
	}
	if len(police) < 10 {
		t.Errorf("the approver should read the agency's events: %v", kinds(police))
	}
	nonApprover := seed.Officials[2].Identity
	nonApprover.Approver = false
	ownOnly, _ := feed(t, env, env.TokenFor(nonApprover, time.Hour), nil, nil)
	for _, e := range ownOnly {
		if e.Subject != "demo-police" {
			t.Errorf("an official reads someone else's event: %+v", e)
		}
	}
	other := "Městský soud v Praze"
	wantCode(t, env.Do(approver, eventsQuery, map[string]any{"agency": other}), "FORBIDDEN")
	courtOnly, _ := feed(t, env, registrar, nil, &other)
	if len(courtOnly) != 0 {
		t.Errorf("no court grant changed: %v", kinds(courtOnly))
	}
	// Every transition is audited per grant.
	transitions := testenv.DataAs[struct {
		AuditTrail struct {
			Edges []struct {
				Node struct {
					GrantTransition *struct{ GrantID, To string }
				}
			}
		}
	}](t, env.As(AU, `{ auditTrail(filter: {subject: "demo-registrar"}, first: 50) { edges { node { grantTransition { grantId to } } } } }`, nil)).AuditTrail.Edges
	var audited []string
	for _, e := range transitions {
		if g := e.Node.GrantTransition; g != nil && g.GrantID == id {
			audited = append(audited, g.To)
		}
	}
	slices.Sort(audited)
	expectEq(t, "registrar's transitions of the grant audited", audited, []string{"ACTIVE", "ACTIVE", "ACTIVE", "REVOKED", "SUSPENDED"})
	wantCode(t, env.Do(registrar, eventsQuery, map[string]any{"after": "bogus"}), "BAD_USER_INPUT")
}

// TestGrantEventFeedHasNoGapsUnderConcurrency requests access for many officials at once: the
// feed numbers every event exactly once, without gaps.
func TestGrantEventFeedHasNoGapsUnderConcurrency(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			token := env.TokenFor(officer(fmt.Sprintf("pcr-burst-%02d", i), "Hromadný Žadatel"), time.Hour)
			r := env.Do(token, `mutation { requestAccess(input: {justification: "Nábor"}) { id } }`, nil)
			if len(r.Errors) > 0 {
				errs <- r.Raw
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("request failed: %s", e)
	}
	all, _ := feed(t, env, env.Token(RG), nil, nil)
	subjects := map[string]bool{}
	for i, e := range all {
		if e.Sequence != i+1 {
			t.Fatalf("gap or disorder at %d: %+v", i, e)
		}
		subjects[e.Subject] = true
	}
	if len(all) != n || len(subjects) != n {
		t.Errorf("want %d events of %d officials, got %d: %v", n, n, len(all), kinds(all))
	}
}
