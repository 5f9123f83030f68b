// Package resolvers is the thin GraphQL layer: it validates arguments with package register,
// loads through the request's DataLoaders and returns model values. It makes no authorization
// decisions of its own beyond what the domain requires of every role (the purpose of a person
// read, the caseload and expunged row rules through the loaders' scope); field access is
// decided by package policy before any resolver runs.
package resolvers

import (
	"time"

	"custodia/audit"
	"custodia/grants"
	"custodia/maintenance"
	"custodia/policy"
	"custodia/store"
)

// Resolver is the root resolver; one per server, shared by all requests.
type Resolver struct {
	Store       *store.Store
	Grants      *grants.Service
	Trail       *audit.Trail
	Maintenance *maintenance.Service
	// Policy is the access policy of the schema; a search matches a person's birth and
	// previous names only for roles it lets read them.
	Policy *policy.Policy
	// Now is the clock (UTC); detention status and rehabilitation are computed for its day.
	Now func() time.Time
}
