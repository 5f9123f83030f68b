package maintenance_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"custodia/auth"
	"custodia/internal/testenv"
	"custodia/maintenance"
	"custodia/model"
	"custodia/store"
)

// TestPerformOrderAndCrashRecovery runs the write protocol on the real store and audit trail
// with a write that crashes after applying: the steps run in the protocol's order, the audit
// entry is written before the apply, the retry completes the write without applying it twice,
// and every later retry returns the recorded answer without checking or applying anything.
func TestPerformOrderAndCrashRecovery(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 5})
	svc := maintenance.New(env.Server.Store, env.Server.Trail, nil)
	ctx := context.Background()
	p := &auth.Principal{Subject: "demo-prison-service", Agency: "Vězeňská služba ČR", Role: model.RolePrisonService}
	countWrites := func() int {
		got, err := env.Server.Trail.Entries(ctx, store.AuditQuery{Subject: p.Subject, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		entries := got.Entries
		n := 0
		for _, e := range entries {
			if e.Kind == model.AuditKindWrite {
				n++
			}
		}
		return n
	}
	var steps []string
	crash := true
	write := func() (*model.Prison, error) {
		return maintenance.Perform(ctx, svc, p, maintenance.Mutation[model.Prison]{
			Name: "upsertPrison", Key: "perform-crash-test-1", Args: "a new prison",
			Validate:  func() error { steps = append(steps, "validate"); return nil },
			ProposeID: func(context.Context) (string, error) { steps = append(steps, "propose"); return "PRS-PROTOCOL", nil },
			Check: func(_ context.Context, id string) error {
				steps = append(steps, "check")
				if id != "PRS-PROTOCOL" {
					t.Errorf("the entity ID fixed by the key: got %s", id)
				}
				return nil
			},
			Apply: func(ctx context.Context, id string) (*model.Prison, error) {
				steps = append(steps, "apply")
				if n := countWrites(); n == 0 {
					t.Errorf("apply ran before the write was audited")
				}
				prison := model.Prison{ID: id, Name: "Věznice Protokol", Kind: model.PrisonKindPrison, Version: 1,
					Address: model.Address{Street: "Nová 1", City: "Jihlava", PostalCode: "586 01", Country: "CZ"}}
				if err := env.Server.Store.InsertPrison(ctx, prison); err != nil { // a retry inserts nothing new
					return nil, err
				}
				if crash {
					crash = false
					return nil, errors.New("crash after the apply")
				}
				found, err := env.Server.Store.PrisonsByIDs(ctx, []string{id})
				return found[id], err
			},
		})
	}
	if _, err := write(); err == nil {
		t.Fatal("the first call crashes")
	}
	if want := []string{"validate", "propose", "check", "apply"}; !slices.Equal(steps, want) {
		t.Fatalf("protocol order: %v, want %v", steps, want)
	}
	steps = nil
	first, err := write()
	if err != nil || first.Name != "Věznice Protokol" {
		t.Fatalf("the retry completes the write: %v %v", first, err)
	}
	if !slices.Equal(steps, []string{"validate", "propose", "check", "apply"}) {
		t.Fatalf("the retry of an unfinished write runs it again: %v", steps)
	}
	steps = nil
	again, err := write()
	if err != nil || !reflect.DeepEqual(first, again) {
		t.Fatalf("a retry of a completed write returns its answer: %+v %+v %v", first, again, err)
	}
	if !slices.Equal(steps, []string{"validate", "propose"}) {
		t.Errorf("a completed write is neither checked nor applied again: %v", steps)
	}
	if n := countWrites(); n != 2 {
		t.Errorf("each attempt that applied is audited once: %d WRITE entries", n)
	}
}
