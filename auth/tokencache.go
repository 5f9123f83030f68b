package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"

	"custodia/model"
)

// tokenCacheSize is how many verified tokens a Verifier remembers (about 1 KB each).
const tokenCacheSize = 10_000

// verifiedToken is what a successful verification derived from one raw token: everything
// Authenticate needs before it chooses the role. It is never changed once cached.
type verifiedToken struct {
	identity Principal            // identity claims; no role, no grant
	roles    []model.Role         // the custodia roles the token carries (at least one)
	claims   jwt.RegisteredClaims // exp, nbf, iat, iss, aud: validated again on every use
	header   map[string]any       // the token's header as parsed: alg and kid find the key again
	key      any                  // the key whose signature check the token passed
}

// tokenCache remembers verified tokens, so that a client sending the same bearer token with
// many requests has its signature checked and its claims parsed once.
//
// It guarantees that a token it answers for is accepted exactly when a fresh verification
// would accept it:
//   - Entries are keyed by the SHA-256 of the whole raw token, so only the very same string
//     (header, claims and signature) finds one: a token with another signature, however
//     alike, is verified afresh.
//   - Only tokens that verified and carry a subject, an agency and a role are entered; a
//     refused token never is, so one refused for being not yet valid is checked again.
//   - Every use validates the time claims again with the parser's own validator (the same
//     clock and leeway: exp, nbf, iat) and resolves the token's key again as a fresh
//     verification would (key file, secret, or the remote key set as last fetched), requiring
//     the same key: a withdrawn or replaced key refuses the token as soon as the verifier no
//     longer holds it. An entry that fails either check is dropped and the token verified
//     afresh, so the refusal and its reason are a fresh verification's.
//   - It holds at most tokenCacheSize entries, evicting the least recently used: distinct
//     valid tokens cannot grow memory without bound. It is safe for concurrent use.
//
// The role is chosen per request (X-Role) after the cache, never cached.
type tokenCache struct {
	entries *lru.Cache[[sha256.Size]byte, *verifiedToken]
}

func newTokenCache(size int) *tokenCache {
	entries, err := lru.New[[sha256.Size]byte, *verifiedToken](size)
	if err != nil {
		panic(err) // only for a size ≤ 0
	}
	return &tokenCache{entries: entries}
}

// lookup returns the verified token of raw when cached and still valid; a cached entry that is
// no longer valid is dropped.
func (c *tokenCache) lookup(ctx context.Context, v *Verifier, sum [sha256.Size]byte) (*verifiedToken, bool) {
	t, ok := c.entries.Get(sum)
	if !ok {
		return nil, false
	}
	if v.validator.Validate(&t.claims) == nil {
		if key, err := v.keyFor(ctx, &jwt.Token{Header: t.header}); err == nil && sameKey(key, t.key) {
			return t, true
		}
	}
	c.entries.Remove(sum)
	return nil, false
}

// add remembers a verified token.
func (c *tokenCache) add(sum [sha256.Size]byte, t *verifiedToken) {
	c.entries.Add(sum, t)
}

// sameKey reports whether two verification keys are the same key (by value: a key set fetched
// again holds new copies of the keys it kept). Unknown kinds of key are never the same.
func sameKey(a, b any) bool {
	switch a := a.(type) {
	case []byte: // the HS256 secret
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case *rsa.PublicKey: // the same key object until the set is fetched again; Equal copies the modulus
		b, ok := b.(*rsa.PublicKey)
		return ok && (a == b || a.Equal(b))
	case interface{ Equal(crypto.PublicKey) bool }: // Ed25519, RSA and ECDSA public keys
		return a.Equal(b)
	}
	return false
}
