package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestSeedOnceTakesOverAStaleClaim: an instance that died mid-seed leaves its claim and half
// a register; the next instance waits while the claim does not beat, takes it over, clears
// the remains and seeds, and its log says that it waits and that it took the claim over.
func TestSeedOnceTakesOverAStaleClaim(t *testing.T) {
	e := startEmbedded(t)
	ctx := context.Background()
	s, err := Open(ctx, Config{URI: e.URI(), Database: fmt.Sprintf("stale_%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if _, err := s.db.Collection(colMeta).InsertOne(ctx, bson.D{{Key: "_id", Value: seedClaimID}, {Key: "beat", Value: int64(7)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Collection(colPersons).InsertOne(ctx, bson.D{{Key: "_id", Value: "P-half-seeded"}}); err != nil {
		t.Fatal(err)
	}
	defer func(old time.Duration) { seedStale = old }(seedStale)
	seedStale = 500 * time.Millisecond
	start := time.Now()
	var logs bytes.Buffer
	seeded, err := s.SeedOnce(ctx, func(ctx context.Context) error { return s.LoadRegister(ctx, Register{}, nil) }, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || !seeded {
		t.Fatalf("SeedOnce over a stale claim: seeded=%v err=%v", seeded, err)
	}
	for _, said := range []string{"another instance holds the seed claim; waiting", "stopped beating (it died mid-seed); taking it over"} {
		if !strings.Contains(logs.String(), said) {
			t.Errorf("the log should say %q: %s", said, logs.String())
		}
	}
	if waited := time.Since(start); waited < seedStale {
		t.Fatalf("the claim was taken over after %v, before it was stale (%v)", waited, seedStale)
	}
	n, err := s.db.Collection(colPersons).CountDocuments(ctx, bson.D{})
	if err != nil || n != 0 {
		t.Fatalf("the remains of the interrupted seed must be cleared: %d persons, %v", n, err)
	}
	if err := s.db.Collection(colMeta).FindOne(ctx, bson.D{{Key: "_id", Value: seedClaimID}}).Err(); err == nil {
		t.Fatal("the claim must be released after seeding")
	}
	if again, err := s.SeedOnce(ctx, func(context.Context) error { t.Fatal("seeded twice"); return nil }, nil); err != nil || again {
		t.Fatalf("a seeded database is not seeded again: %v %v", again, err)
	}
}
