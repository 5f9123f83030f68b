package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/trace"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/graph"
	"custodia/metrics"
	"custodia/model"
	"custodia/policy"
	"custodia/seed"
	"custodia/store"
	"custodia/watch"
)

// Server is one custodia instance: its database connection, verifier, policy and handler.
type Server struct {
	cfg       Config
	log       *slog.Logger
	uri       string
	limits    Limits
	allowList *allowList

	tracerProvider  trace.TracerProvider
	tracer          trace.Tracer
	shutdownTracing func(context.Context) error
	Store           *store.Store
	embedded        *store.Embedded
	Metrics         *metrics.Metrics
	Policy          *policy.Policy
	// DevKey signs development tokens; nil in production.
	DevKey   *auth.DevKey
	verifier *auth.Verifier
	Grants   *grants.Service
	Trail    *audit.Trail
	// AuditStore holds the audit trail: the register's store unless configured apart.
	AuditStore *store.Store
	handler    http.Handler
	// rates is the per-subject rate limiter (overRate), made on first use.
	rates     *rateLimiter
	ratesOnce sync.Once
	// Watches serves subscriptions (package watch).
	Watches   *watch.Service
	callbacks *watch.Callbacks
	// background is the store connection of the watches' background work.
	background *store.Store
	// audit appends the entries of operations and refused requests, remembering failures for
	// /readyz.
	audit *auditAppender
	// presenter turns every error a caller sees into a GraphQL error with a stable code.
	presenter graphql.ErrorPresenterFunc
}

