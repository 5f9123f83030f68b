package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"custodia/apperr"
	"custodia/model"
)

// VerifierConfig says which tokens to accept. At least one key source is required.
type VerifierConfig struct {
	// PublicKeys are verification keys (Ed25519, RSA or ECDSA P-256), by key ID; a key with the
	// ID "" verifies tokens without a "kid".
	PublicKeys map[string]crypto.PublicKey
	// JWKSURL, when set, is fetched for keys; see jwksSource for when it is fetched again.
	JWKSURL string
	// Discovery finds the JWKS URL in the issuer's OpenID Connect discovery document
	// (Issuer + "/.well-known/openid-configuration") when JWKSURL is not set.
	Discovery bool
	// JWKSRefreshInterval is how often the key set is fetched regardless of demand
	// (default DefaultJWKSRefreshInterval); JWKSMinRefreshInterval is the least time between
	// fetches caused by unknown key IDs (default DefaultJWKSMinRefreshInterval).
	JWKSRefreshInterval, JWKSMinRefreshInterval time.Duration
	// HTTPClient fetches discovery documents and key sets (default: a client with a 5 s timeout).
	HTTPClient *http.Client
	// OnKeyError is told about failed key-set fetches (for the log).
	OnKeyError func(error)
	// HS256Secret enables HS256 with this shared secret. Off unless explicitly configured.
	HS256Secret []byte
	Issuer      string
	Audience    string
	// Leeway tolerated on exp/nbf/iat for clock skew (default 30 s, at most MaxLeeway).
	Leeway time.Duration
	// Claims says where the identity is in the token (empty fields: DefaultClaimNames).
	Claims ClaimNames
	// RoleMap, when not nil, maps the identity provider's role values to custodia roles; only
	// the values it lists grant a role. Nil: role values are custodia role names.
	RoleMap map[string]model.Role
}

// MaxLeeway is the largest clock-skew leeway accepted: more would stretch every token's life.
const MaxLeeway = 5 * time.Minute

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg     VerifierConfig
	jwks    *jwksSource
	stop    context.CancelFunc
	claims  *claimReader
	parser  *jwt.Parser
	methods []string
	// validator is the parser's claim validation (same options), run again on cached tokens.
	validator *jwt.Validator
	cache     *tokenCache
	// now is the clock of the parser and of the cache (time.Now; tests move it).
	now func() time.Time
}

// NewVerifier prepares a verifier. With a JWKS URL or discovery it fetches the key set once
// (a failure leaves the verifier not Ready, retrying in the background) and keeps it fresh
// until ctx ends.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("token issuer and audience must be configured")
	}
	if len(cfg.PublicKeys) == 0 && cfg.JWKSURL == "" && !cfg.Discovery && len(cfg.HS256Secret) == 0 {
		return nil, errors.New("no token verification keys configured (public key file, JWKS URL, OIDC discovery or HS256 secret)")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("the token leeway must be between 0 and %s", MaxLeeway)
	}
	cr, err := newClaimReader(cfg.Claims, cfg.RoleMap)
	if err != nil {
		return nil, fmt.Errorf("token claims: %w", err)
	}
	v := &Verifier{cfg: cfg, claims: cr, methods: []string{"EdDSA", "RS256", "ES256"}, cache: newTokenCache(tokenCacheSize), now: time.Now}
	if len(cfg.HS256Secret) > 0 {
		if len(cfg.HS256Secret) < 32 {
			return nil, errors.New("the HS256 secret must be at least 32 bytes")
		}
		v.methods = append(v.methods, "HS256")
	}
	if cfg.JWKSURL != "" || cfg.Discovery {
		ctx, v.stop = context.WithCancel(ctx)
		if v.jwks, err = newJWKSSource(ctx, jwksOptions{URL: cfg.JWKSURL, Issuer: cfg.Issuer, Discover: cfg.JWKSURL == "",
			Client: cfg.HTTPClient, Interval: cfg.JWKSRefreshInterval, MinInterval: cfg.JWKSMinRefreshInterval, OnError: cfg.OnKeyError}); err != nil {
			v.stop()
			return nil, err
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	}
	v.parser, v.validator = jwt.NewParser(opts...), jwt.NewValidator(opts...)
	return v, nil
}

// Close stops refreshing the remote key set (if any). The verifier keeps verifying with the
// keys it holds.
func (v *Verifier) Close() {
	if v.stop != nil {
		v.stop()
	}
}

// Ready reports whether the verifier holds a key to verify tokens with: always with a key
// file or secret; with a remote key set, once at least one key was fetched.
func (v *Verifier) Ready() error {
	if v.jwks == nil || len(v.cfg.PublicKeys) > 0 || len(v.cfg.HS256Secret) > 0 {
		return nil
	}
	return v.jwks.ready()
}

