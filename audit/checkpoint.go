package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"custodia/apperr"
	"custodia/model"
)

// Options configure a trail's checkpoints.
type Options struct {
	// Key signs checkpoints and retention records (required).
	Key *Key
	// CheckpointEvery signs a checkpoint once this many entries were appended since the last
	// one (default 1000); CheckpointInterval signs one at least this often while the log
	// grows (default 10 s).
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// WitnessDir receives every checkpoint as a file (<size>.checkpoint, and latest.checkpoint);
	// WitnessURL receives every checkpoint as an HTTP POST (text/plain, the signed note).
	WitnessDir string
	WitnessURL string
	// PersonIndexInterval is how often the trail brings the per-person index of the log up to
	// date (store.IndexAuditPersons; default 1 s). Readers never depend on it being current.
	PersonIndexInterval time.Duration
	// Log reports checkpoint and witness failures (default: discarded).
	Log *slog.Logger
	// HTTPClient posts to WitnessURL (default: 5 s timeout).
	HTTPClient *http.Client
}

func (o Options) withDefaults() Options {
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 1000
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 10 * time.Second
	}
	if o.PersonIndexInterval <= 0 {
		o.PersonIndexInterval = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	return o
}

// Key is the log's Ed25519 signing key, as a golang.org/x/mod/sumdb/note signer and its
// verifier. Its name is the log's origin, the first line of every checkpoint.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the public key in note form (name+hash+base64), what auditors keep.
	VerifierKey string
}

// DefaultKeyName is the origin of checkpoints signed by a generated development key.
const DefaultKeyName = "custodia-audit-log"

// ParseKey reads a private key in note form (PRIVATE+KEY+name+hash+base64, as GenerateKey and
// `custodia audit keygen` write it).
func ParseKey(skey string) (*Key, error) {
	signer, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	// The verifier key is the private key's public half: recompute it from the same string.
	vkey, err := verifierKeyOf(strings.TrimSpace(skey))
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return &Key{Signer: signer, Verifier: verifier, VerifierKey: vkey}, nil
}

// GenerateKey makes a new signing key named name; it returns the private key in note form.
func GenerateKey(name string) (string, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	return skey, err
}

// LoadOrCreateKey reads the key in file, creating it (mode 0600) when it does not exist —
// for development, where the key lives in DATA_DIR.
func LoadOrCreateKey(file string) (*Key, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		skey, err := GenerateKey(DefaultKeyName)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, err
		}
		// Written aside and linked into place, so that of two processes creating the key at
		// once both end up with the one that won.
		tmp := fmt.Sprintf("%s.%d.tmp", file, os.Getpid())
		if err := os.WriteFile(tmp, []byte(skey+"\n"), 0o600); err != nil {
			return nil, err
		}
		err = os.Link(tmp, file)
		_ = os.Remove(tmp)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if b, err = os.ReadFile(file); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return ParseKey(string(b))
}

// Checkpoint is a signed statement of the log's Merkle tree: its origin (the key's name),
// size and root hash, in the checkpoint format of C2SP (origin, size, base64 root; one per
// line).
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	// Note is the signed note (text and signature), as published.
	Note []byte
}

func formatCheckpoint(origin string, size int64, root tlog.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, root)
}

// OpenCheckpoint verifies a signed checkpoint with the log's public key and parses it.
func OpenCheckpoint(msg []byte, v note.Verifier) (*Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" || strings.HasPrefix(lines[0], retentionHeader) {
		return nil, errors.New("not a checkpoint (want origin, size and root hash lines)")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return nil, fmt.Errorf("checkpoint size %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return nil, fmt.Errorf("checkpoint root hash: %w", err)
	}
	if lines[0] != v.Name() {
		return nil, fmt.Errorf("checkpoint of log %q, want %q", lines[0], v.Name())
	}
	return &Checkpoint{Origin: lines[0], Size: size, Root: root, Note: msg}, nil
}

// Key is the trail's signing key.
func (t *Trail) Key() *Key { return t.opts.Key }

