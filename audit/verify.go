package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"custodia/apperr"
	"custodia/model"
	"custodia/store"
)

// verifierKeyOf derives the public verifier key (note form) from a private key in note form.
func verifierKeyOf(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("audit signing key: not a note private key (PRIVATE+KEY+name+hash+key)")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("audit signing key: not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(parts[2], pub)
}

// ExportLine is one line of an export (JSON lines): the header, a signed checkpoint, the
// signed retention record, or one position of the log — an entry's canonical encoding
// (exactly the bytes its leaf hash covers), or, for an entry whose body retention removed,
// its leaf hash.
type ExportLine struct {
	Format     string          `json:"format,omitempty"`
	Checkpoint string          `json:"checkpoint,omitempty"`
	Retention  string          `json:"retention,omitempty"`
	Seq        int             `json:"seq,omitempty"`
	Entry      json.RawMessage `json:"entry,omitempty"`
	Removed    bool            `json:"removed,omitempty"`
	LeafHash   string          `json:"leafHash,omitempty"`
	// Corrupt says the stored document at Seq is not an entry custodia wrote (it was edited
	// by hand) and why; Entry is the encoding of what could still be read of it, or, when
	// nothing could, LeafHash is its stored leaf hash. A verifier reports such a position.
	Corrupt string `json:"corrupt,omitempty"`
}

// ExportFormat names the export format in its first line.
const ExportFormat = "custodia-audit-export/1"

// How many of the newest stored checkpoints an export carries and Verify checks (a log signs
// one every few seconds while it grows: years of them are millions). Each was checked for
// consistency with its predecessor before it was signed; the auditor's own kept checkpoints
// are what the offline verification rests on.
const (
	exportCheckpoints = 100
	verifyCheckpoints = 1000
)

// Export writes the whole log as JSON lines: a header, the signed retention record and the
// newest signed checkpoints the database holds, then every position in order.
func (t *Trail) Export(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriter(w)
	after := 0
	for {
		page, err := t.ExportPage(ctx, after, 5000)
		if err != nil {
			return err
		}
		for _, l := range page.Lines {
			if _, err := bw.WriteString(l + "\n"); err != nil {
				return err
			}
		}
		if !page.HasMore {
			return bw.Flush()
		}
		after = page.LastSequence
	}
}

// ExportPage is one page of the export: the positions after afterSeq (at most first), and on
// the first page (afterSeq 0) the header, retention record and checkpoints before them.
func (t *Trail) ExportPage(ctx context.Context, afterSeq, first int) (*model.AuditExportPage, error) {
	if first < 1 || first > 5000 {
		return nil, apperr.BadInput("first", "first must be between 1 and 5000")
	}
	if afterSeq < 0 {
		return nil, apperr.BadInput("afterSequence", "afterSequence must not be negative")
	}
	page := &model.AuditExportPage{Lines: []string{}, LastSequence: afterSeq}
	add := func(l ExportLine) {
		b, err := json.Marshal(l)
		if err != nil {
			panic(err) // plain data: cannot fail
		}
		page.Lines = append(page.Lines, string(b))
	}
	if afterSeq == 0 {
		add(ExportLine{Format: ExportFormat})
		_, retention, err := t.store.AuditRetention(ctx)
		if err != nil {
			return nil, err
		}
		if retention != nil {
			add(ExportLine{Retention: string(retention)})
		}
		checkpoints, err := t.store.AuditCheckpoints(ctx, exportCheckpoints)
		if err != nil {
			return nil, err
		}
		for _, c := range checkpoints {
			add(ExportLine{Checkpoint: string(c)})
		}
	}
	n := 0
	err := t.store.AuditLeaves(ctx, afterSeq+1, func(l store.AuditLeaf) bool {
		if n == first {
			page.HasMore = true
			return false
		}
		line := ExportLine{Seq: l.Seq, Corrupt: l.Corrupt}
		switch {
		case l.Entry != nil:
			line.Entry = Encode(l.Entry)
		case l.Corrupt != "":
			line.LeafHash = base64.StdEncoding.EncodeToString(l.Leaf)
		default:
			line.Removed, line.LeafHash = true, base64.StdEncoding.EncodeToString(l.Leaf)
		}
		add(line)
		page.LastSequence = l.Seq
		n++
		return true
	})
	return page, err
}

// checker verifies a log position by position: it rebuilds the Merkle tree from the leaves
// and checks it against signed checkpoints and the signed retention record. It trusts nothing
// but the log's public key.
type checker struct {
	key          note.Verifier
	minRetention time.Duration
	hashes       []tlog.Hash // tlog storage, index = stored hash index
	n            int64       // leaves so far
	stopped      bool        // a gap: later leaves cannot be placed
	retention    *RetentionRecord
	checkpoints  map[int64]*Checkpoint
	report       model.AuditChainReport
}

func newChecker(key note.Verifier, minRetention time.Duration) *checker {
	return &checker{key: key, minRetention: minRetention, checkpoints: map[int64]*Checkpoint{}, report: model.AuditChainReport{Valid: true}}
}

// fail records the first problem found.
func (c *checker) fail(seq int, problem string) {
	if !c.report.Valid {
		if c.report.FirstBrokenSequence == nil && seq > 0 {
			// The first problem named no entry: name the first entry found broken too.
			c.report.FirstBrokenSequence = &seq
			more := *c.report.Problem + "; " + problem
			c.report.Problem = &more
		}
		return
	}
	c.report.Valid = false
	c.report.Problem = &problem
	if seq > 0 {
		c.report.FirstBrokenSequence = &seq
	}
}

func (c *checker) read(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if idx < 0 || idx >= int64(len(c.hashes)) {
			return nil, fmt.Errorf("tree hash %d is not known", idx)
		}
		out[i] = c.hashes[idx]
	}
	return out, nil
}

