package audit

import (
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"custodia/model"
)

// benchEntry is a typical read entry: one access, a dozen coordinates, one person.
func benchEntry() *model.AuditEntry {
	s := func(v string) *string { return &v }
	role := model.RoleCourt
	return &model.AuditEntry{ID: "000000001234", Sequence: 1234, Time: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
		Kind: model.AuditKindOperation, Subject: s("demo-court"), Name: s("Mgr. Jana Soudná"), Agency: s("Krajský soud v Brně"),
		Role: &role, GrantID: s("GRANT-demo-court"), OperationName: s("Card"), OperationHash: s("3f2a0c9d1e4b5a6f7081928374655647382910abcdef0123456789abcdef0123"),
		Accesses:    []model.AuditAccess{{Field: "person", Purpose: &model.AuditPurpose{CaseReference: "4 T 123/2025", Reason: model.PurposeCodeCriminalProceedings}, PersonIDs: []string{"P-000001"}}},
		Coordinates: []string{"Query.person", "Person.familyName", "Person.givenNames", "Person.dateOfBirth", "Person.detentionStatus", "DetentionStatus.since", "DetentionStatus.prison", "Prison.name", "Prison.address", "Address.city", "Person.convictions", "Conviction.id"},
		PersonIDs:   []string{"P-000001"}, Outcome: model.AuditOutcomeAllowed, ClientAddress: s("10.0.0.7"), RequestID: s("0123456789abcdef01234567")}
}

// BenchmarkLeafHash is the per-entry cost of the canonical encoding and its leaf hash.
func BenchmarkLeafHash(b *testing.B) {
	e := benchEntry()
	b.ReportAllocs()
	for b.Loop() {
		_ = tlog.RecordHash(Encode(e))
	}
}

// BenchmarkTreeUpdate is the per-entry cost of the Merkle tree update: the stored hashes an
// entry completes, read from memory (the store reads the tree's right edge from its cache).
func BenchmarkTreeUpdate(b *testing.B) {
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	leaf := tlog.RecordHash(Encode(benchEntry()))
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		h, err := tlog.StoredHashesForRecordHash(n, leaf, r)
		if err != nil {
			b.Fatal(err)
		}
		hashes = append(hashes, h...)
		n++
	}
}

// BenchmarkCheckpoint is the cost of one checkpoint: the tree hash of a log of a million
// entries (from memory) and its Ed25519 signature. Spread over CheckpointEvery entries.
func BenchmarkCheckpoint(b *testing.B) {
	const size = 1 << 20
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	leaf := tlog.RecordHash(Encode(benchEntry()))
	for n := int64(0); n < size; n++ {
		h, _ := tlog.StoredHashesForRecordHash(n, leaf, r)
		hashes = append(hashes, h...)
	}
	skey, err := GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	key, err := ParseKey(skey)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		root, err := tlog.TreeHash(size, r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := note.Sign(&note.Note{Text: formatCheckpoint(key.Signer.Name(), size, root)}, key.Signer); err != nil {
			b.Fatal(err)
		}
	}
}