// New starts everything the server needs: in development mode without MONGODB_URI the embedded
// FerretDB under DATA_DIR, the indexes, the demo seed when the database is empty, the local
// signing key. It fails rather than start half-configured.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log = withTraceIDs(log)
	if cfg.TimeZone != nil {
		model.SetRegisterZone(cfg.TimeZone)
	}
	s := &Server{cfg: cfg, log: log, Metrics: metrics.New(), limits: withDefaults(cfg.Limits)}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if err := s.setupTracing(ctx); err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	spans := &dbSpans{tracer: s.tracer}
	uri := cfg.MongoURI
	s.uri = uri
	if uri == "" {
		e, err := store.StartEmbedded(filepath.Join(cfg.DataDir, "db"), "127.0.0.1:0", nil)
		if err != nil {
			return nil, err
		}
		s.embedded, uri, s.uri = e, e.URI(), e.URI()
		log.Info("embedded FerretDB started", "data_dir", filepath.Join(cfg.DataDir, "db"))
	}
	dbConfig := store.Config{URI: uri, Database: cfg.MongoDatabase, OnCommand: s.Metrics.OnCommand, BatchLoads: cfg.BatchLoads,
		OnCommandDocument: cfg.OnDBCommandDocument, Timeout: cfg.DBTimeout, PrisonCacheTTL: cfg.PrisonCacheTTL}
	if s.tracesExported() {
		dbConfig.OnCommandStart, dbConfig.OnCommandEnd = spans.started, spans.finished
	}
	st, err := store.Open(ctx, dbConfig)
	if err != nil {
		return nil, err
	}
	s.Store = st
	log.Info("database connected", "database", cfg.MongoDatabase, "transactions", st.SupportsTransactions(), "batch_loads", st.BatchLoads())
	if cfg.Mode == Development {
		// Seeding first: an instance seeding an empty database clears and indexes it, and one
		// starting beside it must not create indexes meanwhile (store.SeedOnce).
		seeded, err := seed.IfEmpty(ctx, st, seed.Options{Persons: cfg.DemoPersons, Log: log})
		if err != nil {
			return nil, err
		}
		// No document counts here: on the embedded engine counting reads every document, which
		// at 100,000 persons costs more than the seed.
		if seeded {
			log.Info("demo register seeded", "persons", cfg.DemoPersons, "reference_day", seed.ReferenceDay.String())
		} else {
			log.Info("existing register kept, not seeded again")
		}
		if s.DevKey, err = auth.LoadOrCreateDevKey(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("development signing key: %w", err)
		}
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		return nil, fmt.Errorf("create indexes: %w", err)
	}
	if s.verifier, err = s.newVerifier(ctx); err != nil {
		return nil, err
	}
	if s.Policy, err = policy.New(graph.NewExecutableSchema(graph.Config{}).Schema()); err != nil {
		return nil, fmt.Errorf("access policy in schema.graphqls: %w", err)
	}
	s.AuditStore = st
	if cfg.AuditMongoURI != "" || cfg.AuditDatabase != "" {
		uri, db := cfg.AuditMongoURI, cfg.AuditDatabase
		if uri == "" {
			uri = s.mongoURI(cfg)
		}
		if db == "" {
			db = cfg.MongoDatabase
		}
		if s.AuditStore, err = store.Open(ctx, store.Config{URI: uri, Database: db, OnCommand: s.Metrics.OnCommand, Timeout: cfg.DBTimeout}); err != nil {
			return nil, fmt.Errorf("audit database: %w", err)
		}
	}
	if err := s.AuditStore.EnsureIndexes(ctx); err != nil {
		return nil, fmt.Errorf("audit indexes: %w", err)
	}
	keyFile := cfg.AuditSigningKeyFile
	if keyFile == "" && cfg.Mode == Development {
		keyFile = filepath.Join(cfg.DataDir, "audit-signing.key")
	}
	var auditKey *audit.Key
	if cfg.Mode == Development {
		auditKey, err = audit.LoadOrCreateKey(keyFile)
	} else {
		auditKey, err = audit.LoadKey(keyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	s.Trail = audit.NewTrail(s.AuditStore, cfg.Now, audit.Options{Key: auditKey, CheckpointEvery: cfg.AuditCheckpointEvery,
		CheckpointInterval: cfg.AuditCheckpointInterval, PersonIndexInterval: cfg.AuditPersonIndexInterval, WitnessDir: cfg.AuditWitnessDir, WitnessURL: cfg.AuditWitnessURL, Log: log})
	log.Info("audit log signing key", "verifier_key", auditKey.VerifierKey)
	s.audit = &auditAppender{trail: s.Trail}
	s.presenter = apperr.Presenter(log, requestIDFrom)
	if cfg.AuditRetention == 0 {
		cfg.AuditRetention = audit.DefaultRetention
		s.cfg.AuditRetention = cfg.AuditRetention
	}
	if n, err := s.Trail.Purge(ctx, cfg.AuditRetention); err != nil {
		log.Warn("audit retention purge failed", "error", err.Error())
	} else if n > 0 {
		log.Info("audit entries past retention purged", "entries", n)
	}
	if cfg.Limits.AllowListFile != "" {
		list, err := loadAllowList(cfg.Limits.AllowListFile)
		if err != nil {
			return nil, err
		}
		s.allowList = &list
		log.Info("persisted-operation allow-list active", "operations", len(list.operations))
	}
	s.Grants = grants.NewService(st, s.Trail, cfg.Now, cfg.GrantCacheTTL)
	s.Grants.OnLookup = s.Metrics.GrantLookup
	// Background event work (polling the log, agency callbacks) has a connection of its own,
	// apart from the requests' (and their per-request command counts); it queries the database
	// the same way (BatchLoads) and shows tests what it sends (OnDBCommandDocument).
	if s.background, err = store.Open(ctx, store.Config{URI: s.uri, Database: cfg.MongoDatabase, Timeout: cfg.DBTimeout,
		BatchLoads: cfg.BatchLoads, OnCommandDocument: cfg.OnDBCommandDocument}); err != nil {
		return nil, err
	}
	s.Watches = watch.NewService(watch.NewHub(s.background, cfg.Watch), st, s.Grants, s.Policy, s.Trail)
	s.callbacks = s.Watches.StartCallbacks(cfg.Watch.CallbackClient)
	s.handler = s.routes()
	ok = true
	return s, nil
}

func (s *Server) newVerifier(ctx context.Context) (*auth.Verifier, error) {
	c := s.cfg
	if c.Mode == Development && c.JWTPublicKeyFile == "" && c.JWTJWKSURL == "" && !c.JWTDiscovery && c.JWTHS256Secret == "" {
		return auth.NewVerifier(ctx, s.DevKey.VerifierConfig())
	}
	vc := auth.VerifierConfig{Issuer: c.JWTIssuer, Audience: c.JWTAudience, JWKSURL: c.JWTJWKSURL, Discovery: c.JWTDiscovery,
		JWKSRefreshInterval: c.JWKSRefreshInterval, JWKSMinRefreshInterval: c.JWKSMinRefreshInterval, Leeway: c.JWTLeeway,
		Claims: c.Claims, RoleMap: c.RoleMap,
		OnKeyError: func(err error) { s.log.Warn("token verification keys not refreshed", "error", err.Error()) }}
	if c.JWTHS256Secret != "" {
		vc.HS256Secret = []byte(c.JWTHS256Secret)
	}
	if c.JWTPublicKeyFile != "" {
		keys, err := auth.LoadPublicKeys(c.JWTPublicKeyFile)
		if err != nil {
			return nil, err
		}
		vc.PublicKeys = keys
	}
	v, err := auth.NewVerifier(ctx, vc)
	if err != nil {
		return nil, err
	}
	keySource := c.JWTJWKSURL
	if keySource == "" && c.JWTDiscovery {
		keySource = "OIDC discovery from " + c.JWTIssuer
	}
	s.log.Info("token verification", "issuer", c.JWTIssuer, "audience", c.JWTAudience, "jwks", keySource,
		"key_file", c.JWTPublicKeyFile, "role_claims", vc.Claims.Roles, "role_map_values", len(c.RoleMap), "keys_held", v.Ready() == nil)
	return v, nil
}

// Handler is the server's HTTP handler (all endpoints).
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) mongoURI(Config) string { return s.uri }