// leaf adds the leaf at seq; it returns the stored hashes the leaf completes.
func (c *checker) leaf(seq int, h tlog.Hash) []tlog.Hash {
	if c.stopped {
		return nil
	}
	if int64(seq) != c.n+1 {
		if int64(seq) <= c.n {
			c.fail(seq, fmt.Sprintf("entry %d appears twice or out of order", seq))
		} else {
			c.fail(int(c.n+1), missing(c.n+1, int64(seq-1)))
		}
		c.stopped = true
		return nil
	}
	stored, err := tlog.StoredHashesForRecordHash(c.n, h, tlog.HashReaderFunc(c.read))
	if err != nil {
		c.fail(seq, err.Error())
		c.stopped = true
		return nil
	}
	c.hashes = append(c.hashes, stored...)
	c.n++
	return stored
}

// entry adds a present entry from its canonical encoding; it returns the stored hashes.
func (c *checker) entry(seq int, canonical []byte) []tlog.Hash {
	c.report.EntriesChecked++
	var head struct {
		ID       string    `json:"id"`
		Sequence int       `json:"sequence"`
		Time     time.Time `json:"time"`
	}
	if err := json.Unmarshal(canonical, &head); err != nil {
		c.fail(seq, fmt.Sprintf("entry %d is not a canonical entry: %v", seq, err))
	} else if head.Sequence != seq || head.ID != store.AuditID(seq) {
		c.fail(seq, fmt.Sprintf("the entry at position %d says it is entry %d (reordered)", seq, head.Sequence))
	} else if c.retention != nil && seq == c.retention.Through+1 && head.Time.Before(c.retention.Before) {
		c.fail(seq, fmt.Sprintf("entry %d is older than the retention cut-off but was kept while earlier ones were removed", seq))
	}
	return c.leaf(seq, tlog.RecordHash(canonical))
}

