package app_test

import (
	"testing"
	"time"

	"custodia/app"
	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

const (
	prisonsQuery = `{ prisons { id } }`
	personQuery  = `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`
)

func officer(subject, name string) auth.Identity {
	return auth.Identity{Subject: subject, Name: name, Username: subject, Email: subject + "@policie.example",
		Agency: "Policie České republiky", Roles: []model.Role{model.RolePolice}}
}

// call runs a mutation or query for a token and returns the data, failing on errors.
func call(t *testing.T, env *testenv.Env, token, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := env.Do(token, query, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %s", r.Raw)
	}
	return r.Data
}

func wantCode(t *testing.T, r testenv.Response, code string) {
	t.Helper()
	if len(r.Errors) != 1 || r.Errors[0].Code() != code || testenv.Path(r.Data, "person") != nil {
		t.Fatalf("want one %s error and no data, got %s", code, r.Raw)
	}
}

func TestGrantLifecycle(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	newbie := env.TokenFor(officer("pcr-novy", "Adam Nový"), time.Hour)
	approver := env.Token(model.RolePolice) // demo-police: approver of the same agency
	registrar := env.Token(model.RoleRegistrar)
	purpose := map[string]any{"p": testenv.Purpose(model.RolePolice)}

	wantCode(t, env.Do(newbie, personQuery, purpose), "GRANT_REQUIRED")
	wantCode(t, env.Do(newbie, prisonsQuery, nil), "GRANT_REQUIRED")

	req := call(t, env, newbie, `mutation { requestAccess(input: {justification: "Oddělení hospodářské kriminality, nový vyšetřovatel"}) { id status role agency issuedTo { name email } allowedPurposes } }`, nil)
	id := testenv.Path(req, "requestAccess", "id").(string)
	expectEq(t, "requested", testenv.Path(req, "requestAccess", "status"), "REQUESTED")
	expectEq(t, "identity recorded", testenv.Path(req, "requestAccess", "issuedTo", "name"), "Adam Nový")
	wantCode(t, env.Do(newbie, `mutation { requestAccess(input: {justification: "again"}) { id } }`, nil), "CONFLICT")
	wantCode(t, env.Do(newbie, `mutation { requestAccess(input: {justification: " "}) { id } }`, nil), "BAD_USER_INPUT")

	mine := call(t, env, newbie, `{ myAccessGrants { id status } }`, nil)
	expectEq(t, "own request listed", testenv.Path(mine, "myAccessGrants", 0, "id"), id)

	approve := `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`
	vars := map[string]any{"id": id}
	wantCode(t, env.Do(newbie, approve, vars), "GRANT_REQUIRED") // and never one's own
	selfApprover := officer("pcr-novy", "Adam Nový")
	selfApprover.Approver = true
	wantCode(t, env.Do(env.TokenFor(selfApprover, time.Hour), approve, vars), "GRANT_REQUIRED")
	wantCode(t, env.Do(env.Token(model.RoleCourt), approve, vars), "NOT_FOUND") // approver of another agency: a grant it may not see
	nonApprover := seed.Officials[2].Identity                                   // demo-police without the approver claim
	nonApprover.Approver = false
	wantCode(t, env.Do(env.TokenFor(nonApprover, time.Hour), approve, vars), "FORBIDDEN")
	activate := `mutation($id: ID!, $in: ActivateAccessGrantInput!) { activateAccessGrant(id: $id, input: $in) { status validFrom validUntil allowedPurposes } }`
	activateVars := map[string]any{"id": id, "in": map[string]any{"validUntil": "2027-06-30", "allowedPurposes": []string{"PRE_TRIAL_INVESTIGATION"}}}
	conflict := env.Do(registrar, activate, activateVars)
	wantCode(t, conflict, "CONFLICT")
	if conflict.Errors[0].Message != "cannot activate a grant that is REQUESTED" {
		t.Errorf("the CONFLICT should name the transition: %q", conflict.Errors[0].Message)
	}
	expectEq(t, "approved", testenv.Path(call(t, env, approver, approve, vars), "approveAccessRequest", "status"), "APPROVED")
	wantCode(t, env.Do(approver, approve, vars), "CONFLICT")

	wantCode(t, env.Do(env.Token(model.RoleCourt), activate, activateVars), "FORBIDDEN") // registrar only (schema)
	badVars := map[string]any{"id": id, "in": map[string]any{"allowedPurposes": []string{"SUPERVISION"}}}
	wantCode(t, env.Do(registrar, activate, badVars), "BAD_USER_INPUT")
	pastVars := map[string]any{"id": id, "in": map[string]any{"validUntil": "2026-01-01"}}
	wantCode(t, env.Do(registrar, activate, pastVars), "BAD_USER_INPUT")
	active := call(t, env, registrar, activate, activateVars)
	expect(t, "activated", testenv.Path(active, "activateAccessGrant"), map[string]any{"status": "ACTIVE", "validFrom": "2026-11-01", "validUntil": "2027-06-30"})

	// Now the official can work, within the purposes granted.
	call(t, env, newbie, personQuery, purpose)
	wantCode(t, env.Do(newbie, personQuery, map[string]any{"p": map[string]any{"caseReference": "1 T 1/2026", "reason": "CRIMINAL_PROCEEDINGS"}}), "FORBIDDEN")

	suspend := `mutation($id: ID!) { suspendAccessGrant(id: $id, reason: "Kontrola oprávněnosti přístupu") { status statusReason } }`
	expectEq(t, "suspended", testenv.Path(call(t, env, registrar, suspend, vars), "suspendAccessGrant", "status"), "SUSPENDED")
	wantCode(t, env.Do(newbie, personQuery, purpose), "GRANT_SUSPENDED")
	wantCode(t, env.Do(newbie, `mutation($id: ID!) { reconfirmAccessGrant(id: $id) { status } }`, vars), "CONFLICT") // registrar's suspension
	call(t, env, registrar, activate, map[string]any{"id": id, "in": map[string]any{}})
	call(t, env, newbie, personQuery, purpose)

	revoke := `mutation($id: ID!) { revokeAccessGrant(id: $id, reason: "Služební poměr skončil") { status } }`
	expectEq(t, "revoked", testenv.Path(call(t, env, registrar, revoke, vars), "revokeAccessGrant", "status"), "REVOKED")
	wantCode(t, env.Do(newbie, personQuery, purpose), "GRANT_REVOKED")
	wantCode(t, env.Do(registrar, revoke, vars), "CONFLICT")
	wantCode(t, env.Do(registrar, activate, activateVars), "CONFLICT")

	// The register office and auditors see all grants; others may not.
	list := `query($f: AccessGrantFilter) { accessGrants(filter: $f, first: 10) { edges { node { id status subject } } pageInfo { hasNextPage } } }`
	for _, role := range []model.Role{model.RoleRegistrar, model.RoleAuditor} {
		data := env.MustData(role, list, map[string]any{"f": map[string]any{"subject": "pcr-novy"}})
		expectEq(t, "listed", testenv.Path(data, "accessGrants", "edges", 0, "node", "status"), "REVOKED")
	}
	wantCode(t, env.As(model.RolePolice, list, nil), "FORBIDDEN")

	// Rejection paths.
	other := env.TokenFor(officer("pcr-druhy", "Bára Druhá"), time.Hour)
	id2 := testenv.Path(call(t, env, other, `mutation { requestAccess(input: {justification: "Stáž"}) { id } }`, nil), "requestAccess", "id")
	rejected := call(t, env, approver, `mutation($id: ID!) { rejectAccessRequest(id: $id, reason: "Stáž nevyžaduje přístup") { status statusReason } }`, map[string]any{"id": id2})
	expect(t, "rejected", testenv.Path(rejected, "rejectAccessRequest"), map[string]any{"status": "REJECTED", "statusReason": "Stáž nevyžaduje přístup"})
	wantCode(t, env.Do(approver, approve, map[string]any{"id": id2}), "CONFLICT")
}

func TestIdentityChangeSuspendsUntilReconfirmed(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	o, _ := seed.OfficialFor(model.RolePrisonService)
	changed := o.Identity
	changed.Email = "jiri.dozorce@vscr.example" // new mailbox at the identity provider
	token := env.TokenFor(changed, time.Hour)
	vars := map[string]any{"p": testenv.Purpose(model.RolePrisonService)}

	r := env.Do(token, personQuery, vars)
	wantCode(t, r, "GRANT_SUSPENDED")
	grantID := r.Errors[0].Extensions["grantId"]
	wantCode(t, env.Do(token, personQuery, vars), "GRANT_SUSPENDED")
	// The old identity no longer works either: the grant itself is suspended.
	wantCode(t, env.As(model.RolePrisonService, personQuery, vars), "GRANT_SUSPENDED")

	mine := call(t, env, token, `{ myAccessGrants { id status statusReason } }`, nil)
	expect(t, "suspended grant", testenv.Path(mine, "myAccessGrants", 0), map[string]any{"id": grantID, "status": "SUSPENDED", "statusReason": "IDENTITY_CHANGED"})
	wantCode(t, env.Do(env.Token(model.RolePolice), `mutation($id: ID!) { reconfirmAccessGrant(id: $id) { status } }`, map[string]any{"id": grantID}), "NOT_FOUND")

	re := call(t, env, token, `mutation($id: ID!) { reconfirmAccessGrant(id: $id) { status issuedTo { email } } }`, map[string]any{"id": grantID})
	expect(t, "reconfirmed", testenv.Path(re, "reconfirmAccessGrant"), map[string]any{"status": "ACTIVE"})
	expectEq(t, "new identity recorded", testenv.Path(re, "reconfirmAccessGrant", "issuedTo", "email"), "jiri.dozorce@vscr.example")
	call(t, env, token, personQuery, vars)
}

func TestGrantExpires(t *testing.T) {
	t.Parallel()
	first := testenv.New(t, testenv.Options{})
	first.MustData(model.RoleCourt, prisonsQuery, nil)
	later := testenv.New(t, testenv.Options{Database: first.Config.MongoDatabase, Mutate: func(c *app.Config) {
		c.Now = func() time.Time { return testenv.Today.AddDate(2, 0, 0) }
	}})
	wantCode(t, later.As(model.RoleCourt, prisonsQuery, nil), "GRANT_EXPIRED")
	mine := later.MustData(model.RoleCourt, `{ myAccessGrants { status } }`, nil)
	expectEq(t, "listed as expired", testenv.Path(mine, "myAccessGrants", 0, "status"), "EXPIRED")
}

// TestRevocationAcrossInstances runs two server instances on one database: a revocation on one
// takes effect on the other within the grant cache's time to live.
func TestRevocationAcrossInstances(t *testing.T) {
	t.Parallel()
	const ttl = time.Second
	withTTL := func(c *app.Config) { c.GrantCacheTTL = ttl }
	a := testenv.New(t, testenv.Options{Mutate: withTTL})
	b := testenv.New(t, testenv.Options{Database: a.Config.MongoDatabase, Mutate: withTTL})
	court := b.Token(model.RoleCourt)
	call(t, b, court, prisonsQuery, nil) // instance B has the grant cached
	call(t, a, a.Token(model.RoleRegistrar), `mutation { revokeAccessGrant(id: "GRANT-demo-court", reason: "Odchod z funkce") { status } }`, nil)
	revoked := time.Now()
	for {
		r := b.Do(court, prisonsQuery, nil)
		if len(r.Errors) == 1 && r.Errors[0].Code() == "GRANT_REVOKED" {
			break
		}
		if time.Since(revoked) > ttl+time.Second {
			t.Fatalf("instance B still serves a revoked grant after %v: %s", time.Since(revoked), r.Raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("revocation reached the other instance after %v (bound: %v)", time.Since(revoked).Round(time.Millisecond), ttl)
	wantCode(t, a.Do(a.Token(model.RoleCourt), prisonsQuery, nil), "GRANT_REVOKED")
}