// keyFor picks the verification key(s) for a token. The key's type must match the token's
// algorithm; golang-jwt additionally refuses a key of the wrong type for the method, so an
// RSA/EdDSA public key can never be used as an HMAC secret (algorithm confusion).
func (v *Verifier) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	kid, _ := t.Header["kid"].(string)
	if alg == "HS256" {
		if len(v.cfg.HS256Secret) == 0 {
			return nil, errors.New("HS256 is not enabled")
		}
		return v.cfg.HS256Secret, nil
	}
	if key, ok := v.cfg.PublicKeys[kid]; ok && keyMatchesAlg(key, alg) {
		return key, nil
	}
	if v.jwks != nil && kid != "" {
		return v.jwks.key(ctx, t)
	}
	return nil, fmt.Errorf("no verification key for kid %q", kid)
}

func keyMatchesAlg(key crypto.PublicKey, alg string) bool {
	switch key.(type) {
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256"
	}
	return false
}

// errUnauthenticated is what every token problem looks like to the caller: no detail that
// would help forge a token.
func errUnauthenticated(reason string) *apperr.Error {
	return apperr.New(apperr.Unauthenticated, "authentication required: %s", reason)
}

// Authenticate verifies the request's bearer token and picks the role: the token's only role,
// or the one named by the X-Role header when the token carries several. Every failure is
// UNAUTHENTICATED (HTTP 401). A token verified before is taken from the verifier's cache of
// verified tokens, which accepts exactly what a fresh verification would (see tokenCache).
func (v *Verifier) Authenticate(r *http.Request) (*Principal, error) {
	header := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(header, "Bearer ")
	raw = strings.TrimSpace(raw)
	if !ok || raw == "" {
		return nil, errUnauthenticated("send an Authorization: Bearer <JWT> header")
	}
	sum := sha256.Sum256([]byte(raw))
	t, ok := v.cache.lookup(r.Context(), v, sum)
	if !ok {
		var err error
		if t, err = v.verify(r.Context(), raw); err != nil {
			return nil, err
		}
		if len(t.roles) > 0 {
			v.cache.add(sum, t)
		}
	}
	role, err := chooseRole(t.roles, r.Header.Get("X-Role"))
	if err != nil {
		return nil, err
	}
	p := t.identity
	p.Role = role
	return &p, nil
}

// verify checks a raw token's signature and claims and reads the identity it carries.
func (v *Verifier) verify(ctx context.Context, raw string) (*verifiedToken, error) {
	claims := jwt.MapClaims{}
	var key any
	keyFor := func(t *jwt.Token) (any, error) {
		k, err := v.keyFor(ctx, t)
		key = k
		return k, err
	}
	tok, err := v.parser.ParseWithClaims(raw, claims, keyFor)
	if err != nil {
		return nil, errUnauthenticated("the token is invalid or expired").With("reason", tokenFailure(err))
	}
	p := v.claims.read(claims)
	if p.Subject == "" || p.Agency == "" {
		return nil, errUnauthenticated("the token lacks the subject or agency claim")
	}
	t := &verifiedToken{identity: *p, roles: v.claims.roleValues(claims), header: tok.Header, key: key}
	// The parser has validated these claims; errors are impossible here.
	t.claims.ExpiresAt, _ = claims.GetExpirationTime()
	t.claims.NotBefore, _ = claims.GetNotBefore()
	t.claims.IssuedAt, _ = claims.GetIssuedAt()
	t.claims.Issuer, _ = claims.GetIssuer()
	t.claims.Audience, _ = claims.GetAudience()
	return t, nil
}

// tokenFailure names the kind of token problem for the caller's developers, without detail.
func tokenFailure(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not yet valid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "missing required claim"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "signature or algorithm not accepted"
}

func chooseRole(valid []model.Role, requested string) (model.Role, error) {
	requested = strings.TrimSpace(requested)
	switch {
	case len(valid) == 0:
		return "", errUnauthenticated("the token carries no known role")
	case requested != "":
		if !slices.Contains(valid, model.Role(requested)) {
			return "", errUnauthenticated("the X-Role header names a role the token does not carry")
		}
		return model.Role(requested), nil
	case len(valid) > 1:
		return "", errUnauthenticated("the token carries several roles: choose one with the X-Role header")
	}
	return valid[0], nil
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// LoadPublicKeys reads PEM "PUBLIC KEY" blocks (PKIX: Ed25519, RSA, ECDSA P-256) from a file.
// The first key gets key ID "" (tokens without kid) as well as its position "0", "1", …, unless
// the file names key IDs in "kid: NAME" PEM headers.
func LoadPublicKeys(path string) (map[string]crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys := map[string]crypto.PublicKey{}
	for i := 0; ; i++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: key %d: %w", path, i, err)
		}
		if ec, ok := key.(*ecdsa.PublicKey); ok && ec.Curve.Params().Name != "P-256" {
			return nil, fmt.Errorf("%s: key %d: only P-256 ECDSA keys are accepted (ES256)", path, i)
		}
		kid := block.Headers["kid"]
		if kid == "" {
			kid = fmt.Sprint(i)
		}
		keys[kid] = key
		if i == 0 {
			keys[""] = key
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PEM public keys found", path)
	}
	return keys, nil
}