// removed adds a position whose body retention removed.
func (c *checker) removed(seq int, leaf []byte) []tlog.Hash {
	c.report.RemovedByRetention++
	if c.retention == nil || seq > c.retention.Through {
		c.fail(seq, fmt.Sprintf("the body of entry %d was removed, but no signed retention record covers it", seq))
	}
	var h tlog.Hash
	if len(leaf) != tlog.HashSize {
		c.fail(seq, fmt.Sprintf("entry %d has no leaf hash", seq))
	}
	copy(h[:], leaf)
	return c.leaf(seq, h)
}

// corrupt reports a position whose stored document is not an entry custodia wrote; when
// nothing of it could be read, its stored leaf hash (if any) keeps the tree going, so that
// what follows is still checked. It returns the stored hashes, if any.
func (c *checker) corrupt(seq int, why string, readable bool, leaf []byte) []tlog.Hash {
	c.fail(seq, fmt.Sprintf("entry %d was edited: the stored document is not an entry custodia writes (%s)", seq, why))
	if readable {
		return nil
	}
	c.report.EntriesChecked++
	if len(leaf) != tlog.HashSize {
		c.stopped = true // nothing to place at this position: what follows cannot be checked
		return nil
	}
	return c.leaf(seq, tlog.Hash(leaf))
}

// addRetention verifies and keeps the signed retention record.
func (c *checker) addRetention(msg []byte) {
	r, err := OpenRetention(msg, c.key)
	if err != nil {
		c.fail(0, "the retention record does not verify: "+err.Error())
		return
	}
	if r.Retention < c.minRetention {
		c.fail(0, fmt.Sprintf("the retention record removed entries kept only %s, less than the minimum %s", r.Retention, c.minRetention))
	}
	c.retention = r
}

// addCheckpoint verifies and keeps a signed checkpoint.
func (c *checker) addCheckpoint(msg []byte) {
	cp, err := OpenCheckpoint(msg, c.key)
	if err != nil {
		c.fail(0, "a checkpoint does not verify: "+err.Error())
		return
	}
	c.checkpoints[cp.Size] = cp
}

