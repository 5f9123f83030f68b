package store

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/model"
)

// TestGuardedReadsAndWritesOnEveryEngine runs the store's guarded reads and writes on both
// paths, on the embedded engine: as sent to an engine that serves only {_id: <string>} from an
// index (point-lookups: the guard is checked in the store) and as sent to MongoDB (in: the
// guard is a key of the filter). Either way a stale version or another owner refuses the
// write, the blocking rule hides a blocked person, the grant event feed's tail is found and
// a database from before grantSubjects existed is indexed at start-up; on the point-lookup
// path every filter on these collections is exactly {_id: <string>}.
func TestGuardedReadsAndWritesOnEveryEngine(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	for _, mode := range []string{"point-lookups", "in"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			type sent struct {
				col    string
				filter bson.Raw
			}
			var filters []sent
			s, err := Open(ctx, Config{URI: e.URI(), Database: "guarded_" + mode[:2], BatchLoads: mode,
				OnCommandDocument: func(name string, command []byte) {
					doc := bson.Raw(command)
					col, _ := doc.Index(0).Value().StringValueOK()
					var fs []bson.Raw
					switch name {
					case "find":
						if f, ok := doc.Lookup("filter").DocumentOK(); ok {
							fs = append(fs, f)
						}
					case "update", "delete":
						list := map[string]string{"update": "updates", "delete": "deletes"}[name]
						values, _ := doc.Lookup(list).Array().Values()
						for _, v := range values {
							fs = append(fs, v.Document().Lookup("q").Document())
						}
					}
					mu.Lock()
					defer mu.Unlock()
					for _, f := range fs {
						if col != colMeta {
							filters = append(filters, sent{col, slices.Clone(f)})
						}
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			nid := func(n string) *string { return &n }
			born := model.MustDate("1980-01-01")
			reg := Register{
				Persons: []model.Person{{ID: "P-1", FamilyName: "Jedna", NationalID: nid("111"), DateOfBirth: born, Sex: model.SexMale}, {ID: "P-2", FamilyName: "Dva", DateOfBirth: born, Sex: model.SexMale},
					{ID: "P-3", FamilyName: "Tri", DateOfBirth: born, Sex: model.SexMale, Blocked: &model.Blocking{Since: time.Now().UTC().Truncate(time.Millisecond)}}},
				Grants: []model.AccessGrant{{ID: "G-1", Subject: "sub-a", Role: model.RoleCourt, Agency: "Soud", Status: model.GrantStatusActive, Version: 1}},
			}
			if err := s.LoadRegister(ctx, reg, nil); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			filters = nil
			mu.Unlock()

			// The blocking rule, on a batch of one (inline) and of several (concurrent).
			for _, ids := range [][]string{{"P-3"}, {"P-1", "P-3"}} {
				hidden, err := s.PersonsByIDs(ctx, Scope{HideBlocked: true}, ids)
				if err != nil || hidden["P-3"] != nil {
					t.Errorf("%v with HideBlocked: a blocked person was returned (%v)", ids, err)
				}
				shown, err := s.PersonsByIDs(ctx, Scope{}, ids)
				if err != nil || shown["P-3"] == nil || shown["P-3"].Blocked == nil {
					t.Errorf("%v for the register office: the blocked person must be returned as blocked (%v)", ids, err)
				}
			}
			if got, _ := s.PersonsByIDs(ctx, Scope{HideBlocked: true}, []string{"P-1", "P-2"}); len(got) != 2 {
				t.Errorf("unblocked persons hidden: %v", got)
			}

			// Version checks.
			g := reg.Grants[0]
			g.Version, g.Status = 3, model.GrantStatusSuspended // expects version 2: stale
			if ok, err := s.ReplaceGrant(ctx, g); err != nil || ok {
				t.Errorf("a replace at a stale version must be refused: ok=%v err=%v", ok, err)
			}
			g.Version = 2
			if ok, err := s.ReplaceGrant(ctx, g); err != nil || !ok {
				t.Errorf("a replace at the stored version must apply: ok=%v err=%v", ok, err)
			}
			if ok, err := s.ReplaceGrant(ctx, model.AccessGrant{ID: "G-none", Version: 2}); err != nil || ok {
				t.Errorf("a replace of a missing document must be refused: ok=%v err=%v", ok, err)
			}
			p1 := reg.Persons[0]
			if ok, err := s.WritePerson(ctx, &model.Person{ID: "P-1", Version: 7}, p1); err != nil || ok {
				t.Errorf("a person write at a stale version must be refused: ok=%v err=%v", ok, err)
			}
			p1.Version = 1
			if ok, err := s.WritePerson(ctx, &reg.Persons[0], p1); err != nil || !ok {
				t.Errorf("a person write at the stored version must apply: ok=%v err=%v", ok, err)
			}

			// Owner checks on nationalIds.
			if err := s.ReleaseNationalID(ctx, "111", "P-2"); err != nil {
				t.Fatal(err)
			}
			if id, ok, _ := s.PersonIDByNationalID(ctx, "111"); !ok || id != "P-1" {
				t.Errorf("another person's release removed P-1's number: %q %v", id, ok)
			}
			if _, err := s.db.Collection(colNationalIDs).InsertOne(ctx, bson.D{{Key: "_id", Value: "222"}, {Key: "personId", Value: "P-ghost"}}); err != nil {
				t.Fatal(err)
			}
			if err := s.ClaimNationalID(ctx, "222", "P-2"); err != nil {
				t.Errorf("a reservation whose person does not exist is taken over: %v", err)
			}
			if id, _, _ := s.PersonIDByNationalID(ctx, "222"); id != "P-2" {
				t.Errorf("after the takeover the number belongs to %q", id)
			}
			if err := s.ClaimNationalID(ctx, "111", "P-2"); err == nil {
				t.Errorf("a number held by an existing person must not be taken over")
			}
			if err := s.ReleaseNationalID(ctx, "111", "P-1"); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := s.PersonIDByNationalID(ctx, "111"); ok {
				t.Errorf("the owner's release must remove the reservation")
			}

			// The grant event feed's tail, from any hint.
			for i := 1; i <= 5; i++ {
				if err := s.AppendGrantEvent(ctx, &model.GrantEvent{GrantID: "G-1", Kind: model.GrantEventKindRequested}); err != nil {
					t.Fatal(err)
				}
			}
			for _, hint := range []int64{0, 2, 5, 9} {
				s.grantTail.Store(hint)
				if tail, err := s.grantEventTail(ctx); err != nil || tail != 5 {
					t.Errorf("tail from hint %d: %d (%v), want 5", hint, tail, err)
				}
			}

			// Grants written before grantSubjects existed are found after the start-up indexing.
			old := model.AccessGrant{ID: "G-old", Subject: "sub-b", Role: model.RolePolice, Agency: "Policie", Status: model.GrantStatusActive,
				RequestedAt: time.Now().UTC().Truncate(time.Millisecond), Version: 1}
			if _, err := s.db.Collection(colGrants).InsertOne(ctx, old); err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.Collection(colMeta).DeleteOne(ctx, bson.D{{Key: "_id", Value: grantSubjectsMarkerID}}); err != nil {
				t.Fatal(err)
			}
			if err := s.EnsureIndexes(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			// The one-time indexing of grantSubjects ({} on grants), auditPersons (the log in order)
			// and eventBuckets ({} on events), at the start-up that finds no marker.
			filters = slices.DeleteFunc(filters, func(f sent) bool {
				return (f.col == colGrants || f.col == colEvents) && len(f.filter) == 5 || f.col == colAudit && f.filter.Lookup("seq").Type == bson.TypeEmbeddedDocument
			})
			mu.Unlock()
			for _, c := range []struct {
				subject string
				role    model.Role
				agency  string
				want    []string
			}{{"sub-a", model.RoleCourt, "Soud", []string{"G-1"}}, {"sub-b", model.RolePolice, "Policie", []string{"G-old"}}, {"sub-b", model.RoleCourt, "Policie", nil}} {
				list, err := s.GrantsFor(ctx, c.subject, c.role, c.agency)
				var ids []string
				for _, g := range list {
					ids = append(ids, g.ID)
				}
				if err != nil || !slices.Equal(ids, c.want) {
					t.Errorf("GrantsFor(%s, %s, %s) = %v (%v), want %v", c.subject, c.role, c.agency, ids, err, c.want)
				}
			}

			mu.Lock()
			defer mu.Unlock()
			guarded := 0
			for _, f := range filters {
				elems, _ := f.filter.Elements()
				if len(elems) == 1 && elems[0].Key() == "_id" && elems[0].Value().Type == bson.TypeString {
					continue
				}
				guarded++
				if mode == "point-lookups" {
					t.Errorf("on the point-lookup path a filter on %s is not exactly {_id: <string>}: %s", f.col, f.filter)
				}
			}
			if mode == "in" && guarded == 0 {
				t.Errorf("on MongoDB's path the guards must be in the filters")
			}
		})
	}
}