// Close releases the database and stops the embedded FerretDB.
func (s *Server) Close() {
	if s.Watches != nil {
		s.Watches.Hub.Close(nil)
	}
	if s.callbacks != nil {
		s.callbacks.Close()
	}
	if s.background != nil {
		_ = s.background.Close(context.Background())
	}
	if s.shutdownTracing != nil {
		_ = s.shutdownTracing(context.Background())
	}
	if s.verifier != nil {
		s.verifier.Close()
	}
	if s.Trail != nil {
		s.Trail.Close()
	}
	if s.AuditStore != nil && s.AuditStore != s.Store {
		_ = s.AuditStore.Close(context.Background())
	}
	if s.Store != nil {
		_ = s.Store.Close(context.Background())
	}
	if s.embedded != nil {
		s.embedded.Stop()
	}
}

// Run serves HTTP on the configured address until ctx ends, then shuts down gracefully,
// letting in-flight requests finish (up to 15 s).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	url := "http://" + displayAddr(ln.Addr())
	s.log.Info("custodia listening", "mode", s.cfg.Mode, "graphql", url+"/query", "health", url+"/healthz", "metrics", url+"/metrics")
	if s.cfg.Mode == Development {
		s.log.Info("GraphiQL at "+url+"/ — sign in as a demo official with the picker at its top, or get a token with: go run . token -role POLICE (roles: COURT PROSECUTOR POLICE REINTEGRATION PRISON_SERVICE REGISTRAR AUDITOR) and set the header Authorization: Bearer <token>", "graphiql", url+"/")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: ending subscriptions, finishing in-flight requests")
	s.Watches.Hub.Close(nil) // every subscription ends with SERVICE_UNAVAILABLE, reason SHUTDOWN
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if ok && (tcp.IP == nil || tcp.IP.IsUnspecified()) {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return a.String()
}

// withDefaults fills unset limits from DefaultLimits.
func withDefaults(l Limits) Limits {
	d := DefaultLimits
	if l.Complexity == 0 {
		l.Complexity = d.Complexity
	}
	if l.Depth == 0 {
		l.Depth = d.Depth
	}
	if l.Aliases == 0 {
		l.Aliases = d.Aliases
	}
	if l.RootFields == 0 {
		l.RootFields = d.RootFields
	}
	if l.Tokens == 0 {
		l.Tokens = d.Tokens
	}
	if l.Width == 0 {
		l.Width = d.Width
	}
	if l.Variables == 0 {
		l.Variables = d.Variables
	}
	if l.Overlaps == 0 {
		l.Overlaps = d.Overlaps
	}
	if l.Spreads == 0 {
		l.Spreads = d.Spreads
	}
	if l.Operations == 0 {
		l.Operations = d.Operations
	}
	if l.BodyBytes == 0 {
		l.BodyBytes = d.BodyBytes
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	return l
}
