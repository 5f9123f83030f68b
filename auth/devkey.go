package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"custodia/model"
)

// Development-mode token settings. Production mode never accepts these (DESIGN §10).
const (
	DevIssuer   = "custodia-dev"
	DevAudience = "custodia"
	DevKeyID    = "custodia-dev"
	devKeyFile  = "dev-signing-key.pem"
)

// DevKey is the development signing key, kept in the data directory so tokens survive restarts.
type DevKey struct {
	Private ed25519.PrivateKey
}

// LoadOrCreateDevKey reads the development key from dataDir, creating it on first use.
func LoadOrCreateDevKey(dataDir string) (*DevKey, error) {
	path := filepath.Join(dataDir, devKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		return &DevKey{Private: priv}, nil
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: not a PEM file", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return &DevKey{Private: priv}, nil
}

// VerifierConfig is the configuration that accepts tokens signed with this key.
func (k *DevKey) VerifierConfig() VerifierConfig {
	return VerifierConfig{
		PublicKeys: map[string]crypto.PublicKey{DevKeyID: k.Private.Public()},
		Issuer:     DevIssuer,
		Audience:   DevAudience,
		Claims:     DefaultClaimNames,
	}
}

// Identity is what a token says about an official.
type Identity struct {
	Subject  string
	Name     string
	Username string
	Email    string
	Agency   string
	Roles    []model.Role
	Approver bool
}

// Sign issues a development token for id, valid for ttl.
func (k *DevKey) Sign(id Identity, ttl time.Duration) (string, error) {
	now := time.Now()
	roles := make([]string, len(id.Roles))
	for i, r := range id.Roles {
		roles[i] = string(r)
	}
	claims := jwt.MapClaims{
		"iss": DevIssuer, "aud": DevAudience, "sub": id.Subject,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(),
		"name": id.Name, "preferred_username": id.Username, "email": id.Email,
		"agency": id.Agency, "roles": roles, "approver": id.Approver,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = DevKeyID
	return t.SignedString(k.Private)
}
