// Package grants decides whether an authenticated official may use the register now (DESIGN
// §5): a valid JWT is not enough, the database must hold an ACTIVE, unexpired grant for the
// token's subject, role and agency, issued to the identity the token names. Every answer other
// than "yes" is an *apperr.Error with a GRANT_* code, and a purpose the grant does not allow is
// FORBIDDEN.
package grants

import (
	"context"
	"slices"
	"time"

	"custodia/apperr"
	"custodia/auth"
	"custodia/model"
	"custodia/store"
)

// Checker looks up the caller's grant on every request.
type Checker struct {
	store *store.Store
	now   func() time.Time
}

// NewChecker makes a checker reading grants from s.
func NewChecker(s *store.Store, now func() time.Time) *Checker {
	if now == nil {
		now = time.Now
	}
	return &Checker{store: s, now: now}
}

// Check finds the grant the principal's request runs under and records it in p.Grant. A grant
// whose recorded identity no longer matches the token's claims is suspended here, in the
// database, before the caller is told GRANT_SUSPENDED.
func (c *Checker) Check(ctx context.Context, p *auth.Principal) error {
	list, err := c.store.GrantsFor(ctx, p.Subject, p.Role, p.Agency)
	if err != nil {
		return err
	}
	today := model.DateOf(c.now().UTC())
	var suspended, revoked, expired bool
	for i := range list {
		g := &list[i]
		switch g.Status {
		case model.GrantStatusActive:
			if g.ValidUntil != nil && g.ValidUntil.Before(today) {
				expired = true
				continue
			}
			if g.ValidFrom != nil && g.ValidFrom.After(today) {
				continue
			}
			if !IdentityMatches(g.IssuedTo, p) {
				if _, err := c.store.SetGrantStatus(ctx, g.ID, g.Version, model.GrantStatusSuspended, "IDENTITY_CHANGED"); err != nil {
					return err
				}
				return apperr.New(apperr.GrantSuspended, "your access grant is suspended: the identity in your token no longer matches the grant; re-confirm it with reconfirmAccessGrant").With("grantId", g.ID)
			}
			p.Grant = g
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

// CheckPurpose is FORBIDDEN when the request's grant does not allow the stated reason.
func CheckPurpose(p *auth.Principal, reason model.PurposeCode) error {
	if p == nil || p.Grant == nil || !slices.Contains(p.Grant.AllowedPurposes, reason) {
		return apperr.New(apperr.Forbidden, "your access grant does not allow the purpose %s", reason)
	}
	return nil
}

// Scope is the person row rule of the principal (DESIGN §4): REINTEGRATION sees only its
// grant's caseload; a principal without a grant sees nobody.
func Scope(p *auth.Principal) store.Scope {
	if p == nil || p.Grant == nil {
		return store.Scope{Restricted: true}
	}
	if p.Role == model.RoleReintegration {
		return store.Scope{Restricted: true, Caseload: p.Grant.Caseload}
	}
	return store.Scope{}
}
