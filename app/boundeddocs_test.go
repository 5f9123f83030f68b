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
	"custodia/watch"
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
		PageInfo pageInfo `json:"pageInfo"`
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

// TestBloatedGrantSubjectIsRefused lists thousands of grant IDs under an official by hand: up to
// twice the number a subject may hold, the grant check still finds the official's grant (looking
// up each listed ID once, a bounded number); past that the document is not one custodia wrote and
// every request is INTERNAL, with no grant looked up and no listed ID in the log. A request for
// access by a subject at the limit is CONFLICT.
func TestBloatedGrantSubjectIsRefused(t *testing.T) {
	t.Parallel()
	court, _ := seed.OfficialFor(model.RoleCourt)
	cases := []struct {
		name   string
		listed int    // bogus grant IDs listed under the court official
		want   string // the card's error code, "" for data
	}{
		{"twice the limit", 2*store.MaxGrantsPerSubject - 1, ""},
		{"past twice the limit", 2*store.MaxGrantsPerSubject + 1, "INTERNAL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c lookupCounter
			env := boundedEnv(t, nil, &c, func(cfg *app.Config) { cfg.GrantCacheTTL = -1 })
			ids := make([]any, tc.listed)
			for i := range ids {
				ids[i] = fmt.Sprintf("G-BOGUS-%05d", i)
			}
			pushAll(t, env, "grantSubjects", court.Identity.Subject, "grants", ids)
			vars := map[string]any{"id": seed.NamedNovak, "purpose": testenv.Purpose(model.RoleCourt), "copy": false}
			var r testenv.Response
			n := c.during(func() { r = env.As(model.RoleCourt, personCard, vars) })["grants"]
			if n > 2*store.MaxGrantsPerSubject {
				t.Fatalf("the grant check looked up %d grants", n)
			}
			switch {
			case tc.want == "" && len(r.Errors) > 0:
				t.Fatalf("want the card, got %s", r.Raw)
			case tc.want != "":
				if codes := r.Codes(); len(codes) != 1 || codes[0] != tc.want || n != 0 {
					t.Fatalf("want %s after no grant lookup, got %v after %d: %s", tc.want, codes, n, r.Raw)
				}
				if logs := env.LogLinesOf(r); !strings.Contains(logs, "grantSubjectDoc") || strings.Contains(logs, "G-BOGUS") {
					t.Fatalf("the log should name the document, never a listed ID: %s", logs)
				}
			}
		})
	}
	t.Run("a request past the limit", func(t *testing.T) {
		t.Parallel()
		var c lookupCounter
		env := boundedEnv(t, nil, &c, nil)
		newbie := officer("pcr-mnoho", "Adam Mnohý")
		ids := make([]any, store.MaxGrantsPerSubject)
		for i := range ids {
			ids[i] = fmt.Sprintf("G-OLD-%05d", i)
		}
		pushAll(t, env, "grantSubjects", newbie.Subject, "grants", ids)
		wantCode(t, env.Do(env.TokenFor(newbie, time.Hour), `mutation { requestAccess(input: {justification: "Nový vyšetřovatel"}) { id } }`, nil), "CONFLICT")
	})
}

// TestBloatedEventBucketKeepsPollsBoundedAndLosesNoEvent lists thousands of made-up events of
// the current second in its event bucket by hand, while an instance's hub polls for a
// subscriber: the events it looks up stay within PollReads reads of store.KeyScanBudget per
// poll, and an event written through another instance right after still reaches the
// subscriber (each poll goes on from where the last one stopped).
func TestBloatedEventBucketKeepsPollsBoundedAndLosesNoEvent(t *testing.T) {
	t.Parallel()
	const poll, bogus = 500 * time.Millisecond, 3000
	a := testenv.New(t, testenv.Options{Persons: 20})
	var c lookupCounter
	b := testenv.New(t, testenv.Options{MongoURI: a.Config.MongoURI, Database: a.Config.MongoDatabase, Mutate: func(cfg *app.Config) {
		cfg.BatchLoads = "point-lookups"
		cfg.Watch.Poll = poll
		cfg.OnDBCommandDocument = c.observe
	}})
	person := seed.NamedDvorakova
	s := b.SubscribeWS(b.Token(model.RoleCourt), watchPersons(1), map[string]any{"ids": []string{person}, "p": testenv.Purpose(model.RoleCourt)})
	defer s.Close()
	time.Sleep(2 * poll)
	var e watchedEvent
	var period string
	start := time.Now()
	counts := c.during(func() {
		now := time.Now()
		ids := make([]any, bogus)
		for i := range ids {
			ids[i] = fmt.Sprintf("%016x%08x", now.Truncate(time.Second).UnixNano()+int64(i), i)
		}
		pushAll(t, b, "eventBuckets", fmt.Sprintf("s%012d", now.Unix()), "in", ids)
		period = write(t, a, model.RolePrisonService, admit, "admitToDetention", detentionVars(person, "bloated-admit"))
		e = event(t, s.Next(20*time.Second))
		// Polls go on reading the bucket while it is within the hub's lookback.
		time.Sleep(time.Until(start.Add(4 * time.Second)))
	})
	polls := int(time.Since(start)/poll) + 1
	if n := counts["events"]; n > polls*watch.PollReads*store.KeyScanBudget {
		t.Fatalf("%d event lookups in %d polls, more than %d reads of %d per poll", n, polls, watch.PollReads, store.KeyScanBudget)
	}
	if e.Kind != "ADMITTED" || e.DetentionPeriodID == nil || *e.DetentionPeriodID != period {
		t.Fatalf("got %+v", e)
	}
}

// TestMadeUpSealedSearchCursors: a search cursor that claims to be a sealed position (the form
// a page that stopped at the budget answers) but was not sealed by this database is
// BAD_USER_INPUT, never INTERNAL or a page.
func TestMadeUpSealedSearchCursors(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 20})
	cases := []struct{ name, position string }{
		{"not base64", "\x01!!!"},
		{"too short", "\x01AAAA"},
		{"sealed under another key", "\x01" + base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vars := map[string]any{"after": register.EncodeCursor(tc.position), "p": testenv.Purpose(model.RoleCourt)}
			wantCode(t, env.As(model.RoleCourt, boundedSearch, vars), "BAD_USER_INPUT")
		})
	}
}
