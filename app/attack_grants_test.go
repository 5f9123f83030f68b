package app_test

import (
	"strings"
	"testing"
	"time"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// TestGrantDecisionsAreNoOracleForOtherAgencies: an official who may not see a grant — an
// approver of another agency, an official who is no approver — gets, for deciding it or asking
// to change it, the answer a grant that does not exist gets. They were told it exists and which
// agency holds it ("only an approver of agency "Městský soud v Praze" may decide …", "no access
// grant … of yours").
func TestGrantDecisionsAreNoOracleForOtherAgencies(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	nonApprover := seed.Officials[2].Identity // demo-police without the approver claim
	nonApprover.Approver = false
	outsiders := map[string]string{"an approver of another agency": env.Token(model.RolePolice), "no approver": env.TokenFor(nonApprover, time.Hour)}
	requests := map[string]string{
		"approve": `mutation($id: ID!) { approveAccessRequest(id: $id) { id } }`,
		"reject":  `mutation($id: ID!) { rejectAccessRequest(id: $id, reason: "Bez důvodu") { id } }`,
		"change":  `mutation($id: ID!) { requestGrantChange(id: $id, input: {allowedPurposes: [PRE_TRIAL_INVESTIGATION]}, reason: "Změna agendy") { id } }`,
		"cancel":  `mutation($id: ID!) { requestGrantCancellation(id: $id, reason: "Odchod") { id } }`,
		// Re-confirming needs no grant; another official's grant is not theirs to see either.
		"reconfirm": `mutation($id: ID!) { reconfirmAccessGrant(id: $id) { id } }`,
	}
	const court, missing = "GRANT-demo-court", "GRANT-0000000000000-00000000"
	for who, token := range outsiders {
		for what, query := range requests {
			existing := env.Do(token, query, map[string]any{"id": court})
			absent := env.Do(token, query, map[string]any{"id": missing})
			e, a := answerOf(existing, court), answerOf(absent, missing)
			if e != a || strings.Contains(e, "soud") {
				t.Errorf("%s, %s: an existing grant of another agency answers\n  %s\nbut a missing one\n  %s", who, what, e, a)
			}
		}
	}
}

// answerOf is a refusal's code and message with the ID the caller sent taken out.
func answerOf(r testenv.Response, id string) string {
	if len(r.Errors) != 1 || r.Data != nil {
		return "not one refusal: " + r.Raw
	}
	return strings.ReplaceAll(r.Errors[0].Code()+" "+r.Errors[0].Message, id, "<id>")
}
