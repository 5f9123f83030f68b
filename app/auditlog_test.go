package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/mod/sumdb/tlog"

	"custodia/app"
	"custodia/audit"
	"custodia/internal/testenv"
	"custodia/model"
	"custodia/store"
)

const auditAdmitQuery = `mutation($k: String!, $p: PurposeInput!) { admitToDetention(personId: "P-000002", idempotencyKey: $k, purpose: $p, input: {
  kind: CUSTODY, prisonId: "PRS-BRNO-VV", start: "2026-10-30", responsibleAuthority: {kind: POLICE, name: "KŘP Jihomoravského kraje"}}) { id } }`

// auditOfEveryKind makes entries of every kind: allowed and denied operations, a grant
// transition and a register write (with its write record).
func auditOfEveryKind(t *testing.T, env *testenv.Env) {
	t.Helper()
	env.MustData(model.RolePolice, `query Card($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { familyName } }`,
		map[string]any{"p": testenv.Purpose(model.RolePolice)})
	wantCode(t, env.As(model.RolePolice, `query($p: PurposeInput!) { person(id: "P-000002", purpose: $p) { convictions(includeExpunged: true) { id } } }`,
		map[string]any{"p": testenv.Purpose(model.RolePolice)}), "FORBIDDEN")
	env.MustData(model.RoleRegistrar, `mutation { suspendAccessGrant(id: "GRANT-demo-prosecutor", reason: "Prověrka") { status } }`, nil)
	env.MustData(model.RolePrisonService, auditAdmitQuery, map[string]any{"k": "audit-admit-1", "p": testenv.Purpose(model.RolePrisonService)})
}

