package app_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/register"
	"custodia/seed"
	"custodia/store"
)

// lookupCounter counts the find commands the server sends, per collection, while it is on.
type lookupCounter struct {
	mu    sync.Mutex
	on    bool
	count map[string]int
}

// observe is an app.Config.OnDBCommandDocument.
func (c *lookupCounter) observe(name string, command []byte) {
	if name != "find" {
		return
	}
	collection, _ := bson.Raw(command).Index(0).Value().StringValueOK()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		c.count[collection]++
	}
}

// during counts the finds that f makes the server send, by collection.
func (c *lookupCounter) during(f func()) map[string]int {
	c.mu.Lock()
	c.on, c.count = true, map[string]int{}
	c.mu.Unlock()
	f()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.count
}

// boundedEnv is a server on the scanning engine's path (point lookups) whose finds c counts.
func boundedEnv(t *testing.T, reg *store.Register, c *lookupCounter, mutate func(*app.Config)) *testenv.Env {
	t.Helper()
	return testenv.New(t, testenv.Options{Register: reg, Persons: 20, Mutate: func(cfg *app.Config) {
		cfg.BatchLoads = "point-lookups"
		cfg.GrantCacheTTL = time.Minute
		cfg.OnDBCommandDocument = c.observe
		if mutate != nil {
			mutate(cfg)
		}
	}})
}

// pushAll appends values to an array field of a stored document by hand (duplicates kept),
// creating the document if it is missing.
func pushAll(t *testing.T, env *testenv.Env, collection, id, field string, values []any) {
	t.Helper()
	var err error
	for range 2 { // a second time when the server created the document meanwhile
		if _, err = env.RawCollection(collection).UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$push", Value: bson.D{{Key: field, Value: bson.D{{Key: "$each", Value: values}}}}}}, options.UpdateOne().SetUpsert(true)); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("edit %s/%s: %v", collection, id, err)
	}
}

// boundedSearchPage is one page of searchPersons.
type boundedSearchPage struct {
	SearchPersons struct {
		Edges []struct {
			Node struct {
				ID string `json:"id"`
			} `json:"node"`
		} `json:"edges"`
		PageInfo struct {
			HasNextPage bool    `json:"hasNextPage"`
			EndCursor   *string `json:"endCursor"`
		} `json:"pageInfo"`
	} `json:"searchPersons"`
}

const boundedSearch = `query($after: String, $p: PurposeInput!) {
  searchPersons(filter: {familyName: "zkusebni", dateOfBirth: "1985-05-05"}, first: 50, after: $after, purpose: $p) {
    edges { node { id } } pageInfo { hasNextPage endCursor } } }`