// checkpointer signs a checkpoint once CheckpointEvery entries were appended or every
// CheckpointInterval while the log grew, and retries witnesses that did not get the latest.
func (t *Trail) checkpointer() {
	defer t.stopped.Done()
	tick := time.NewTicker(t.opts.CheckpointInterval)
	defer tick.Stop()
	since := 0
	sign := func(timeout time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if _, err := t.Checkpoint(ctx); err != nil {
			t.opts.Log.Error("audit checkpoint not signed", "error", err.Error())
		}
		since = 0
	}
	for {
		select {
		case n := <-t.appended:
			if since += n; since >= t.opts.CheckpointEvery {
				sign(30 * time.Second)
			}
		case <-tick.C:
			sign(30 * time.Second)
		case <-t.stop:
			sign(5 * time.Second) // shutting down: do not hold it up for long
			return
		}
	}
}

// Checkpoint signs a checkpoint of the log as it is now, unless the latest one already covers
// it, stores it, and publishes it to the witnesses. Before signing it checks that the tree is
// consistent with the latest signed checkpoint: a log rewritten behind the server's back is
// never signed. It returns the latest checkpoint.
func (t *Trail) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	size, err := t.store.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	latest, err := t.LatestCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	// The witness directory's latest counts too: checkpoints deleted from the database are
	// not forgotten, and the next one must extend them.
	if w := t.witnessLatest(); w != nil && (latest == nil || w.Size > latest.Size) {
		latest = w
	}
	if size == 0 || (latest != nil && latest.Size >= int64(size)) {
		return latest, t.publish(latest)
	}
	r := t.store.AuditHashReader(ctx)
	root, err := tlog.TreeHash(int64(size), r)
	if err != nil {
		return nil, fmt.Errorf("audit tree of %d entries: %w", size, err)
	}
	if latest != nil && latest.Size > 0 {
		proof, err := tlog.ProveTree(int64(size), latest.Size, r)
		if err != nil {
			return nil, err
		}
		if err := tlog.CheckTree(proof, int64(size), root, latest.Size, latest.Root); err != nil {
			return nil, fmt.Errorf("the audit log of %d entries is not consistent with the signed checkpoint of %d entries: it was rewritten; not signing", size, latest.Size)
		}
	}
	msg, err := note.Sign(&note.Note{Text: formatCheckpoint(t.opts.Key.Signer.Name(), int64(size), root)}, t.opts.Key.Signer)
	if err != nil {
		return nil, err
	}
	if err := t.store.SaveAuditCheckpoint(ctx, int64(size), msg); err != nil {
		return nil, err
	}
	cp := &Checkpoint{Origin: t.opts.Key.Signer.Name(), Size: int64(size), Root: root, Note: msg}
	return cp, t.publish(cp)
}

// LatestCheckpoint is the latest signed checkpoint in the database (nil when there is none).
// A stored checkpoint whose signature does not verify is an error.
func (t *Trail) LatestCheckpoint(ctx context.Context) (*Checkpoint, error) {
	notes, err := t.store.AuditCheckpoints(ctx, 1)
	if err != nil || len(notes) == 0 {
		return nil, err
	}
	cp, err := OpenCheckpoint(notes[0], t.opts.Key.Verifier)
	if err != nil {
		return nil, fmt.Errorf("the latest stored checkpoint does not verify with this instance's key (every instance must use the same AUDIT_SIGNING_KEY_FILE): %w", err)
	}
	return cp, nil
}