// rawAudit reads every stored audit document as the driver gives it.
func rawAudit(t *testing.T, c *mongo.Collection) []bson.D {
	t.Helper()
	cur, err := c.Find(context.Background(), bson.D{}, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.D
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

// mutations returns every variant of v with exactly one value in it changed, with the path of
// the change. Every field of a document, every element of an array, every leaf value.
func mutations(path string, v any) []struct {
	path string
	v    any
} {
	type mut = struct {
		path string
		v    any
	}
	var out []mut
	switch x := v.(type) {
	case bson.D:
		for i, e := range x {
			for _, m := range mutations(path+"."+e.Key, e.Value) {
				c := append(bson.D{}, x...)
				c[i] = bson.E{Key: e.Key, Value: m.v}
				out = append(out, mut{m.path, c})
			}
		}
	case bson.A:
		if len(x) == 0 {
			out = append(out, mut{path + " (an element added)", bson.A{"x"}})
		}
		for i, e := range x {
			for _, m := range mutations(fmt.Sprintf("%s[%d]", path, i), e) {
				c := append(bson.A{}, x...)
				c[i] = m.v
				out = append(out, mut{m.path, c})
			}
		}
	case string:
		out = append(out, mut{path, x + "x"})
	case int32:
		out = append(out, mut{path, x + 1})
	case int64:
		out = append(out, mut{path, x + 1})
	case float64:
		out = append(out, mut{path, x + 1})
	case bool:
		out = append(out, mut{path, !x})
	case bson.DateTime:
		out = append(out, mut{path, x + 1000})
	case bson.Binary:
		d := append([]byte{}, x.Data...)
		d[0] ^= 1
		out = append(out, mut{path, bson.Binary{Subtype: x.Subtype, Data: d}})
	case nil:
		out = append(out, mut{path, "x"})
	default:
		panic(fmt.Sprintf("%s: no mutation for %T", path, v))
	}
	return out
}

// TestAuditEveryStoredByteIsCovered changes, through the driver, every value of one entry of
// each kind in the database — every field, nested field and list element, the hashes too —
// one at a time, and expects verification to name that entry each time.
func TestAuditEveryStoredByteIsCovered(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	auditOfEveryKind(t, env)
	ctx := context.Background()
	if _, err := env.Server.Trail.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	col := env.RawCollection("audit")
	// The richest stored entry of each kind (and outcome).
	chosen := map[string]bson.D{}
	for _, d := range rawAudit(t, col) {
		key := fmt.Sprint(field(d, "kind"), field(d, "outcome"))
		if len(d) > len(chosen[key]) {
			chosen[key] = d
		}
	}
	for _, key := range []string{"OPERATIONALLOWED", "OPERATIONDENIED", "GRANT_TRANSITIONALLOWED", "WRITEALLOWED"} {
		if chosen[key] == nil {
			t.Fatalf("no entry %s in %v", key, chosen)
		}
	}
	fields := map[string]bool{}
	for key, doc := range chosen {
		seq := int(field(doc, "seq").(int32))
		id := field(doc, "_id")
		for _, m := range mutations("", doc) {
			fields[strings.SplitN(m.path, "[", 2)[0]] = true
			t.Run(key+m.path, func(t *testing.T) {
				changed := m.v.(bson.D)
				replace := func(d bson.D) {
					t.Helper()
					// A changed _id is a different document: delete and insert.
					ids := bson.A{id, field(changed, "_id")}
					if _, err := col.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
						t.Fatal(err)
					}
					if _, err := col.InsertOne(ctx, d); err != nil {
						t.Fatal(err)
					}
				}
				replace(changed)
				defer replace(doc)
				report, err := env.Server.Trail.Verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if report.Valid || report.FirstBrokenSequence == nil || (*report.FirstBrokenSequence != seq && !(m.path == ".seq" && *report.FirstBrokenSequence == seq+1)) {
					t.Fatalf("entry %v with %s changed: want entry %d reported, got %+v %v", id, m.path, seq, report, deref(report.Problem))
				}
			})
		}
	}
	// Every field of the entry type occurs in what was changed (so a new field is either
	// in some entry of the test — and then covered — or this fails).
	for _, f := range []string{".write", ".grantTransition", ".accesses", ".purpose", ".errorCode", ".coordinates", ".personIds", ".tree", ".hash", ".time", ".clientAddress", ".requestId", ".operationHash"} {
		found := false
		for p := range fields {
			found = found || strings.HasPrefix(p, f)
		}
		if !found {
			t.Errorf("no stored entry has %s", f)
		}
	}
	if report, err := env.Server.Trail.Verify(ctx); err != nil || !report.Valid {
		t.Fatalf("after restoring every entry: %+v %v", report, err)
	}
}

// field is the value of a document's field (nil when absent).
func field(d bson.D, key string) any {
	for _, e := range d {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// exportOf exports the log of env, the way `custodia audit export` does.
func exportOf(t *testing.T, env *testenv.Env) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := env.Server.Trail.Export(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rehash recomputes, as a database administrator who knows the algorithm can, every stored
// leaf hash and tree hash from the entries as they now are.
func rehash(t *testing.T, env *testenv.Env) {
	t.Helper()
	ctx := context.Background()
	col := env.RawCollection("audit")
	var hashes []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	var n int64
	err := env.Server.AuditStore.AuditLeaves(ctx, 1, func(l store.AuditLeaf) bool {
		leaf := tlog.RecordHash(audit.Encode(l.Entry))
		stored, err := tlog.StoredHashesForRecordHash(n, leaf, read)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, stored...)
		tree := bson.A{}
		for _, h := range stored {
			tree = append(tree, bson.Binary{Data: append([]byte{}, h[:]...)})
		}
		if _, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: l.Entry.ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "hash", Value: leaf.String()}, {Key: "tree", Value: tree}}}}); err != nil {
			t.Fatal(err)
		}
		n++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditTamperingAfterACheckpointIsDetectedOffline tampers with the database as its
// administrator could — also recomputing every hash and removing the server's own
// checkpoints — after the auditor kept a checkpoint; the offline verifier, given only the
// export, the kept checkpoint and the log's public key, finds each.
func TestAuditTamperingAfterACheckpointIsDetectedOffline(t *testing.T) {
	t.Parallel()
	del := func(seqs ...int) func(context.Context, *testing.T, *testenv.Env) {
		return func(ctx context.Context, t *testing.T, env *testenv.Env) {
			for _, s := range seqs {
				if _, err := env.RawCollection("audit").DeleteOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(s)}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	set := func(seq int, field string, value any) func(context.Context, *testing.T, *testenv.Env) {
		return func(ctx context.Context, t *testing.T, env *testenv.Env) {
			if _, err := env.RawCollection("audit").UpdateOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(seq)}}, bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: value}}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	then := func(steps ...func(context.Context, *testing.T, *testenv.Env)) func(context.Context, *testing.T, *testenv.Env) {
		return func(ctx context.Context, t *testing.T, env *testenv.Env) {
			for _, s := range steps {
				s(ctx, t, env)
			}
		}
	}
	dropCheckpoints := func(ctx context.Context, t *testing.T, env *testenv.Env) {
		if _, err := env.RawCollection("auditCheckpoints").DeleteMany(ctx, bson.D{}); err != nil {
			t.Fatal(err)
		}
	}
	rewindHead := func(to int) func(context.Context, *testing.T, *testenv.Env) {
		return func(ctx context.Context, t *testing.T, env *testenv.Env) {
			if _, err := env.RawCollection("auditMeta").UpdateOne(ctx, bson.D{{Key: "_id", Value: "head"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "seq", Value: to}}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	swap := func(a, b int) func(context.Context, *testing.T, *testenv.Env) {
		return func(ctx context.Context, t *testing.T, env *testenv.Env) {
			col := env.RawCollection("audit")
			var da, db bson.D
			if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(a)}}).Decode(&da); err != nil {
				t.Fatal(err)
			}
			if err := col.FindOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(b)}}).Decode(&db); err != nil {
				t.Fatal(err)
			}
			// Each body moves to the other's position, with its position fields rewritten.
			move := func(d bson.D, seq int) bson.D {
				out := bson.D{}
				for _, e := range d {
					switch e.Key {
					case "_id":
						e.Value = store.AuditID(seq)
					case "seq":
						e.Value = int32(seq)
					}
					out = append(out, e)
				}
				return out
			}
			for _, r := range []struct {
				seq int
				doc bson.D
			}{{a, move(db, a)}, {b, move(da, b)}} {
				if _, err := col.ReplaceOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(r.seq)}}, r.doc); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	stubWithoutRecord := func(ctx context.Context, t *testing.T, env *testenv.Env) {
		// "Retention" by hand: bodies of 1..3 removed and a forged anchor pointing past them.
		col := env.RawCollection("audit")
		for s := 1; s <= 3; s++ {
			if _, err := col.UpdateOne(ctx, bson.D{{Key: "_id", Value: store.AuditID(s)}}, bson.D{
				{Key: "$set", Value: bson.D{{Key: "removed", Value: true}}},
				{Key: "$unset", Value: bson.D{{Key: "subject", Value: ""}, {Key: "kind", Value: ""}, {Key: "time", Value: ""}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := env.RawCollection("auditMeta").UpdateOne(ctx, bson.D{{Key: "_id", Value: "retention"}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "through", Value: 3}, {Key: "note", Value: "custodia audit retention\nforged\n"}}}}, options.UpdateOne().SetUpsert(true)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		tamper func(context.Context, *testing.T, *testenv.Env)
		broken int // the first entry reported (0: the report names no single entry)
		// online: whether the server's own verifyAuditChain, which has only the database and
		// its witness directory, must detect it too.
		online bool
	}{
		{"nothing changed", nil, 0, false},
		{"an entry edited", set(3, "outcome", "DENIED"), 1, true},
		{"an entry edited and every hash recomputed", then(set(3, "outcome", "DENIED"), func(_ context.Context, t *testing.T, env *testenv.Env) { rehash(t, env) }), 1, true},
		{"a person removed from a read, hashes recomputed, checkpoints deleted", then(set(1, "personIds", bson.A{}), set(1, "accesses.0.personIds", bson.A{}), func(_ context.Context, t *testing.T, env *testenv.Env) { rehash(t, env) }, dropCheckpoints), 1, true},
		{"an entry deleted", del(4), 4, true},
		{"the first entry deleted", del(1), 1, true},
		{"the newest entries deleted and the head rewound", then(del(9, 8, 7, 6), rewindHead(5), dropCheckpoints), 6, true},
		// Swapped with their positions rewritten (an entry's _id is its position): the bodies
		// no longer match the witnessed tree.
		{"two entries swapped", swap(3, 4), 1, true},
		{"two entries swapped and rehashed", then(swap(3, 4), func(_ context.Context, t *testing.T, env *testenv.Env) { rehash(t, env) }, dropCheckpoints), 1, true},
		{"old entries removed under a forged retention anchor", stubWithoutRecord, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			witness := t.TempDir()
			env := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(cfg *app.Config) { cfg.AuditWitnessDir = witness }})
			ctx := context.Background()
			for i := 0; i < 8; i++ {
				env.MustData(model.RolePolice, `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { id } }`, map[string]any{"p": testenv.Purpose(model.RolePolice)})
			}
			if _, err := env.Server.Trail.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			// The auditor keeps the public checkpoint of the 8 entries.
			status, kept := env.Get("/audit/checkpoint")
			if status != http.StatusOK || !strings.Contains(kept, "\n8\n") {
				t.Fatalf("GET /audit/checkpoint: %d %q", status, kept)
			}
			env.MustData(model.RoleCourt, prisonsQuery, nil) // the log goes on after it
			if c.tamper != nil {
				c.tamper(ctx, t, env)
			}
			report, err := audit.VerifyExport(bytes.NewReader(exportOf(t, env)), env.Server.Trail.Key().Verifier, [][]byte{[]byte(kept)}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if c.broken == 0 {
				if !report.Valid || report.WitnessedSize < 8 || report.TreeSize != 9 {
					t.Fatalf("an untouched log must verify and be witnessed up to 8: %+v %s", report, deref(report.Problem))
				}
				return
			}
			if report.Valid || report.FirstBrokenSequence == nil || *report.FirstBrokenSequence != c.broken {
				t.Fatalf("offline: want entry %d reported, got %+v (%s)", c.broken, report, deref(report.Problem))
			}
			t.Logf("offline: %s", deref(report.Problem))
			if c.online {
				online, err := env.Server.Trail.Verify(ctx)
				if err != nil || online.Valid {
					t.Fatalf("the server's own verification missed it: %+v %v", online, err)
				}
			}
			if strings.Contains(c.name, "recomputed") || strings.Contains(c.name, "rehashed") {
				// No instance signs the rewritten tree: one that reads the tree from the database
				// finds it does not extend the witnessed checkpoint; the running one, which
				// remembers the tree it wrote, signs that tree — which still does not vouch for
				// what the database now holds.
				fresh := testenv.New(t, testenv.Options{Persons: 10, Database: env.Config.MongoDatabase, Mutate: func(cfg *app.Config) { cfg.AuditWitnessDir = witness }})
				fresh.MustData(model.RoleCourt, prisonsQuery, nil)
				if cp, err := fresh.Server.Trail.Checkpoint(ctx); err == nil {
					t.Fatalf("an instance signed a checkpoint of a rewritten log: %s", cp.Note)
				}
				if cp, err := env.Server.Trail.Checkpoint(ctx); err == nil {
					again, _ := audit.VerifyExport(bytes.NewReader(exportOf(t, env)), env.Server.Trail.Key().Verifier, [][]byte{cp.Note}, 0)
					if again.Valid {
						t.Fatalf("a new checkpoint made the rewritten log verify: %+v", again)
					}
				}
			}
		})
	}
}

