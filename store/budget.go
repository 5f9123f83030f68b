package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// KeyScanBudget is how many IDs listed in key documents (searchKeys, auditPersons,
// eventBuckets: documents that list the IDs of other documents, read by point lookups) one
// request, page or poll may look up. A key document edited by hand can list any number of IDs
// (bogus, duplicated, of documents that no longer match); without a bound a reader would look
// up every one of them until it had a page. Legitimate lists are unaffected: a page needs at
// most MaxPageSize+1 matching IDs, far below the budget, and a longer list is read on by the
// next page from where this one stopped. A reader that spends the budget stops and says where
// to go on (hasNextPage with a cursor, possibly with fewer entries than asked for), as the
// audit trail does with auditScanBudget.
const KeyScanBudget = 512

// scanBudget counts the listed IDs one read has looked up against KeyScanBudget.
type scanBudget struct{ left int }

func newScanBudget() *scanBudget { return &scanBudget{left: KeyScanBudget} }

// take returns how many of the next n listed IDs the read may look up (at most n, possibly 0)
// and counts them as spent.
func (b *scanBudget) take(n int) int {
	n = max(min(n, b.left), 0)
	b.left -= n
	return n
}

// spent says the read may look up no further ID.
func (b *scanBudget) spent() bool { return b.left <= 0 }

// MaxGrantsPerSubject is how many grants one subject may have: InsertGrant refuses a further
// request, and a grantSubjects document listing more than twice as many is not one custodia
// wrote (it is refused as corrupt). The grant check reads all of a subject's grants on every request (it needs the
// open one, wherever it is in the list), so it cannot stop part-way as a paged read does.
const MaxGrantsPerSubject = KeyScanBudget

// sealedPrefix marks a resume position the store sealed (sealPosition) where a cursor holds an
// order key: a position inside a key document that must not be shown to the caller (it may be
// the order key of a person the caller may not see, or of a former name). Order keys start with
// a folded name, never with this byte.
const sealedPrefix = "\x01"

// cursorKeyID is the meta document holding the key that seals resume positions, shared by
// every instance of the database.
const cursorKeyID = "cursorKey"

// cursorSeal holds the sealing key once read.
type cursorSeal struct {
	mu   sync.Mutex
	aead cipher.AEAD
}

// sealer returns the AEAD sealing resume positions, creating the database's key on first use
// (the first instance to insert it wins; the others read it). Index: _id (meta).
func (s *Store) sealer(ctx context.Context) (cipher.AEAD, error) {
	s.seal.mu.Lock()
	defer s.seal.mu.Unlock()
	if s.seal.aead != nil {
		return s.seal.aead, nil
	}
	meta := s.db.Collection(colMeta)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if _, err := meta.InsertOne(ctx, bson.D{{Key: "_id", Value: cursorKeyID}, {Key: "key", Value: key}}); err != nil && !mongo.IsDuplicateKeyError(err) {
		return nil, classify(err)
	}
	var doc struct {
		Key []byte `bson:"key"`
	}
	if err := meta.FindOne(ctx, bson.D{{Key: "_id", Value: cursorKeyID}}).Decode(&doc); err != nil {
		return nil, classify(err)
	}
	block, err := aes.NewCipher(doc.Key)
	if err != nil {
		return nil, &CorruptError{Type: "cursor key", ID: cursorKeyID, Field: "key", Cause: err}
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s.seal.aead = aead
	return aead, nil
}

// sealPosition turns a position inside a key document into an opaque string (sealedPrefix and
// the encrypted position) that openPosition turns back; the caller learns nothing from it.
func (s *Store) sealPosition(ctx context.Context, pos string) (string, error) {
	aead, err := s.sealer(ctx)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(pos), nil)), nil
}

// openPosition returns the position a cursor stands for: the position sealPosition sealed, or
// the cursor itself when it is not sealed. ok is false for a sealed cursor this database did
// not seal.
func (s *Store) openPosition(ctx context.Context, cursor string) (pos string, ok bool, err error) {
	sealed, isSealed := strings.CutPrefix(cursor, sealedPrefix)
	if !isSealed {
		return cursor, true, nil
	}
	aead, err := s.sealer(ctx)
	if err != nil {
		return "", false, err
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", false, nil
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], nil)
	if err != nil {
		return "", false, nil
	}
	return string(plain), true, nil
}
