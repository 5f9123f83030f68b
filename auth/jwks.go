package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults of the remote key set's refresh policy.
const (
	// DefaultJWKSRefreshInterval is how often the key set is fetched regardless of demand.
	DefaultJWKSRefreshInterval = 15 * time.Minute
	// DefaultJWKSMinRefreshInterval is the least time between two fetches caused by tokens
	// whose key ID is unknown (and between retries while no key is held).
	DefaultJWKSMinRefreshInterval = 5 * time.Second
	// jwksFetchTimeout bounds one discovery or key-set fetch.
	jwksFetchTimeout = 5 * time.Second
)

// jwksSource holds the identity provider's published keys (a JWKS, found directly or by OIDC
// discovery) and keeps them fresh: periodically, and when a token names an unknown key ID.
//
// Unknown key IDs are how a key rotation shows itself, but anyone can send them. So a fetch
// caused by one happens at most once per minInterval; tokens arriving meanwhile either join
// the fetch in flight or are refused at once, never queued. Every fetch replaces the whole set,
// so a genuinely rotated key is picked up within minInterval however many forged key IDs
// arrive, and forged key IDs cannot make the server call the identity provider more often.
// Keyfunc and jwkset parse and validate the keys; this type only decides when to fetch.
type jwksSource struct {
	client      *http.Client
	issuer      string // for discovery
	discover    bool
	interval    time.Duration
	minInterval time.Duration
	onError     func(error)
	store       *jwkset.MemoryJWKSet
	keyfunc     keyfunc.Keyfunc

	mu          sync.Mutex
	jwksURL     string        // configured, or found by discovery
	lastAttempt time.Time     // start of the last fetch
	inflight    chan struct{} // closed when the fetch in flight ends; nil when none
	lastErr     error         // of the last fetch
}

// jwksOptions configure a jwksSource.
type jwksOptions struct {
	URL         string // the JWKS; empty with discover
	Issuer      string // discovery reads Issuer + "/.well-known/openid-configuration"
	Discover    bool
	Client      *http.Client
	Interval    time.Duration
	MinInterval time.Duration
	OnError     func(error)
}

// newJWKSSource fetches the key set once (a failure is not fatal: the server starts, is not
// ready, and retries every MinInterval) and keeps it fresh until ctx ends.
func newJWKSSource(ctx context.Context, o jwksOptions) (*jwksSource, error) {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: jwksFetchTimeout}
	}
	if o.Interval <= 0 {
		o.Interval = DefaultJWKSRefreshInterval
	}
	if o.MinInterval <= 0 {
		o.MinInterval = DefaultJWKSMinRefreshInterval
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	if o.URL == "" && !o.Discover {
		return nil, errors.New("a JWKS URL or OIDC discovery is required")
	}
	if o.URL != "" {
		if err := checkHTTPURL(o.URL); err != nil {
			return nil, fmt.Errorf("JWKS URL: %w", err)
		}
	}
	store := jwkset.NewMemoryStorage()
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: store, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
	if err != nil {
		return nil, err
	}
	s := &jwksSource{client: o.Client, issuer: strings.TrimRight(o.Issuer, "/"), discover: o.Discover, jwksURL: o.URL,
		interval: o.Interval, minInterval: o.MinInterval, onError: o.OnError, store: store, keyfunc: kf}
	s.refresh(ctx, true)
	go s.keepFresh(ctx)
	return s, nil
}

// keepFresh refetches every interval, or every minInterval while no key is held.
func (s *jwksSource) keepFresh(ctx context.Context) {
	for {
		wait := s.interval
		if s.ready() != nil {
			wait = s.minInterval
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			s.refresh(ctx, true)
		}
	}
}

// key returns the verification key for a token with a key ID, fetching the set again (within
// the rate limit) when the ID is unknown.
func (s *jwksSource) key(ctx context.Context, t *jwt.Token) (any, error) {
	key, err := s.keyfunc.KeyfuncCtx(ctx)(t)
	if err == nil || !errors.Is(err, jwkset.ErrKeyNotFound) {
		return key, err
	}
	if !s.refresh(ctx, false) {
		return nil, err
	}
	return s.keyfunc.KeyfuncCtx(ctx)(t)
}