// TestAuditCheckpointsWitnessesAndProofs: checkpoints are signed every N entries, published to
// a witness directory and a witness URL and at the public URL; an auditor checks an inclusion
// proof for a disclosure and a consistency proof between two checkpoints with tlog alone.
func TestAuditCheckpointsWitnessesAndProofs(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var posted []string
	witnessURL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, string(b))
		mu.Unlock()
	}))
	defer witnessURL.Close()
	dir := t.TempDir()
	env := testenv.New(t, testenv.Options{Persons: 10, Mutate: func(c *app.Config) {
		c.AuditCheckpointEvery, c.AuditCheckpointInterval = 4, time.Hour
		c.AuditWitnessDir, c.AuditWitnessURL = dir, witnessURL.URL
	}})
	if status, _ := env.Get("/audit/checkpoint"); status != http.StatusNotFound {
		t.Fatalf("before any checkpoint: %d", status)
	}
	read := `query($p: PurposeInput!) { person(id: "P-000001", purpose: $p) { id } }`
	vars := map[string]any{"p": testenv.Purpose(model.RoleCourt)}
	for i := 0; i < 4; i++ {
		env.MustData(model.RoleCourt, read, vars)
	}
	key := env.Server.Trail.Key().Verifier
	var first *audit.Checkpoint
	deadline := time.Now().Add(10 * time.Second)
	for first == nil && time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, "latest.checkpoint")); err == nil {
			if first, err = audit.OpenCheckpoint(b, key); err != nil {
				t.Fatal(err)
			}
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if first == nil || first.Size < 4 {
		t.Fatalf("no checkpoint signed after 4 entries (every 4): %+v", first)
	}
	status, body := env.Get("/audit/checkpoint")
	if status != http.StatusOK {
		t.Fatalf("GET /audit/checkpoint: %d %s", status, body)
	}
	if _, err := audit.OpenCheckpoint([]byte(body), key); err != nil {
		t.Fatalf("the public checkpoint does not verify: %v", err)
	}
	received := func() []string { // the URL is posted to after the directory is written
		mu.Lock()
		defer mu.Unlock()
		return append([]string{}, posted...)
	}
	for len(received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := received(); len(got) == 0 || got[0] != string(first.Note) {
		t.Errorf("the witness URL did not receive the checkpoint: %q", got)
	}

	for i := 0; i < 4; i++ {
		env.MustData(model.RoleCourt, read, vars)
	}
	second, err := env.Server.Trail.Checkpoint(context.Background())
	if err != nil || second.Size <= first.Size {
		t.Fatalf("second checkpoint: %+v %v", second, err)
	}

	// Consistency proof between the two checkpoints, checked with tlog only.
	var cons struct {
		AuditConsistencyProof struct {
			FromSize, ToSize int
			Hashes           []string
			FromCheckpoint   *string
			ToCheckpoint     *string
		}
	}
	decode(t, env.MustData(model.RoleAuditor, `query($f: Int!) { auditConsistencyProof(fromSize: $f) { fromSize toSize hashes fromCheckpoint toCheckpoint } }`,
		map[string]any{"f": first.Size}), &cons)
	p := cons.AuditConsistencyProof
	if p.FromCheckpoint == nil || p.ToCheckpoint == nil || *p.FromCheckpoint != string(first.Note) {
		t.Fatalf("consistency proof lacks the checkpoints: %+v", p)
	}
	to, err := audit.OpenCheckpoint([]byte(*p.ToCheckpoint), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(hashes(t, p.Hashes), to.Size, to.Root, first.Size, first.Root); err != nil {
		t.Fatalf("consistency proof does not verify: %v", err)
	}
	// A forged old root does not pass.
	if err := tlog.CheckTree(hashes(t, p.Hashes), to.Size, to.Root, first.Size, tlog.RecordHash([]byte("forged"))); err == nil {
		t.Fatal("a consistency proof verified against a forged checkpoint")
	}

	// Prove a disclosure: the disclosure names its entry; the entry is in the signed tree.
	var disc struct {
		Disclosures []struct {
			Sequence int
			Field    string
			Purpose  struct{ CaseReference string }
		}
	}
	decode(t, env.MustData(model.RoleAuditor, `{ disclosures(personId: "P-000001") { sequence field purpose { caseReference } } }`, nil), &disc)
	if len(disc.Disclosures) != 8 || disc.Disclosures[0].Field != "person" {
		t.Fatalf("disclosures: %+v", disc.Disclosures)
	}
	var inc struct {
		AuditInclusionProof struct {
			Sequence, TreeSize int
			LeafHash           string
			Entry              *string
			Hashes             []string
			Checkpoint         *string
		}
	}
	decode(t, env.MustData(model.RoleAuditor, `query($s: Int!) { auditInclusionProof(sequence: $s) { sequence treeSize leafHash entry hashes checkpoint } }`,
		map[string]any{"s": disc.Disclosures[0].Sequence}), &inc)
	ip := inc.AuditInclusionProof
	cp, err := audit.OpenCheckpoint([]byte(*ip.Checkpoint), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf := tlog.RecordHash([]byte(*ip.Entry))
	if leaf.String() != ip.LeafHash || !strings.Contains(*ip.Entry, `"personIds":["P-000001"]`) {
		t.Fatalf("the proof's entry does not match its leaf hash or is not the disclosure: %s", *ip.Entry)
	}
	if err := tlog.CheckRecord(hashes(t, ip.Hashes), cp.Size, cp.Root, int64(ip.Sequence-1), leaf); err != nil {
		t.Fatalf("inclusion proof does not verify: %v", err)
	}
	if err := tlog.CheckRecord(hashes(t, ip.Hashes), cp.Size, cp.Root, int64(ip.Sequence-1), tlog.RecordHash([]byte(strings.Replace(*ip.Entry, "P-000001", "P-000002", 1)))); err == nil {
		t.Fatal("an inclusion proof verified for an altered entry")
	}
	wantCode(t, env.As(model.RoleAuditor, `{ auditInclusionProof(sequence: 100000) { sequence } }`, nil), "BAD_USER_INPUT")
	wantCode(t, env.As(model.RoleRegistrar, `{ auditCheckpoint { size } }`, nil), "FORBIDDEN")
}

func hashes(t *testing.T, in []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(in))
	for i, s := range in {
		h, err := tlog.ParseHash(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = h
	}
	return out
}

func decode(t *testing.T, data map[string]any, into any) {
	t.Helper()
	b, _ := json.Marshal(data)
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatal(err)
	}
}

// TestAuditTwoInstancesOneTree: two instances on one database append to one tree and sign
// checkpoints with the deployment's one key; the export of either verifies against the
// checkpoints of both.
func TestAuditTwoInstancesOneTree(t *testing.T) {
	t.Parallel()
	a := testenv.New(t, testenv.Options{Persons: 10})
	b := testenv.New(t, testenv.Options{Persons: 10, Database: a.Config.MongoDatabase})
	var kept [][]byte
	var wg sync.WaitGroup
	for round := 0; round < 3; round++ {
		for i := 0; i < 10; i++ {
			for _, env := range []*testenv.Env{a, b} {
				wg.Add(1)
				go func(env *testenv.Env) {
					defer wg.Done()
					if r := env.As(model.RoleCourt, prisonsQuery, nil); len(r.Errors) > 0 {
						t.Errorf("%s", r.Raw)
					}
				}(env)
			}
		}
		wg.Wait()
		for _, env := range []*testenv.Env{a, b} {
			cp, err := env.Server.Trail.Checkpoint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, cp.Note)
		}
	}
	for _, env := range []*testenv.Env{a, b} {
		report, err := audit.VerifyExport(bytes.NewReader(exportOf(t, env)), env.Server.Trail.Key().Verifier, kept, 0)
		if err != nil || !report.Valid || report.TreeSize < 60 || report.CheckpointsChecked < 3 {
			t.Fatalf("export of one instance against both instances' checkpoints: %+v %s %v", report, deref(report.Problem), err)
		}
		if online, err := env.Server.Trail.Verify(context.Background()); err != nil || !online.Valid {
			t.Fatalf("online: %+v %v", online, err)
		}
	}
}

// TestAuditPurposePerAccess: an operation with two root fields and two purposes is recorded as
// two accesses, and disclosures lists each with its own purpose.
func TestAuditPurposePerAccess(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	env.MustData(model.RoleCourt, `query Two($a: PurposeInput!, $b: PurposeInput!) {
	  first: person(id: "P-000001", purpose: $a) { id }
	  second: person(id: "P-000001", purpose: $b) { familyName }
	  other: personByNationalId(nationalId: "755630/4129", purpose: $b) { id }
	}`, map[string]any{
		"a": map[string]any{"caseReference": "1 T 1/2026", "reason": "CRIMINAL_PROCEEDINGS"},
		"b": map[string]any{"caseReference": "2 T 2/2026", "reason": "CRIMINAL_PROCEEDINGS"},
	})
	var disc struct {
		Disclosures []struct {
			Field         string
			OperationName string
			Purpose       struct{ CaseReference string }
		}
	}
	decode(t, env.MustData(model.RoleAuditor, `{ disclosures(personId: "P-000001") { field operationName purpose { caseReference } } }`, nil), &disc)
	got := fmt.Sprint(disc.Disclosures)
	if len(disc.Disclosures) != 2 || got != "[{first Two {1 T 1/2026}} {second Two {2 T 2/2026}}]" {
		t.Fatalf("want two disclosures with their own purposes, got %s", got)
	}
	var tr struct {
		AuditTrail struct {
			Edges []struct {
				Node struct {
					Accesses []struct {
						Field     string
						Purpose   struct{ CaseReference string }
						PersonIDs []string
					}
					PersonIDs []string
				}
			}
		}
	}
	decode(t, env.MustData(model.RoleAuditor, `{ auditTrail(filter: {subject: "demo-court"}) { edges { node { accesses { field purpose { caseReference } personIds } personIds } } } }`, nil), &tr)
	if len(tr.AuditTrail.Edges) != 1 {
		t.Fatalf("entries: %+v", tr)
	}
	n := tr.AuditTrail.Edges[0].Node
	if got := fmt.Sprint(n.Accesses); len(n.Accesses) != 3 || !strings.Contains(got, "{other {2 T 2/2026} [P-") || !strings.Contains(got, "{first {1 T 1/2026} [P-000001]}") {
		t.Fatalf("accesses: %s", got)
	}
	if len(n.PersonIDs) != 2 {
		t.Errorf("persons of the operation: %v", n.PersonIDs)
	}
}

// TestAuditRetentionIsSignedAndBounded: retention removes only entries past the period, under
// a signed record the offline verifier accepts; production refuses a retention under three
// years; a record claiming a shorter retention is refused by the verifier.
func TestAuditRetentionIsSignedAndBounded(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{Persons: 10})
	for i := 0; i < 5; i++ {
		env.MustData(model.RoleCourt, prisonsQuery, nil)
	}
	ctx := context.Background()
	kept, err := env.Server.Trail.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Two years later nothing is past the three-year retention.
	twoYears := testenv.New(t, testenv.Options{Database: env.Config.MongoDatabase, Mutate: func(c *app.Config) {
		c.Now = func() time.Time { return testenv.Today.AddDate(2, 0, 0) }
	}})
	if report, err := twoYears.Server.Trail.Verify(ctx); err != nil || !report.Valid || report.RemovedByRetention != 0 {
		t.Fatalf("entries two years old were removed: %+v %v", report, err)
	}
	if err := twoYears.Server.Trail.Append(ctx, &model.AuditEntry{Kind: model.AuditKindOperation, Outcome: model.AuditOutcomeAllowed}); err != nil {
		t.Fatal(err)
	}
	// Four years later the first five entries go; the one from two years later stays.
	later := testenv.New(t, testenv.Options{Database: env.Config.MongoDatabase, Mutate: func(c *app.Config) {
		c.Now = func() time.Time { return testenv.Today.AddDate(4, 0, 0) }
	}})
	report, err := audit.VerifyExport(bytes.NewReader(exportOf(t, later)), later.Server.Trail.Key().Verifier, [][]byte{kept.Note}, audit.DefaultRetention)
	if err != nil || !report.Valid || report.RemovedByRetention != 5 || report.EntriesChecked < 1 {
		t.Fatalf("after retention: %+v %s %v", report, deref(report.Problem), err)
	}
	listedPage, err := later.Server.Trail.Entries(ctx, store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	listed := listedPage.Entries
	for _, e := range listed {
		if e.Sequence <= 5 {
			t.Errorf("removed entry %d still listed", e.Sequence)
		}
	}
	// The same record does not satisfy an auditor requiring five years.
	report, _ = audit.VerifyExport(bytes.NewReader(exportOf(t, later)), later.Server.Trail.Key().Verifier, nil, 5*audit.DefaultRetention/3)
	if report.Valid {
		t.Errorf("a three-year retention passed a five-year minimum")
	}
	// Production refuses a shorter retention at start-up.
	cfg := app.Config{Mode: app.Production, MongoURI: "mongodb://x", JWTPublicKeyFile: "k", JWTIssuer: "i", JWTAudience: "a",
		AuditSigningKeyFile: "f", AuditRetention: 365 * 24 * time.Hour}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "three years") {
		t.Errorf("production accepted a one-year audit retention: %v", err)
	}
	cfg.AuditSigningKeyFile = ""
	cfg.AuditRetention = audit.DefaultRetention
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "AUDIT_SIGNING_KEY_FILE") {
		t.Errorf("production started without an audit signing key: %v", err)
	}
}
