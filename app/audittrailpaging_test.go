package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"custodia/internal/testenv"
	"custodia/model"
	"custodia/register"
)

// trailPage is one page of auditTrail as AUDITOR reads it.
type trailPage struct {
	AuditTrail struct {
		Edges []struct {
			Cursor string `json:"cursor"`
			Node   struct {
				Sequence int     `json:"sequence"`
				Subject  *string `json:"subject"`
			} `json:"node"`
		} `json:"edges"`
		PageInfo pageInfo `json:"pageInfo"`
	} `json:"auditTrail"`
}

// pageInfo is a connection's pageInfo, as every paged answer decodes it.
type pageInfo struct {
	HasNextPage bool    `json:"hasNextPage"`
	EndCursor   *string `json:"endCursor"`
}

const trailPageQuery = `query($f: AuditFilter, $first: Int, $after: String) { auditTrail(filter: $f, first: $first, after: $after) {
  edges { cursor node { sequence subject } } pageInfo { hasNextPage endCursor } } }`

// trailSequences pages through auditTrail with endCursor from the newest entry and returns
// the sequences listed, failing on a page that repeats or goes up, or on more pages than entries.
func trailSequences(t *testing.T, env *testenv.Env, filter map[string]any, first int) []int {
	t.Helper()
	var seqs []int
	var after any
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("auditTrail %v first %d: more than 1000 pages", filter, first)
		}
		p := testenv.DataAs[trailPage](t, env.As(model.RoleAuditor, trailPageQuery, map[string]any{"f": filter, "first": first, "after": after}))
		if len(p.AuditTrail.Edges) > first {
			t.Fatalf("page of %d entries, first %d", len(p.AuditTrail.Edges), first)
		}
		for _, e := range p.AuditTrail.Edges {
			if n := len(seqs); n > 0 && e.Node.Sequence >= seqs[n-1] {
				t.Fatalf("auditTrail %v: entry %d after %d (not newest first, or listed twice)", filter, e.Node.Sequence, seqs[n-1])
			}
			seqs = append(seqs, e.Node.Sequence)
		}
		if !p.AuditTrail.PageInfo.HasNextPage {
			return seqs
		}
		if p.AuditTrail.PageInfo.EndCursor == nil {
			t.Fatalf("hasNextPage without endCursor")
		}
		after = *p.AuditTrail.PageInfo.EndCursor
	}
}

