// Package app wires custodia together: configuration from the environment, the database
// (embedded FerretDB or MONGODB_URI), the demo seed, token verification, grants, policy,
// the GraphQL handler and the HTTP endpoints. Tests build the same Server in-process.
package app

import (
	"custodia/watch"

	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"custodia/audit"
	"custodia/auth"
	"custodia/model"
	"custodia/seed"
)

// Mode is development (embedded default, demo data, local signing key, GraphiQL) or production.
type Mode string

// The two modes of DESIGN §10.
const (
	Development Mode = "development"
	Production  Mode = "production"
)

// Config is every setting; FromEnv documents each variable.
type Config struct {
	Mode             Mode
	ListenAddr       string
	DataDir          string
	MongoURI         string
	MongoDatabase    string
	DemoPersons      int
	JWTIssuer        string
	JWTAudience      string
	JWTPublicKeyFile string
	JWTJWKSURL       string
	JWTHS256Secret   string
	// JWTDiscovery finds the JWKS URL in JWT_ISSUER's OpenID Connect discovery document.
	JWTDiscovery bool
	// JWTLeeway is the clock skew tolerated on exp/nbf/iat (0: 30 s).
	JWTLeeway time.Duration
	// JWKSRefreshInterval and JWKSMinRefreshInterval: see auth.VerifierConfig (0: defaults).
	JWKSRefreshInterval, JWKSMinRefreshInterval time.Duration
	// Claims are the claim paths of the identity; RoleMap maps the identity provider's role
	// values to custodia roles (nil: values are custodia role names).
	Claims    auth.ClaimNames
	RoleMap   map[string]model.Role
	DBTimeout time.Duration
	// BatchLoads overrides how the store queries the database ("in" or "point-lookups": batched
	// loads, and whether filters on growing collections are exactly {_id}; default: detected
	// from the server, see store.Store.BatchLoads). For measurements and tests.
	BatchLoads string
	// OnDBCommandDocument, if set, gets every command document the register's store sends,
	// as BSON (store.Config.OnCommandDocument): for tests, never for logs.
	OnDBCommandDocument func(commandName string, command []byte)
	// AuditMongoURI / AuditDatabase put the audit trail in a database of its own (default: the
	// register's).
	AuditMongoURI  string
	AuditDatabase  string
	AuditRetention time.Duration
	// Watch tunes subscriptions: polling of the event log, retention, per-official bounds.
	Watch watch.Config
	// AuditSigningKeyFile holds the Ed25519 key (note form) that signs the audit log's
	// checkpoints; every instance of one deployment uses the same key. Required in production;
	// in development it defaults to DATA_DIR/audit-signing.key, created when missing.
	AuditSigningKeyFile string
	// AuditCheckpointEvery / AuditCheckpointInterval: a checkpoint is signed once this many
	// entries were appended, and at least this often while the log grows (0 = defaults).
	AuditCheckpointEvery    int
	AuditCheckpointInterval time.Duration
	// AuditPersonIndexInterval is how often the per-person index of the audit log is brought up
	// to date in the background (AUDIT_PERSON_INDEX_INTERVAL, default 1s; see store.IndexAuditPersons).
	AuditPersonIndexInterval time.Duration
	// AuditWitnessDir / AuditWitnessURL receive every signed checkpoint (a directory outside
	// the database, an HTTP endpoint that is POSTed the note).
	AuditWitnessDir string
	AuditWitnessURL string
	// GrantCacheTTL bounds how long a revocation on another instance may go unnoticed.
	GrantCacheTTL time.Duration
	// PrisonCacheTTL bounds how long an instance shows a prison as it was before a change
	// made elsewhere (another instance's upsertPrison, a database administrator's edit);
	// 0: store.DefaultPrisonCacheTTL.
	PrisonCacheTTL time.Duration
	// Limits bound what one request may cost; zero fields take DefaultLimits.
	Limits Limits
	// Introspection and GraphiQL default to on in development and off in production.
	Introspection, GraphiQL bool
	// TrustProxyHeaders takes the client address for the audit trail from X-Forwarded-For
	// (only behind a proxy that sets it).
	TrustProxyHeaders bool
	// TracerProvider, if set, receives the spans (tests); otherwise OTLP when
	// OTEL_EXPORTER_OTLP_ENDPOINT is set, else none.
	TracerProvider trace.TracerProvider
	// TimeZone is the register's time zone (REGISTER_TIME_ZONE, default Europe/Prague): its
	// calendar day is "today" wherever a date is compared.
	TimeZone *time.Location
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// FromEnv reads the configuration from environment variables.
func FromEnv() (Config, error) {
	c := Config{
		Mode:             Mode(env("CUSTODIA_MODE", string(Development))),
		ListenAddr:       env("LISTEN_ADDR", ":8080"),
		DataDir:          env("DATA_DIR", "./data"),
		MongoURI:         os.Getenv("MONGODB_URI"),
		BatchLoads:       os.Getenv("BATCH_LOADS"),
		MongoDatabase:    env("MONGODB_DATABASE", "custodia"),
		JWTIssuer:        os.Getenv("JWT_ISSUER"),
		JWTAudience:      os.Getenv("JWT_AUDIENCE"),
		JWTPublicKeyFile: os.Getenv("JWT_PUBLIC_KEY_FILE"),
		JWTJWKSURL:       os.Getenv("JWT_JWKS_URL"),
		JWTHS256Secret:   os.Getenv("JWT_HS256_SECRET"),
		Claims: auth.ClaimNames{
			Subject:  env("JWT_CLAIM_SUBJECT", auth.DefaultClaimNames.Subject),
			Name:     env("JWT_CLAIM_NAME", auth.DefaultClaimNames.Name),
			Username: env("JWT_CLAIM_USERNAME", auth.DefaultClaimNames.Username),
			Email:    env("JWT_CLAIM_EMAIL", auth.DefaultClaimNames.Email),
			Agency:   env("JWT_CLAIM_AGENCY", auth.DefaultClaimNames.Agency),
			Roles:    env("JWT_CLAIM_ROLES", auth.DefaultClaimNames.Roles),
			Approver: env("JWT_CLAIM_APPROVER", auth.DefaultClaimNames.Approver),
		},
	}
	var err error
	if c.RoleMap, err = auth.ParseRoleMap(os.Getenv("JWT_ROLE_MAP")); err != nil {
		return c, fmt.Errorf("JWT_ROLE_MAP: %w", err)
	}
	if c.JWTDiscovery, err = strconv.ParseBool(env("JWT_OIDC_DISCOVERY", "false")); err != nil {
		return c, fmt.Errorf("JWT_OIDC_DISCOVERY must be true or false")
	}
	for _, d := range []struct {
		name, def string
		dst       *time.Duration
		max       time.Duration
	}{
		{"JWT_LEEWAY", "30s", &c.JWTLeeway, auth.MaxLeeway},
		{"JWT_JWKS_REFRESH_INTERVAL", auth.DefaultJWKSRefreshInterval.String(), &c.JWKSRefreshInterval, 24 * time.Hour},
		{"JWT_JWKS_MIN_REFRESH_INTERVAL", auth.DefaultJWKSMinRefreshInterval.String(), &c.JWKSMinRefreshInterval, 5 * time.Minute},
	} {
		if *d.dst, err = time.ParseDuration(env(d.name, d.def)); err != nil || *d.dst < 0 || *d.dst > d.max {
			return c, fmt.Errorf("%s must be a duration between 0s and %s", d.name, d.max)
		}
	}
	if c.DemoPersons, err = strconv.Atoi(env("DEMO_PERSONS", strconv.Itoa(seed.DefaultPersons))); err != nil || c.DemoPersons < 5 {
		return c, fmt.Errorf("DEMO_PERSONS must be a whole number of at least 5")
	}
	if c.TimeZone, err = time.LoadLocation(env("REGISTER_TIME_ZONE", "Europe/Prague")); err != nil {
		return c, fmt.Errorf("REGISTER_TIME_ZONE: %w", err)
	}
	if c.DBTimeout, err = time.ParseDuration(env("DB_TIMEOUT", "3s")); err != nil {
		return c, fmt.Errorf("DB_TIMEOUT: %w", err)
	}
	if c.GrantCacheTTL, err = time.ParseDuration(env("GRANT_CACHE_TTL", "2s")); err != nil || c.GrantCacheTTL <= 0 || c.GrantCacheTTL > time.Minute {
		return c, fmt.Errorf("GRANT_CACHE_TTL must be a duration between 1ms and 1m")
	}
	if c.PrisonCacheTTL, err = time.ParseDuration(env("PRISON_CACHE_TTL", "2s")); err != nil || c.PrisonCacheTTL <= 0 || c.PrisonCacheTTL > time.Hour {
		return c, fmt.Errorf("PRISON_CACHE_TTL must be a duration between 1ms and 1h")
	}
	retentionDays, err := strconv.Atoi(env("AUDIT_RETENTION_DAYS", "1095"))
	if err != nil || retentionDays < 1 {
		return c, fmt.Errorf("AUDIT_RETENTION_DAYS must be a whole number of days, at least 1")
	}
	c.AuditRetention = time.Duration(retentionDays) * 24 * time.Hour
	c.AuditMongoURI = os.Getenv("AUDIT_MONGODB_URI")
	c.AuditSigningKeyFile = os.Getenv("AUDIT_SIGNING_KEY_FILE")
	c.AuditWitnessDir = os.Getenv("AUDIT_WITNESS_DIR")
	c.AuditWitnessURL = os.Getenv("AUDIT_WITNESS_URL")
	if c.AuditCheckpointEvery, err = envInt("AUDIT_CHECKPOINT_EVERY", 1000); err != nil || c.AuditCheckpointEvery < 1 {
		return c, fmt.Errorf("AUDIT_CHECKPOINT_EVERY must be a whole number of entries, at least 1")
	}
	if c.AuditCheckpointInterval, err = time.ParseDuration(env("AUDIT_CHECKPOINT_INTERVAL", "10s")); err != nil || c.AuditCheckpointInterval < time.Second {
		return c, fmt.Errorf("AUDIT_CHECKPOINT_INTERVAL must be a duration of at least 1s, such as 10s")
	}
	if c.AuditPersonIndexInterval, err = time.ParseDuration(env("AUDIT_PERSON_INDEX_INTERVAL", "1s")); err != nil || c.AuditPersonIndexInterval < 100*time.Millisecond {
		return c, fmt.Errorf("AUDIT_PERSON_INDEX_INTERVAL must be a duration of at least 100ms, such as 1s")
	}
	l := DefaultLimits
	for _, v := range []struct {
		name string
		dst  *int
	}{{"COMPLEXITY_LIMIT", &l.Complexity}, {"DEPTH_LIMIT", &l.Depth}, {"ALIAS_LIMIT", &l.Aliases}, {"ROOT_FIELD_LIMIT", &l.RootFields},
		{"TOKEN_LIMIT", &l.Tokens}, {"SELECTION_WIDTH_LIMIT", &l.Width}, {"OPERATION_LIMIT", &l.Operations}, {"FRAGMENT_SPREAD_LIMIT", &l.Spreads}, {"OVERLAP_LIMIT", &l.Overlaps}, {"VARIABLE_LIMIT", &l.Variables}, {"RATE_LIMIT_BURST", &l.RateBurst}} {
		if *v.dst, err = envInt(v.name, *v.dst); err != nil {
			return c, err
		}
	}
	body, err := envInt("MAX_BODY_BYTES", int(l.BodyBytes))
	if err != nil {
		return c, err
	}
	l.BodyBytes = int64(body)
	if l.Timeout, err = time.ParseDuration(env("REQUEST_TIMEOUT", l.Timeout.String())); err != nil || l.Timeout <= 0 {
		return c, fmt.Errorf("REQUEST_TIMEOUT must be a positive duration such as 15s")
	}
	if l.RatePerSec, err = strconv.ParseFloat(env("RATE_LIMIT_PER_SECOND", "20"), 64); err != nil || l.RatePerSec < 0 {
		return c, fmt.Errorf("RATE_LIMIT_PER_SECOND must be a number (0 turns the rate limit off)")
	}
	if origins := os.Getenv("CORS_ALLOWED_ORIGINS"); origins != "" {
		l.CORSOrigins = strings.Split(origins, ",")
	} else if c.Mode == Development {
		l.CORSOrigins = []string{"*"}
	}
	l.AllowListFile = os.Getenv("PERSISTED_OPERATIONS_FILE")
	c.Limits = l
	dev := c.Mode == Development
	if c.Introspection, err = strconv.ParseBool(env("ENABLE_INTROSPECTION", strconv.FormatBool(dev))); err != nil {
		return c, fmt.Errorf("ENABLE_INTROSPECTION must be true or false")
	}
	if c.GraphiQL, err = strconv.ParseBool(env("ENABLE_GRAPHIQL", strconv.FormatBool(dev))); err != nil {
		return c, fmt.Errorf("ENABLE_GRAPHIQL must be true or false")
	}
	if c.TrustProxyHeaders, err = strconv.ParseBool(env("TRUST_PROXY_HEADERS", "false")); err != nil {
		return c, fmt.Errorf("TRUST_PROXY_HEADERS must be true or false")
	}
	c.AuditDatabase = env("AUDIT_MONGODB_DATABASE", "")
	return c, c.Validate()
}

// Validate refuses configurations that would run unsafely. Production needs an external
// database and real verification keys, issuer and audience; the development key is never
// trusted there.
func (c Config) Validate() error {
	switch c.Mode {
	case Development:
		return nil
	case Production:
		var missing []string
		if c.MongoURI == "" {
			missing = append(missing, "MONGODB_URI")
		}
		if c.JWTPublicKeyFile == "" && c.JWTJWKSURL == "" && !c.JWTDiscovery && c.JWTHS256Secret == "" {
			missing = append(missing, "JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL or JWT_OIDC_DISCOVERY")
		}
		if c.JWTIssuer == "" {
			missing = append(missing, "JWT_ISSUER")
		}
		if c.JWTAudience == "" {
			missing = append(missing, "JWT_AUDIENCE")
		}
		if c.AuditSigningKeyFile == "" {
			missing = append(missing, "AUDIT_SIGNING_KEY_FILE")
		}
		if len(missing) > 0 {
			return fmt.Errorf("production mode needs %s", strings.Join(missing, ", "))
		}
		if c.JWTJWKSURL != "" && !auth.SecureURL(c.JWTJWKSURL) {
			return fmt.Errorf("production mode needs an https JWT_JWKS_URL (plain http only to a loopback address)")
		}
		if c.JWTDiscovery && c.JWTJWKSURL == "" && !auth.SecureURL(c.JWTIssuer) {
			return fmt.Errorf("production mode needs an https JWT_ISSUER for OIDC discovery (plain http only to a loopback address)")
		}
		if c.AuditRetention != 0 && c.AuditRetention < audit.DefaultRetention {
			return fmt.Errorf("production mode refuses an audit retention under three years (AUDIT_RETENTION_DAYS must be at least 1095)")
		}
		if c.JWTIssuer == auth.DevIssuer {
			return fmt.Errorf("production mode refuses the development token issuer %q", auth.DevIssuer)
		}
		return nil
	}
	return fmt.Errorf("CUSTODIA_MODE must be %q or %q, got %q", Development, Production, c.Mode)
}

func env(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
