package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"custodia/apperr"
	"custodia/model"
)

// ClaimNames says which token claims carry the identity; agencies' identity providers differ.
type ClaimNames struct {
	Name     string
	Username string
	Email    string
	Agency   string
	Roles    string
	Approver string
}

// DefaultClaimNames are the OpenID Connect names plus "agency", "roles" and "approver".
var DefaultClaimNames = ClaimNames{
	Name: "name", Username: "preferred_username", Email: "email",
	Agency: "agency", Roles: "roles", Approver: "approver",
}

// VerifierConfig says which tokens to accept. At least one key source is required.
type VerifierConfig struct {
	// PublicKeys are verification keys (Ed25519, RSA or ECDSA P-256), by key ID; a key with the
	// ID "" verifies tokens without a "kid".
	PublicKeys map[string]crypto.PublicKey
	// JWKSURL, when set, is fetched for keys; unknown key IDs trigger a refresh at a bounded rate.
	JWKSURL string
	// HS256Secret enables HS256 with this shared secret. Off unless explicitly configured.
	HS256Secret []byte
	Issuer      string
	Audience    string
	// Leeway tolerated on exp/nbf/iat for clock skew (default 30 s).
	Leeway time.Duration
	Claims ClaimNames
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg     VerifierConfig
	jwks    keyfunc.Keyfunc
	parser  *jwt.Parser
	methods []string
}

// NewVerifier prepares a verifier. With a JWKS URL it fetches the key set once, in the
// background, and keeps it fresh.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("token issuer and audience must be configured")
	}
	if len(cfg.PublicKeys) == 0 && cfg.JWKSURL == "" && len(cfg.HS256Secret) == 0 {
		return nil, errors.New("no token verification keys configured (public key file, JWKS URL or HS256 secret)")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Claims == (ClaimNames{}) {
		cfg.Claims = DefaultClaimNames
	}
	v := &Verifier{cfg: cfg, methods: []string{"EdDSA", "RS256", "ES256"}}
	if len(cfg.HS256Secret) > 0 {
		if len(cfg.HS256Secret) < 32 {
			return nil, errors.New("the HS256 secret must be at least 32 bytes")
		}
		v.methods = append(v.methods, "HS256")
	}
	if cfg.JWKSURL != "" {
		k, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("JWKS %s: %w", cfg.JWKSURL, err)
		}
		v.jwks = k
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
	)
	return v, nil
}

// keyFor picks the verification key(s) for a token. The key's type must match the token's
// algorithm; golang-jwt additionally refuses a key of the wrong type for the method, so an
// RSA/EdDSA public key can never be used as an HMAC secret (algorithm confusion).
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
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
		return v.jwks.Keyfunc(t)
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
// UNAUTHENTICATED (HTTP 401).
func (v *Verifier) Authenticate(r *http.Request) (*Principal, error) {
	header := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, errUnauthenticated("send an Authorization: Bearer <JWT> header")
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(strings.TrimSpace(raw), claims, v.keyFor); err != nil {
		return nil, errUnauthenticated("the token is invalid or expired").With("reason", tokenFailure(err))
	}
	p := &Principal{}
	p.Subject, _ = claims["sub"].(string)
	p.Name, _ = claims[v.cfg.Claims.Name].(string)
	p.Username, _ = claims[v.cfg.Claims.Username].(string)
	p.Email, _ = claims[v.cfg.Claims.Email].(string)
	p.Agency, _ = claims[v.cfg.Claims.Agency].(string)
	p.Approver, _ = claims[v.cfg.Claims.Approver].(bool)
	if p.Subject == "" || p.Agency == "" {
		return nil, errUnauthenticated("the token lacks the sub or agency claim")
	}
	roles := stringList(claims[v.cfg.Claims.Roles])
	role, err := chooseRole(roles, r.Header.Get("X-Role"))
	if err != nil {
		return nil, err
	}
	p.Role = role
	return p, nil
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

func chooseRole(roles []string, requested string) (model.Role, error) {
	var valid []model.Role
	for _, r := range roles {
		if role := model.Role(r); role.IsValid() && !slices.Contains(valid, role) {
			valid = append(valid, role)
		}
	}
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
