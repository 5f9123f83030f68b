package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"custodia/model"
)

// TestAuditAppendStartsAfterItsOwnLastEntry: an instance that appended last appends with the
// insert and the head hint's update only (no read of the hint); when another instance
// appended meanwhile, its insert collides and it goes on after the other's entries — the log
// stays gap-free, each position taken once, and its Merkle tree as read back by a third
// instance (no cached hashes) is the tree of the entries in log order.
func TestAuditAppendStartsAfterItsOwnLastEntry(t *testing.T) {
	t.Parallel()
	e := startEmbedded(t)
	ctx := context.Background()
	db := fmt.Sprintf("audit_%d", time.Now().UnixNano())
	type counted struct {
		*Store
		mu   sync.Mutex
		cmds []string
	}
	open := func() *counted {
		c := &counted{}
		s, err := Open(ctx, Config{URI: e.URI(), Database: db, OnCommand: func(_ context.Context, name string) {
			c.mu.Lock()
			c.cmds = append(c.cmds, name)
			c.mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		c.Store = s
		return c
	}
	encode := func(e *model.AuditEntry) []byte { return fmt.Appendf(nil, "%s|%s", e.ID, *e.OperationName) }
	var leaves []tlog.Hash // in log order, as the test expects them
	appendAs := func(c *counted, names ...string) []string {
		t.Helper()
		entries := make([]*model.AuditEntry, len(names))
		for i, n := range names {
			entries[i] = &model.AuditEntry{Kind: model.AuditKindOperation, OperationName: &n, Outcome: model.AuditOutcomeAllowed}
		}
		c.mu.Lock()
		c.cmds = nil
		c.mu.Unlock()
		if err := c.AppendAudit(ctx, entries, encode); err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Sequence != len(leaves)+1 {
				t.Fatalf("%s appended at %d, want %d (gap-free, each position once)", *e.OperationName, e.Sequence, len(leaves)+1)
			}
			leaves = append(leaves, tlog.RecordHash(encode(e)))
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.cmds
	}
	a, b := open(), open()
	appendAs(a, "a1") // the first append of a process reads the hint
	cases := []struct {
		name  string
		by    *counted
		names []string
		want  string // the commands, in order
	}{
		{"a appended last", a, []string{"a2", "a3"}, "[insert update]"},
		{"a again", a, []string{"a4"}, "[insert update]"},
		// b never appended: it reads the hint and looks up the positions from it (auditStart:
		// auditStartWindow lookups by _id on this engine).
		{"b never appended: reads the hint", b, []string{"b1"}, "[find " + strings.Repeat("find ", auditStartWindow) + "insert update]"},
		{"b appended last", b, []string{"b2"}, "[insert update]"},
		// a's insert collides: it reads the hint, counts the entries at the position after it
		// (an aggregate: none), reads the tree hashes of b's entries it has not cached, and
		// inserts there.
		{"a after b", a, []string{"a5", "a6"}, "[insert find aggregate find insert update]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(appendAs(c.by, c.names...)); got != c.want {
			t.Errorf("%s: commands %s, want %s", c.name, got, c.want)
		}
	}
	// A third instance, with no cached hashes, reads the tree the entries make.
	fresh := open()
	head, err := fresh.AuditHead(ctx)
	if err != nil || head != len(leaves) {
		t.Fatalf("head hint %d (%v), want %d", head, err, len(leaves))
	}
	var stored []tlog.Hash
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, leaf := range leaves {
		hashes, err := tlog.StoredHashesForRecordHash(int64(i), leaf, mem)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hashes...)
	}
	want, err := tlog.TreeHash(int64(len(leaves)), mem)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tlog.TreeHash(int64(len(leaves)), fresh.AuditHashReader(ctx))
	if err != nil || got != want {
		t.Fatalf("tree hash of the log %v (%v), want %v", got, err, want)
	}
}