// finish checks the rebuilt tree against every checkpoint and the retention record.
func (c *checker) finish() model.AuditChainReport {
	c.report.TreeSize = int(c.n)
	sizes := make([]int64, 0, len(c.checkpoints))
	for s := range c.checkpoints {
		sizes = append(sizes, s)
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	r := tlog.HashReaderFunc(c.read)
	matched := int64(0)
	for _, s := range sizes {
		cp := c.checkpoints[s]
		c.report.CheckpointsChecked++
		if s > c.n {
			if !c.stopped {
				c.fail(int(c.n+1), fmt.Sprintf("the log has %d entries, but a signed checkpoint covers %d: entries %d to %d were removed", c.n, s, c.n+1, s))
			}
			continue
		}
		if s == 0 {
			continue
		}
		root, err := tlog.TreeHash(s, r)
		if err != nil || root != cp.Root {
			c.fail(int(matched+1), fmt.Sprintf("the log does not match the signed checkpoint of %d entries: an entry between %d and %d was changed, removed, inserted or reordered after it was witnessed", s, matched+1, s))
			continue
		}
		matched = s
	}
	if c.report.Valid {
		c.report.WitnessedSize = int(matched)
	}
	if rr := c.retention; rr != nil {
		if rr.TreeSize > c.n {
			c.fail(int(c.n+1), fmt.Sprintf("the log has %d entries, fewer than the %d of the signed retention record", c.n, rr.TreeSize))
		} else if root, err := tlog.TreeHash(rr.TreeSize, r); rr.TreeSize > 0 && (err != nil || root != rr.Root) {
			c.fail(0, fmt.Sprintf("the log does not match the tree of %d entries named in the signed retention record", rr.TreeSize))
		}
		if int64(rr.Through) > c.n {
			c.fail(int(c.n+1), "the retention record removed entries the log does not have")
		}
	}
	return c.report
}

// VerifyExport checks an export offline against the log's public key and the checkpoints the
// auditor kept (trusted, in addition to those the export carries — which prove nothing on
// their own about what was removed after them). minRetention is the least retention a
// retention record may claim (DefaultRetention for production logs).
func VerifyExport(r io.Reader, key note.Verifier, kept [][]byte, minRetention time.Duration) (model.AuditChainReport, error) {
	c := newChecker(key, minRetention)
	for _, k := range kept {
		c.addCheckpoint(k)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	first := true
	for sc.Scan() {
		var line ExportLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return c.report, fmt.Errorf("export line: %w", err)
		}
		switch {
		case first:
			if line.Format != ExportFormat {
				return c.report, fmt.Errorf("not a custodia audit export (want format %q)", ExportFormat)
			}
		case line.Retention != "":
			c.addRetention([]byte(line.Retention))
		case line.Checkpoint != "":
			c.addCheckpoint([]byte(line.Checkpoint))
		case line.Corrupt != "" && len(line.Entry) == 0:
			leaf, _ := base64.StdEncoding.DecodeString(line.LeafHash)
			c.corrupt(line.Seq, line.Corrupt, false, leaf)
		case line.Removed:
			leaf, err := base64.StdEncoding.DecodeString(line.LeafHash)
			if err != nil {
				leaf = nil
			}
			c.removed(line.Seq, leaf)
		default:
			if line.Corrupt != "" {
				c.corrupt(line.Seq, line.Corrupt, true, nil)
			}
			c.entry(line.Seq, line.Entry)
		}
		first = false
	}
	if err := sc.Err(); err != nil {
		return c.report, err
	}
	if len(c.checkpoints) == 0 {
		c.fail(0, "no signed checkpoint: nothing outside the log vouches for it")
	}
	return c.finish(), nil
}

// Verify checks the log as the database holds it: every entry's leaf hash is recomputed from
// its canonical encoding and compared with the stored one, the Merkle tree is rebuilt and
// compared with the stored tree hashes, and the tree is checked against every signed
// checkpoint in the database and in the witness directory, and against the retention record.
// (An auditor who does not trust the server verifies an export instead: VerifyExport.)
func (t *Trail) Verify(ctx context.Context) (model.AuditChainReport, error) {
	c := newChecker(t.opts.Key.Verifier, 0)
	_, retention, err := t.store.AuditRetention(ctx)
	if err != nil {
		return c.report, err
	}
	if retention != nil {
		c.addRetention(retention)
	}
	stored, err := t.store.AuditCheckpoints(ctx, verifyCheckpoints)
	if err != nil {
		return c.report, err
	}
	witnessed, err := t.witnessCheckpoints()
	if err != nil {
		return c.report, err
	}
	for _, cp := range append(stored, witnessed...) {
		c.addCheckpoint(cp)
	}
	err = t.store.AuditLeaves(ctx, 1, func(l store.AuditLeaf) bool {
		var hashes []tlog.Hash
		if l.Corrupt != "" {
			hashes = c.corrupt(l.Seq, l.Corrupt, l.Entry != nil, l.Leaf)
		}
		switch {
		case l.Corrupt != "" && l.Entry == nil:
		case l.Entry != nil:
			leaf := tlog.RecordHash(Encode(l.Entry))
			if l.Entry.Hash != base64.StdEncoding.EncodeToString(l.Leaf) || leaf.String() != l.Entry.Hash {
				c.fail(l.Seq, fmt.Sprintf("entry %d does not match its hash (it was edited)", l.Seq))
			}
			hashes = c.entry(l.Seq, Encode(l.Entry))
		default:
			hashes = c.removed(l.Seq, l.Leaf)
		}
		if hashes != nil && !sameHashes(hashes, l.Tree) {
			c.fail(l.Seq, fmt.Sprintf("the stored tree hashes of entry %d were altered", l.Seq))
		}
		return !c.stopped
	})
	if err != nil {
		return c.report, err
	}
	head, err := t.store.AuditHead(ctx)
	if err != nil {
		return c.report, err
	}
	if int64(head) > c.n && !c.stopped {
		c.fail(int(c.n+1), missing(c.n+1, int64(head))+" at the end of the log")
	}
	return c.finish(), nil
}

func sameHashes(a []tlog.Hash, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i][:]) != string(b[i]) {
			return false
		}
	}
	return true
}

