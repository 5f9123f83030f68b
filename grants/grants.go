// Package grants decides whether an authenticated official may use the register now, and runs
// the life of access grants (DESIGN §5). A valid JWT is not enough: the database must hold an
// ACTIVE, unexpired grant for the token's subject, role and agency, issued to the identity the
// token names. Every answer other than "yes" is an *apperr.Error with a GRANT_* code; a purpose
// the grant does not allow is FORBIDDEN. Every transition is written to the audit trail before
// it is applied, and an applied transition reaches every server instance within the grant
// cache's time to live.
package grants

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/model"
	"custodia/store"
)

// DefaultCacheTTL bounds how long an instance may keep using a grant that was revoked or
// suspended on another instance.
const DefaultCacheTTL = 2 * time.Second

// IdentityChanged is the status reason of a grant suspended because the token's identity
// claims no longer match it; only such a suspension can be lifted by reconfirmAccessGrant.
const IdentityChanged = "IDENTITY_CHANGED"

// RolePurposes are the purpose codes each role may hold (a probation officer cannot claim
// criminal proceedings).
var RolePurposes = map[model.Role][]model.PurposeCode{
	model.RoleCourt:         {model.PurposeCodeCriminalProceedings, model.PurposeCodeSentenceEnforcement},
	model.RoleProsecutor:    {model.PurposeCodeCriminalProceedings, model.PurposeCodePreTrialInvestigation, model.PurposeCodeSentenceEnforcement},
	model.RolePolice:        {model.PurposeCodePreTrialInvestigation, model.PurposeCodeCriminalProceedings},
	model.RoleReintegration: {model.PurposeCodeSupervision, model.PurposeCodeSentenceEnforcement},
	model.RolePrisonService: {model.PurposeCodeDetentionManagement, model.PurposeCodeSentenceEnforcement},
	model.RoleRegistrar:     {model.PurposeCodeRegisterMaintenance},
	model.RoleAuditor:       {model.PurposeCodeDataProtectionAudit},
}

// Service checks grants on every request and runs their lifecycle.
type Service struct {
	store *store.Store
	trail *audit.Trail
	now   func() time.Time
	ttl   time.Duration
	// OnLookup, if set, is told whether each grant check was served from the cache.
	OnLookup func(cacheHit bool)

	mu    sync.Mutex
	cache map[cacheKey]cachedGrants
}

type cacheKey struct {
	subject string
	role    model.Role
	agency  string
}

type cachedGrants struct {
	grants  []model.AccessGrant
	expires time.Time
}

// NewService makes the grant service. ttl 0 means DefaultCacheTTL; a negative ttl disables
// the cache.
func NewService(s *store.Store, trail *audit.Trail, now func() time.Time, ttl time.Duration) *Service {
	if now == nil {
		now = time.Now
	}
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	return &Service{store: s, trail: trail, now: now, ttl: ttl, cache: map[cacheKey]cachedGrants{}}
}

func (s *Service) today() model.Date { return model.Today(s.now()) }

// grantsFor reads a principal's grants through the cache.
func (s *Service) grantsFor(ctx context.Context, k cacheKey) ([]model.AccessGrant, error) {
	now := time.Now()
	if s.ttl > 0 {
		s.mu.Lock()
		c, ok := s.cache[k]
		s.mu.Unlock()
		if ok && now.Before(c.expires) {
			s.observe(true)
			return c.grants, nil
		}
	}
	s.observe(false)
	list, err := s.store.GrantsFor(ctx, k.subject, k.role, k.agency)
	if err != nil {
		return nil, err
	}
	if s.ttl > 0 {
		s.mu.Lock()
		s.cache[k] = cachedGrants{grants: list, expires: now.Add(s.ttl)}
		s.mu.Unlock()
	}
	return list, nil
}

func (s *Service) observe(hit bool) {
	if s.OnLookup != nil {
		s.OnLookup(hit)
	}
}

func (s *Service) forget(g *model.AccessGrant) {
	s.mu.Lock()
	delete(s.cache, cacheKey{g.Subject, g.Role, g.Agency})
	s.mu.Unlock()
}

