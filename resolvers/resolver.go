// Package resolvers is the thin GraphQL layer: it validates arguments with package register,
// loads through the request's DataLoaders and returns model values. It makes no authorization
// decisions of its own beyond what the domain requires of every role (the purpose of a person
// read, the caseload and expunged row rules through the loaders' scope); field access is
// decided by package policy before any resolver runs.
package resolvers

import (
	"context"
	"time"

	"custodia/audit"
	"custodia/grants"
	"custodia/maintenance"
	"custodia/policy"
	"custodia/store"
	"custodia/watch"
)

// Resolver is the root resolver; one per server, shared by all requests.
type Resolver struct {
	Store       *store.Store
	Grants      *grants.Service
	Trail       *audit.Trail
	Maintenance *maintenance.Service
	// Watches opens subscriptions (package watch).
	Watches *watch.Service
	// Refused records a subscription refused when it is opened (gqlgen sends such an answer
	// past the response interceptors, so the audit extension does not see it).
	Refused func(ctx context.Context, operation string, err error)
	// Connection gives the request ID and client address of a request, for the audit trail.
	Connection func(ctx context.Context) (requestID, client string)
	// Policy is the access policy of the schema; a search matches a person's birth and
	// previous names only for roles it lets read them.
	Policy *policy.Policy
	// Now is the clock (UTC); detention status and rehabilitation are computed for its day.
	Now func() time.Time
}