// TestAuditTrailPagingAndMadeUpCursors pages through auditTrail as AUDITOR with endCursor for
// several filters and page sizes and compares with the entries stored (those whose body was
// removed by hand are not listed); then sends made-up cursors: each gives BAD_USER_INPUT or a
// sane page, never an internal error.
func TestAuditTrailPagingAndMadeUpCursors(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	for range 15 {
		for _, role := range []model.Role{model.RolePolice, model.RoleCourt, model.RoleRegistrar} {
			env.As(role, `{ __typename }`, nil)
		}
	}
	ctx := context.Background()
	audit := env.RawCollection("audit")
	// Two entries of demo-court lose their bodies as retention would remove them.
	var court []struct {
		Seq int `bson:"seq"`
	}
	cur, err := audit.Find(ctx, bson.D{{Key: "subject", Value: "demo-court"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(ctx, &court); err != nil || len(court) < 10 {
		t.Fatalf("entries of demo-court: %d, %v", len(court), err)
	}
	removed := []int{court[2].Seq, court[5].Seq}
	if _, err := audit.UpdateMany(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$in", Value: removed}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "removed", Value: true}}}, {Key: "$unset", Value: bson.D{{Key: "subject", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	stored := func(filter bson.D, below int) []int {
		t.Helper()
		var docs []struct {
			Seq     int  `bson:"seq"`
			Removed bool `bson:"removed"`
		}
		cur, err := audit.Find(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, d := range docs {
			if !d.Removed && d.Seq <= below {
				out = append(out, d.Seq)
			}
		}
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	for _, tc := range []struct {
		name   string
		filter map[string]any
		stored bson.D
		first  int
	}{
		{"all, one by one", nil, bson.D{}, 1},
		{"all, pages of 7", nil, bson.D{}, 7},
		{"all, the largest page", nil, bson.D{}, register.MaxPageSize},
		{"a subject, pages of 4", map[string]any{"subject": "demo-court"}, bson.D{{Key: "subject", Value: "demo-court"}}, 4},
		{"a subject nobody has", map[string]any{"subject": "nobody"}, bson.D{{Key: "subject", Value: "nobody"}}, 5},
		{"from and to around today", map[string]any{"from": testenv.Today.Add(-1e12).Format("2006-01-02T15:04:05Z07:00"), "to": testenv.Today.Add(1e12).Format("2006-01-02T15:04:05Z07:00")}, bson.D{}, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := trailSequences(t, env, tc.filter, tc.first)
			top := 0
			if len(got) > 0 {
				top = got[0]
			}
			want := stored(tc.stored, top)
			// Entries appended while paging (this test's own requests) lie above the first page.
			if !slices.Equal(got, want) {
				t.Errorf("listed %v\nstored %v", got, want)
			}
			for _, r := range removed {
				if slices.Contains(got, r) {
					t.Errorf("entry %d, whose body was removed, is listed", r)
				}
			}
		})
	}
	for _, tc := range []struct {
		name, cursor, code string
	}{
		{"negative", register.EncodeCursor("-5"), "BAD_USER_INPUT"},
		{"zero", register.EncodeCursor("0"), "BAD_USER_INPUT"},
		{"not a number", register.EncodeCursor("P-000001"), "BAD_USER_INPUT"},
		{"beyond int", register.EncodeCursor("99999999999999999999999"), "BAD_USER_INPUT"},
		{"not base64", "%%%", "BAD_USER_INPUT"},
		{"huge", register.EncodeCursor("1000000000000000"), ""},
		{"one", register.EncodeCursor("1"), ""},
	} {
		t.Run("cursor "+tc.name, func(t *testing.T) {
			r := env.As(model.RoleAuditor, trailPageQuery, map[string]any{"first": register.MaxPageSize, "after": tc.cursor})
			if tc.code != "" {
				if codes := r.Codes(); len(codes) != 1 || codes[0] != tc.code {
					t.Fatalf("codes %v, want %s: %s", codes, tc.code, r.Raw)
				}
				return
			}
			p := testenv.DataAs[trailPage](t, r)
			if tc.cursor == register.EncodeCursor("1") && (len(p.AuditTrail.Edges) != 0 || p.AuditTrail.PageInfo.HasNextPage) {
				t.Errorf("below the first entry: %+v", p)
			}
		})
	}
}

// TestAuditTrailOnlyForAuditors asks for auditTrail as every other role through an alias, a
// named fragment and an inline fragment on Query: each is refused and no entry is returned.
func TestAuditTrailOnlyForAuditors(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	queries := map[string]string{
		"alias":           `{ log: auditTrail(first: 5) { edges { node { sequence subject } } } }`,
		"named fragment":  `query { ...T } fragment T on Query { auditTrail(first: 5) { edges { node { sequence } } } }`,
		"inline fragment": `{ ... on Query { auditTrail { edges { node { sequence } } } } }`,
		"export alias":    `{ x: auditExport(first: 5) { lines } }`,
		"verify fragment": `{ ... on Query { verifyAuditChain { valid } } }`,
	}
	for _, role := range []model.Role{model.RolePolice, model.RoleCourt, model.RoleRegistrar, model.RoleProsecutor, model.RolePrisonService, model.RoleReintegration} {
		for name, q := range queries {
			t.Run(string(role)+"/"+name, func(t *testing.T) {
				r := env.As(role, q, nil)
				if len(r.Errors) == 0 || strings.Contains(r.Raw, `"sequence"`) || strings.Contains(r.Raw, `"lines"`) || strings.Contains(r.Raw, `"valid"`) {
					t.Fatalf("%s as %s: %s", name, role, r.Raw)
				}
			})
		}
	}
}

// TestAuditTrailOverEditedSequences edits the seq field of stored entries by hand (one far
// past the end, one to 1): paging through auditTrail with endCursor must still end, listing
// every stored entry once by its position in the log, newest first — an edited entry must
// neither send the next page back to the end of the log (a loop) nor end the listing early;
// auditExport, page by page, lists every position once in order; verifyAuditChain names the
// first edited entry.
func TestAuditTrailOverEditedSequences(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	for range 40 {
		env.As(model.RolePolice, `{ __typename }`, nil)
	}
	ctx := context.Background()
	audit := env.RawCollection("audit")
	for id, seq := range map[string]int{"000000000020": 1_000_000, "000000000030": 1} {
		if _, err := audit.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: seq}}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, first := range []int{1, 3, 10} {
		got := trailSequences(t, env, map[string]any{"subject": "demo-police"}, first)
		var want []int
		for s := 40; s >= 1; s-- {
			want = append(want, s)
		}
		if !slices.Equal(got, want) {
			t.Errorf("first %d: listed %v\nwant %v", first, got, want)
		}
	}
	// The export, page by page, lists each position once, in order, and ends.
	exported := exportedSequences(t, env, 3)
	for i, s := range exported {
		if s != i+1 {
			t.Fatalf("export after seq was edited: position %d holds %d (%v)", i+1, s, exported)
		}
	}
	if len(exported) < 40 {
		t.Errorf("export after seq was edited: %v", exported)
	}
	report := testenv.DataAs[struct {
		VerifyAuditChain model.AuditChainReport `json:"verifyAuditChain"`
	}](t, env.As(model.RoleAuditor, `{ verifyAuditChain { valid firstBrokenSequence } }`, nil)).VerifyAuditChain
	if report.Valid || report.FirstBrokenSequence == nil || *report.FirstBrokenSequence != 20 {
		t.Errorf("verifyAuditChain after seq was edited: %+v", report)
	}
}

// TestPersonAuditTrailOverEditedSequences edits the seq field of entries naming a person by
// hand (one far past the end, one to 1), then the person is read again: auditTrail by person
// and disclosures list every entry naming them once, newest first, the new ones included — an
// edited entry must not move the per-person index past the entries that follow it.
func TestPersonAuditTrailOverEditedSequences(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	const card = `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`
	read := func(times int) {
		for range times {
			env.MustData(model.RolePolice, card, map[string]any{"p": testenv.Purpose(model.RolePolice)})
		}
	}
	read(30)
	ctx := context.Background()
	audit := env.RawCollection("audit")
	for id, seq := range map[string]int{"000000000010": 1_000_000, "000000000020": 1} {
		if _, err := audit.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: seq}}}}); err != nil {
			t.Fatal(err)
		}
	}
	read(5)
	var want []int
	for s := 35; s >= 1; s-- {
		want = append(want, s)
	}
	for _, first := range []int{1, 4, 50} {
		got := trailSequences(t, env, map[string]any{"personId": "P-000001", "subject": "demo-police"}, first)
		if !slices.Equal(got, want) {
			t.Errorf("first %d: listed %v\nwant %v", first, got, want)
		}
	}
}