// TestBloatedKeyDocumentsArePagedWithinTheBudget edits key documents by hand as a database
// administrator could — thousands of IDs added to the search key of 50 persons (of no person,
// of persons who do not match, duplicated), thousands of positions added to a person's audit
// index — and pages through the search and the person's audit trail: every page looks up at
// most store.KeyScanBudget listed IDs (counted from the find commands the server sends), a
// page that stops at the budget says hasNextPage with an endCursor that reveals no listed
// entry, and the paging ends having returned every legitimate result exactly once.
func TestBloatedKeyDocumentsArePagedWithinTheBudget(t *testing.T) {
	t.Parallel()
	const bogus = 3000
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"search key of 50 persons with 3000 more entries", func(t *testing.T) {
			reg := crowdRegister(50)
			var c lookupCounter
			env := boundedEnv(t, &reg, &c, nil)
			var legit []string
			var key string
			for i := range reg.Persons {
				p := &reg.Persons[i]
				if p.FamilyName == "Zkušební" {
					legit = append(legit, p.ID)
					key = register.SearchKeyIDs(p)[0]
				}
			}
			// No person, a person who does not match (another's ID under a made-up order),
			// and the same entries twice.
			var entries []any
			for i := range bogus / 3 {
				given := fmt.Sprintf("a%05d", i)
				entries = append(entries,
					"zkusebni\x00"+given+"\x001985-05-05\x00P-BOGUS-"+given,
					"zkusebni\x00"+given+"\x001985-05-05\x00"+reg.Persons[i%len(reg.Persons)].ID,
					"zkusebni\x00"+given+"\x001985-05-05\x00P-BOGUS-"+given)
			}
			pushAll(t, env, "searchKeys", key, "entries", entries)
			var got []string
			var after any
			purpose := testenv.Purpose(model.RoleCourt)
			for pages := 1; ; pages++ {
				if pages > bogus/store.KeyScanBudget+3 {
					t.Fatalf("more than %d pages", pages-1)
				}
				var p boundedSearchPage
				n := c.during(func() {
					p = testenv.DataAs[boundedSearchPage](t, env.As(model.RoleCourt, boundedSearch, map[string]any{"after": after, "p": purpose}))
				})["persons"]
				if n > store.KeyScanBudget {
					t.Fatalf("page %d looked up %d persons, more than the budget of %d", pages, n, store.KeyScanBudget)
				}
				for _, e := range p.SearchPersons.Edges {
					got = append(got, e.Node.ID)
				}
				info := p.SearchPersons.PageInfo
				if !info.HasNextPage {
					break
				}
				if info.EndCursor == nil {
					t.Fatal("hasNextPage without endCursor")
				}
				raw, _ := base64.RawURLEncoding.DecodeString(*info.EndCursor)
				if strings.Contains(string(raw), "BOGUS") || strings.Contains(string(raw), "a0") {
					t.Fatalf("the cursor of page %d shows a listed entry: %q", pages, raw)
				}
				after = *info.EndCursor
			}
			slices.Sort(got)
			slices.Sort(legit)
			if !slices.Equal(got, legit) {
				t.Fatalf("paging returned %d persons %v, want the %d legitimate ones", len(got), got, len(legit))
			}
		}},
		{"audit index of a person with 3000 more positions", func(t *testing.T) {
			var c lookupCounter
			env := boundedEnv(t, nil, &c, func(cfg *app.Config) { cfg.AuditPersonIndexInterval = 100 * time.Millisecond })
			person := seed.NamedNovak
			for range 3 {
				env.MustData(model.RoleCourt, personCard, map[string]any{"id": person, "purpose": testenv.Purpose(model.RoleCourt), "copy": false})
			}
			filter := map[string]any{"personId": person}
			want := trailSequences(t, env, filter, 50)
			if len(want) < 3 {
				t.Fatalf("the trail of %s lists %v", person, want)
			}
			// Positions far past the log's end, and the watermark moved past them, so that the
			// reader takes them from the index.
			positions := make([]any, bogus)
			for i := range positions {
				positions[i] = i + 1
			}
			pushAll(t, env, "auditPersons", fmt.Sprintf("%s/%d", person, time.Now().UTC().Year()), "seqs", positions)
			if _, err := env.RawCollection("auditMeta").UpdateOne(context.Background(), bson.D{{Key: "_id", Value: "personsIndexed"}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: bogus}}}}, options.UpdateOne().SetUpsert(true)); err != nil {
				t.Fatal(err)
			}
			var got []int
			var after any
			pages := 1
			for ; ; pages++ {
				if pages > bogus/store.KeyScanBudget+3 {
					t.Fatalf("more than %d pages", pages-1)
				}
				var p trailPage
				n := c.during(func() {
					p = testenv.DataAs[trailPage](t, env.As(model.RoleAuditor, trailPageQuery, map[string]any{"f": filter, "first": 50, "after": after}))
				})["audit"]
				if n > store.KeyScanBudget+16 { // the budget, and the log's head, end and retention
					t.Fatalf("page %d looked up %d audit entries, more than the budget of %d", pages, n, store.KeyScanBudget)
				}
				for _, e := range p.AuditTrail.Edges {
					got = append(got, e.Node.Sequence)
				}
				if !p.AuditTrail.PageInfo.HasNextPage {
					break
				}
				after = *p.AuditTrail.PageInfo.EndCursor
			}
			if pages < bogus/store.KeyScanBudget {
				t.Fatalf("%d pages: the bloated index was not read", pages)
			}
			for _, seq := range want {
				if !slices.Contains(got, seq) {
					t.Fatalf("entry %d of %s is missing after the edit: got %v", seq, person, got)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t)
		})
	}
}