// refresh fetches the key set, unless one was fetched less than minInterval ago (force
// skips that check). While a fetch is in flight, callers wait for it instead of starting
// another. It reports whether a fetch ended (so looking again may help).
func (s *jwksSource) refresh(ctx context.Context, force bool) bool {
	s.mu.Lock()
	if ch := s.inflight; ch != nil {
		s.mu.Unlock()
		select {
		case <-ch:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !force && time.Since(s.lastAttempt) < s.minInterval {
		s.mu.Unlock()
		return false
	}
	ch := make(chan struct{})
	s.inflight, s.lastAttempt = ch, time.Now()
	s.mu.Unlock()

	// The fetch serves every waiting caller: it must not end with the request that started it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	err := s.fetch(fctx)
	cancel()
	if err != nil {
		s.onError(err)
	}
	s.mu.Lock()
	s.inflight, s.lastErr = nil, err
	s.mu.Unlock()
	close(ch)
	return true
}

// fetch resolves the JWKS URL by discovery (once) and replaces the held keys with the
// published set. On failure the keys held so far stay.
func (s *jwksSource) fetch(ctx context.Context) error {
	s.mu.Lock()
	u := s.jwksURL
	s.mu.Unlock()
	if u == "" {
		var err error
		if u, err = s.discoverJWKSURL(ctx); err != nil {
			return err
		}
		s.mu.Lock()
		s.jwksURL = u
		s.mu.Unlock()
	}
	// With no refresh interval, jwkset fetches once, validates every key and replaces the
	// store's contents (a key the provider withdrew is dropped).
	_, err := jwkset.NewStorageFromHTTP(u, jwkset.HTTPClientStorageOptions{Client: s.client, Ctx: ctx,
		HTTPTimeout: jwksFetchTimeout, Storage: s.store})
	if err != nil {
		return fmt.Errorf("fetch JWKS %s: %w", u, err)
	}
	return nil
}

// discoverJWKSURL reads the issuer's OpenID Connect discovery document. Its "issuer" must be
// exactly the configured issuer (OpenID Connect Discovery 1.0 §4.3).
func (s *jwksSource) discoverJWKSURL(ctx context.Context) (string, error) {
	u := s.issuer + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("OIDC discovery %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("OIDC discovery %s: HTTP %d", u, resp.StatusCode)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return "", fmt.Errorf("OIDC discovery %s: %w", u, err)
	}
	if strings.TrimRight(doc.Issuer, "/") != s.issuer {
		return "", fmt.Errorf("OIDC discovery %s: the document names issuer %q, not the configured %q", u, doc.Issuer, s.issuer)
	}
	if err := checkHTTPURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("OIDC discovery %s: jwks_uri: %w", u, err)
	}
	if strings.HasPrefix(s.issuer, "https://") && !strings.HasPrefix(doc.JWKSURI, "https://") {
		return "", fmt.Errorf("OIDC discovery %s: jwks_uri %q is not https", u, doc.JWKSURI)
	}
	return doc.JWKSURI, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// SecureURL reports whether keys fetched from u cannot be altered on the way: https, or
// http to a loopback address (a provider or proxy on the same host).
func SecureURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return false
	}
	if p.Scheme == "https" {
		return true
	}
	host := p.Hostname()
	ip := net.ParseIP(host)
	return p.Scheme == "http" && (host == "localhost" || (ip != nil && ip.IsLoopback()))
}

// ready says whether at least one verification key is held; if not, why.
func (s *jwksSource) ready() error {
	keys, err := s.store.KeyReadAll(context.Background())
	if err == nil && len(keys) > 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr != nil {
		return fmt.Errorf("no token verification key held: %w", s.lastErr)
	}
	return errors.New("no token verification key held: the identity provider publishes none")
}
