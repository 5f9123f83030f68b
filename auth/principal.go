// Package auth authenticates requests: it verifies the caller's JWT (DESIGN §9, §10), chooses
// the role the caller acts in, and carries the resulting Principal in the request context.
// It fits agencies' identity providers: keys from a PEM file, a JWKS or OpenID Connect
// discovery, kept fresh without letting forged key IDs lock out a rotation (jwks.go); the
// identity read by claim paths into nested claims, role values mapped by a table (claims.go);
// verified tokens remembered so that a repeated token is not verified again, without accepting
// anything a fresh verification would refuse (tokencache.go).
// It fails closed: any doubt about a token is UNAUTHENTICATED, and code that finds no
// Principal in the context must deny.
package auth

import (
	"context"

	"custodia/model"
)

// Principal is the authenticated caller of one request: identity claims from the verified
// token, the one role the request acts in, and (once package grants has checked it) the
// active access grant that allows the request.
type Principal struct {
	Subject  string
	Name     string
	Username string
	Email    string
	Agency   string
	Role     model.Role
	// Approver is true when the token says the official may approve access requests of their
	// agency (DESIGN §5).
	Approver bool
	// Grant is the active access grant; nil until package grants has confirmed one.
	Grant *model.AccessGrant
	// GrantErr says why there is no active grant (GRANT_REQUIRED, GRANT_SUSPENDED, …). Only
	// grant self-service operations may run while it is set.
	GrantErr error
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the request's principal, or nil when the request is not authenticated.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