// publish hands the checkpoint to the configured witnesses (once per size).
func (t *Trail) publish(cp *Checkpoint) error {
	if cp == nil || cp.Size <= t.published {
		return nil
	}
	var errs []error
	if dir := t.opts.WitnessDir; dir != "" {
		if err := writeWitnessFile(dir, cp); err != nil {
			errs = append(errs, fmt.Errorf("witness directory: %w", err))
		}
	}
	if u := t.opts.WitnessURL; u != "" {
		resp, err := t.opts.HTTPClient.Post(u, "text/plain; charset=utf-8", bytes.NewReader(cp.Note))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("witness URL: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	t.published = cp.Size
	return nil
}

func writeWitnessFile(dir string, cp *Checkpoint) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range []string{fmt.Sprintf("%012d.checkpoint", cp.Size), "latest.checkpoint"} {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, cp.Note, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// witnessLatest is the witness directory's latest checkpoint, nil when there is none or it
// does not verify (reported by Verify).
func (t *Trail) witnessLatest() *Checkpoint {
	if t.opts.WitnessDir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(t.opts.WitnessDir, "latest.checkpoint"))
	if err != nil {
		return nil
	}
	cp, err := OpenCheckpoint(b, t.opts.Key.Verifier)
	if err != nil {
		return nil
	}
	return cp
}

// witnessCheckpoints reads the newest checkpoints in the witness directory (none when unset).
func (t *Trail) witnessCheckpoints() ([][]byte, error) {
	if t.opts.WitnessDir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(t.opts.WitnessDir, "*.checkpoint"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files) // zero-padded sizes: the newest last (latest.checkpoint after them)
	if len(files) > verifyCheckpoints {
		files = files[len(files)-verifyCheckpoints:]
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// InclusionProof proves that the entry at seq is in the tree of treeSize entries (0: the
// latest checkpoint's size), and gives the entry's canonical encoding.
func (t *Trail) InclusionProof(ctx context.Context, seq, treeSize int) (*model.AuditInclusionProof, error) {
	size, cpNote, err := t.proofSize(ctx, treeSize)
	if err != nil {
		return nil, err
	}
	if seq < 1 || seq > size {
		return nil, apperr.BadInput("sequence", "sequence must be between 1 and the tree size %d", size)
	}
	r := t.store.AuditHashReader(ctx)
	proof, err := tlog.ProveRecord(int64(size), int64(seq-1), r)
	if err != nil {
		return nil, err
	}
	leaf, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, int64(seq-1))})
	if err != nil {
		return nil, err
	}
	p := &model.AuditInclusionProof{Sequence: seq, TreeSize: size, LeafHash: leaf[0].String(), Hashes: hashStrings(proof), Checkpoint: optional(cpNote)}
	e, removed, err := t.store.AuditEntryAt(ctx, seq)
	if err != nil {
		return nil, err
	}
	if e != nil && !removed {
		p.Entry = optional(Encode(e))
	}
	return p, nil
}

// ConsistencyProof proves that the tree of toSize entries (0: the latest checkpoint's size)
// extends the tree of fromSize entries.
func (t *Trail) ConsistencyProof(ctx context.Context, fromSize, toSize int) (*model.AuditConsistencyProof, error) {
	size, toNote, err := t.proofSize(ctx, toSize)
	if err != nil {
		return nil, err
	}
	if fromSize < 1 || fromSize > size {
		return nil, apperr.BadInput("fromSize", "fromSize must be between 1 and toSize %d", size)
	}
	proof, err := tlog.ProveTree(int64(size), int64(fromSize), t.store.AuditHashReader(ctx))
	if err != nil {
		return nil, err
	}
	fromNote, err := t.store.AuditCheckpointAt(ctx, int64(fromSize))
	return &model.AuditConsistencyProof{FromSize: fromSize, ToSize: size, Hashes: hashStrings(proof),
		FromCheckpoint: optional(fromNote), ToCheckpoint: optional(toNote)}, err
}

// LatestCheckpointModel is the latest signed checkpoint for the API (nil when none).
func (t *Trail) LatestCheckpointModel(ctx context.Context) (*model.AuditCheckpoint, error) {
	cp, err := t.LatestCheckpoint(ctx)
	if err != nil || cp == nil {
		return nil, err
	}
	return &model.AuditCheckpoint{Size: int(cp.Size), RootHash: cp.Root.String(), Note: string(cp.Note)}, nil
}

func hashStrings(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

func optional(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// proofSize resolves a requested tree size: 0 means the latest signed checkpoint; any other
// size must not exceed the log. It returns the signed checkpoint of that size when there is one.
func (t *Trail) proofSize(ctx context.Context, size int) (int, []byte, error) {
	head, err := t.store.AuditHead(ctx)
	if err != nil {
		return 0, nil, err
	}
	if size == 0 {
		latest, err := t.LatestCheckpoint(ctx)
		if err != nil {
			return 0, nil, err
		}
		if latest == nil {
			return 0, nil, apperr.NotFoundf("no checkpoint has been signed yet")
		}
		return int(latest.Size), latest.Note, nil
	}
	if size < 0 || size > head {
		return 0, nil, apperr.BadInput("treeSize", "the tree size must be between 1 and %d", head)
	}
	n, err := t.store.AuditCheckpointAt(ctx, int64(size))
	return size, n, err
}

// LoadKey reads the signing key in file (production: the file must exist).
func LoadKey(file string) (*Key, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseKey(string(b))
}