// retentionHeader opens every signed retention record.
const retentionHeader = "custodia audit retention"

// RetentionRecord is what a signed retention record says: entries 1..Through had their bodies
// removed because they were older than Before, under a retention of Retention, when the tree
// had TreeSize entries and root Root.
type RetentionRecord struct {
	Through   int
	Before    time.Time
	Retention time.Duration
	TreeSize  int64
	Root      tlog.Hash
}

func formatRetention(origin string, r RetentionRecord) string {
	return fmt.Sprintf("%s\n%s\nremoved-through %d\nolder-than %s\nretention %s\ntree %d %s\n",
		retentionHeader, origin, r.Through, r.Before.UTC().Format(time.RFC3339Nano), r.Retention, r.TreeSize, r.Root)
}

// OpenRetention verifies a signed retention record with the log's public key and parses it.
func OpenRetention(msg []byte, v note.Verifier) (*RetentionRecord, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	var r RetentionRecord
	var header, origin, before, retention, root string
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 7 {
		return nil, errors.New("not a retention record")
	}
	header, origin = lines[0], lines[1]
	_, e1 := fmt.Sscanf(lines[2], "removed-through %d", &r.Through)
	_, e2 := fmt.Sscanf(lines[3], "older-than %s", &before)
	_, e3 := fmt.Sscanf(lines[4], "retention %s", &retention)
	_, e4 := fmt.Sscanf(lines[5], "tree %d %s", &r.TreeSize, &root)
	if header != retentionHeader || origin != v.Name() || errors.Join(e1, e2, e3, e4) != nil {
		return nil, errors.New("not a retention record of this log")
	}
	if r.Before, err = time.Parse(time.RFC3339Nano, before); err != nil {
		return nil, err
	}
	if r.Retention, err = time.ParseDuration(retention); err != nil {
		return nil, err
	}
	if r.Root, err = tlog.ParseHash(root); err != nil {
		return nil, err
	}
	return &r, nil
}

// Purge applies retention: the bodies of the entries older than the retention period (all of
// them before the first younger one) are removed, after a signed retention record saying so
// was stored. Their leaf and tree hashes stay, so the tree, its checkpoints and the proofs of
// the other entries are unaffected. A purge interrupted after storing its record is finished by
// the next one, even when nothing new is old enough. It returns how many entries its own
// record added.
func (t *Trail) Purge(ctx context.Context, retention time.Duration) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	before := t.now().Add(-retention)
	prev, _, err := t.store.AuditRetention(ctx)
	if err != nil {
		return 0, err
	}
	through, err := t.store.AuditRemovable(ctx, before)
	if err != nil {
		return 0, err
	}
	if through == 0 { // nothing new: finish a removal a crash interrupted after its record
		return 0, t.store.FinishAuditRemoval(ctx)
	}
	size, err := t.store.AuditHead(ctx)
	if err != nil {
		return 0, err
	}
	root, err := tlog.TreeHash(int64(size), t.store.AuditHashReader(ctx))
	if err != nil {
		return 0, err
	}
	rec := RetentionRecord{Through: through, Before: before, Retention: retention, TreeSize: int64(size), Root: root}
	msg, err := note.Sign(&note.Note{Text: formatRetention(t.opts.Key.Signer.Name(), rec)}, t.opts.Key.Signer)
	if err != nil {
		return 0, err
	}
	if err := t.store.RemoveAuditBodies(ctx, through, msg); err != nil {
		return 0, err
	}
	return through - prev, nil
}

// ParseVerifierKey reads a public key in note form (name+hash+base64).
func ParseVerifierKey(vkey string) (note.Verifier, error) {
	return note.NewVerifier(strings.TrimSpace(vkey))
}

func missing(from, to int64) string {
	if from == to {
		return fmt.Sprintf("entry %d is missing", from)
	}
	return fmt.Sprintf("entries %d to %d are missing", from, to)
}
