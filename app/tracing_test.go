package app_test

import (
	"fmt"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
)

func TestTracingNeverRecordsVariables(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	env := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) { c.TracerProvider = tp }})
	const q = `query Lookup($n: String!, $p: PurposeInput!) { personByNationalId(nationalId: $n, purpose: $p) { familyName } }`
	env.MustData(model.RolePolice, q, map[string]any{"n": "800115/2346", "p": map[string]any{"caseReference": "KRPA-SECRET-77", "reason": "PRE_TRIAL_INVESTIGATION"}})
	names := map[string]bool{}
	for _, s := range rec.Ended() {
		names[s.Name()] = true
		for _, a := range s.Attributes() {
			v := fmt.Sprint(a.Value.AsInterface())
			for _, secret := range []string{"800115", "Novák", "KRPA-SECRET", "personByNationalId("} {
				if strings.Contains(v, secret) {
					t.Errorf("span %q attribute %s carries %q", s.Name(), a.Key, secret)
				}
			}
		}
	}
	for _, want := range []string{"POST /query", "graphql Lookup", "db find"} {
		if !names[want] {
			t.Errorf("no %q span among %v", want, names)
		}
	}
}
