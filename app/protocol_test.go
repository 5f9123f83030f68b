package app_test

import (
	"testing"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/seed"
)

// TestRetriesReturnTheFirstAnswer: for every register mutation, a write is made, the entity is
// then changed by a later write, and the first write is retried with its key: the retry gets
// the first answer byte for byte (not the entity's current state) and writes nothing.
func TestRetriesReturnTheFirstAnswer(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	ps, rg := testenv.Purpose(PS), registrarPurpose()
	var createdPerson, createdConviction, createdPrison string
	type step struct {
		role  model.Role
		query string
		vars  map[string]any
		// after remembers what the first answer created, for the later steps.
		after func(testenv.Response)
	}
	prison := map[string]any{"name": "Věznice Retry", "kind": "PRISON", "address": map[string]any{"street": "Nová 1", "city": "Jihlava", "postalCode": "586 01", "country": "CZ"}}
	const upsert = `mutation($in: PrisonInput!, $k: String!) { upsertPrison(input: $in, idempotencyKey: $k) { id name version } }`
	const update = `mutation($id: ID!, $v: Int!, $in: PersonInput!, $k: String!, $p: PurposeInput!) {
	  updatePerson(id: $id, version: $v, input: $in, idempotencyKey: $k, purpose: $p) { id version familyName } }`
	const record = `mutation($pid: ID!, $in: ConvictionInput!, $k: String!, $p: PurposeInput!) {
	  recordConviction(personId: $pid, input: $in, idempotencyKey: $k, purpose: $p) { id expunged expungedOn sentences { id status } } }`
	const expunge = `mutation($pid: ID!, $id: ID!, $on: Date!, $k: String!, $p: PurposeInput!) {
	  recordExpungement(personId: $pid, convictionId: $id, expungedOn: $on, idempotencyKey: $k, purpose: $p) { id expunged expungedOn } }`
	conviction := map[string]any{"court": "Okresní soud v Jihlavě", "caseReference": "2 T 9/2020", "decisionDate": "2020-02-10", "finalDate": "2020-03-01",
		"offences":  []any{map[string]any{"legalProvision": "§ 205 odst. 1 TZ", "description": "krádež", "category": "0801 00", "completion": "COMPLETED", "participation": "PERPETRATOR", "intentional": true}},
		"sentences": []any{map[string]any{"kind": "FINE", "amount": map[string]any{"amount": "5000.00", "currency": "CZK"}, "status": "SERVED", "startDate": "2020-03-01", "endDate": "2020-04-01"}}}
	renamed := personInput(validBirthNumber(410))
	renamed["familyName"] = "Nová"
	cases := []struct {
		name         string
		first, later func() step
	}{
		{"registerPerson then updatePerson",
			func() step {
				return step{RG, registerPerson, map[string]any{"in": personInput(validBirthNumber(410)), "key": "first-register", "p": rg},
					func(r testenv.Response) { createdPerson = testenv.Path(r.Data, "registerPerson", "id").(string) }}
			},
			func() step {
				return step{RG, update, map[string]any{"id": createdPerson, "v": 1, "in": renamed, "k": "later-update-1", "p": rg}, nil}
			}},
		{"updatePerson then updatePerson",
			func() step {
				return step{RG, update, map[string]any{"id": createdPerson, "v": 2, "in": personInput(validBirthNumber(410)), "k": "first-update", "p": rg}, nil}
			},
			func() step {
				return step{RG, update, map[string]any{"id": createdPerson, "v": 3, "in": renamed, "k": "later-update-2", "p": rg}, nil}
			}},
		{"recordConviction then recordExpungement",
			func() step {
				return step{C, record, map[string]any{"pid": createdPerson, "in": conviction, "k": "first-conviction", "p": testenv.Purpose(C)},
					func(r testenv.Response) { createdConviction = testenv.Path(r.Data, "recordConviction", "id").(string) }}
			},
			func() step {
				return step{C, expunge, map[string]any{"pid": createdPerson, "id": createdConviction, "on": "2026-10-01", "k": "later-expunge", "p": testenv.Purpose(C)}, nil}
			}},
		{"admitToDetention then transferDetention",
			func() step {
				return step{PS, admitQuery, map[string]any{"pid": createdPerson, "in": custody("PRS-BRNO-VV", "2026-10-01"), "k": "first-admit", "p": ps}, nil}
			},
			func() step {
				return step{PS, transferQuery, map[string]any{"pid": createdPerson, "in": map[string]any{"toPrisonId": "PRS-PANKRAC", "date": "2026-10-10"}, "k": "later-transfer", "p": ps}, nil}
			}},
		{"transferDetention then releaseFromDetention",
			func() step {
				return step{PS, transferQuery, map[string]any{"pid": createdPerson, "in": map[string]any{"toPrisonId": "PRS-RUZYNE", "date": "2026-10-12"}, "k": "first-transfer", "p": ps}, nil}
			},
			func() step {
				return step{PS, releaseQuery, map[string]any{"pid": createdPerson, "in": map[string]any{"date": "2026-10-20", "reason": "CUSTODY_ENDED"}, "k": "later-release", "p": ps}, nil}
			}},
		{"releaseFromDetention then admitToDetention",
			func() step {
				return step{PS, releaseQuery, map[string]any{"pid": seed.NamedNovak, "in": map[string]any{"date": "2026-10-20", "reason": "CUSTODY_ENDED"}, "k": "first-release", "p": ps}, nil}
			},
			func() step {
				return step{PS, admitQuery, map[string]any{"pid": seed.NamedNovak, "in": custody("PRS-BRNO-VV", "2026-10-25"), "k": "later-admit", "p": ps}, nil}
			}},
		{"upsertPrison then upsertPrison",
			func() step {
				return step{PS, upsert, map[string]any{"in": prison, "k": "first-prison"},
					func(r testenv.Response) { createdPrison = testenv.Path(r.Data, "upsertPrison", "id").(string) }}
			},
			func() step {
				changed := map[string]any{"id": createdPrison, "version": 1}
				for k, v := range prison {
					changed[k] = v
				}
				changed["name"] = "Věznice Retry II"
				return step{PS, upsert, map[string]any{"in": changed, "k": "later-prison"}, nil}
			}},
	}
	for _, tc := range cases {
		first := tc.first()
		a := env.As(first.role, first.query, first.vars)
		if len(a.Errors) > 0 {
			t.Fatalf("%s: first write: %s", tc.name, a.Raw)
		}
		if first.after != nil {
			first.after(a)
		}
		later := tc.later()
		if r := env.As(later.role, later.query, later.vars); len(r.Errors) > 0 {
			t.Fatalf("%s: later write: %s", tc.name, r.Raw)
		}
		again := env.As(first.role, first.query, first.vars)
		if again.Raw != a.Raw {
			t.Errorf("%s: the retry must return the first answer byte for byte:\nfirst: %s\nretry: %s", tc.name, a.Raw, again.Raw)
		}
	}
}