// Effective is the grant's status as of today: an ACTIVE grant past its validity is EXPIRED.
func Effective(g model.AccessGrant, today model.Date) model.AccessGrant {
	if g.Status == model.GrantStatusActive && g.ValidUntil != nil && g.ValidUntil.Before(today) {
		g.Status = model.GrantStatusExpired
	}
	return g
}

// Check finds the grant the principal's request runs under and records it in p.Grant. A grant
// whose recorded identity no longer matches the token's claims is suspended here, in the
// database (and audited), before the caller is told GRANT_SUSPENDED.
func (s *Service) Check(ctx context.Context, p *auth.Principal) error {
	// A span under the request's, from the caller's tracer provider: the grant lookup's
	// database commands show as its children.
	ctx, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("custodia/grants").Start(ctx, "grant check")
	defer span.End()
	list, err := s.grantsFor(ctx, cacheKey{p.Subject, p.Role, p.Agency})
	if err != nil {
		return err
	}
	today := s.today()
	var suspended, revoked, expired bool
	for i := range list {
		g := Effective(list[i], today)
		switch g.Status {
		case model.GrantStatusActive:
			if g.ValidFrom != nil && g.ValidFrom.After(today) {
				continue
			}
			if !IdentityMatches(g.IssuedTo, p) {
				_, err := s.apply(ctx, p, g, model.GrantStatusSuspended, IdentityChanged, model.GrantEventKindSuspended, nil)
				if err != nil {
					return err
				}
				return apperr.New(apperr.GrantSuspended, "your access grant is suspended: the identity in your token no longer matches the grant; re-confirm it with reconfirmAccessGrant").With("grantId", g.ID)
			}
			p.Grant = &g
			return nil
		case model.GrantStatusSuspended:
			suspended = true
		case model.GrantStatusRevoked:
			revoked = true
		case model.GrantStatusExpired:
			expired = true
		}
	}
	switch {
	case suspended:
		return apperr.New(apperr.GrantSuspended, "your access grant for role %s is suspended", p.Role)
	case revoked:
		return apperr.New(apperr.GrantRevoked, "your access grant for role %s has been revoked", p.Role)
	case expired:
		return apperr.New(apperr.GrantExpired, "your access grant for role %s has expired; request a new one", p.Role)
	}
	return apperr.New(apperr.GrantRequired, "you have no active access grant for role %s at agency %s; request one with requestAccess", p.Role, p.Agency)
}

// IdentityMatches reports whether the token's identity claims equal those the grant recorded.
func IdentityMatches(id model.GrantIdentity, p *auth.Principal) bool {
	return deref(id.Name) == p.Name && deref(id.Username) == p.Username && deref(id.Email) == p.Email
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CheckPurpose is FORBIDDEN when the request's grant does not allow the stated reason, or the
// reason is not one the role may hold at all (RolePurposes) — whatever the stored grant lists,
// should it have been edited by hand.
func CheckPurpose(p *auth.Principal, reason model.PurposeCode) error {
	if p == nil || p.Grant == nil || !slices.Contains(p.Grant.AllowedPurposes, reason) || !slices.Contains(RolePurposes[p.Role], reason) {
		return apperr.New(apperr.Forbidden, "your access grant does not allow the purpose %s", reason)
	}
	return nil
}

// HidesBlocked reports whether blocked persons and items are absent for a role: for every
// role but the register office (DESIGN §7a). Scope applies it to a principal; an agency
// callback, which has a role but no grant, applies it to its role.
func HidesBlocked(role model.Role) bool { return role != model.RoleRegistrar }

// Scope is the row rule of the principal (DESIGN §4, §7a): REINTEGRATION sees only its
// grant's caseload; blocked persons and items exist only for the register office; a principal
// without a grant sees nobody.
func Scope(p *auth.Principal) store.Scope {
	if p == nil || p.Grant == nil {
		return store.Scope{Restricted: true, HideBlocked: true}
	}
	hide := HidesBlocked(p.Role)
	if p.Role == model.RoleReintegration {
		return store.Scope{Restricted: true, Caseload: p.Grant.Caseload, HideBlocked: hide}
	}
	return store.Scope{HideBlocked: hide}
}
