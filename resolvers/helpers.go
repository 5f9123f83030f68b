package resolvers

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/loaders"
	"custodia/model"
	"custodia/register"
	"custodia/watch"
)

// checkPurpose validates a person read's purpose and that the caller's grant allows it.
func checkPurpose(ctx context.Context, purpose *model.PurposeInput) error {
	if err := register.ValidatePurpose(purpose); err != nil {
		return err
	}
	audit.RecordFrom(ctx).SetPurpose(rootField(ctx), *purpose)
	return grants.CheckPurpose(auth.FromContext(ctx), purpose.Reason)
}

// loadPerson loads one person within the caller's scope; absent and out-of-scope persons are
// the same NOT_FOUND.
func loadPerson(ctx context.Context, id string) (*model.Person, error) {
	p, err := loaders.For(ctx).Person.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, apperr.NotFoundf("no person with ID %q", id)
	}
	audit.RecordFrom(ctx).AddPersons(rootField(ctx), p.ID)
	return p, nil
}

// principal is the caller; resolvers run only for authenticated requests.
func principal(ctx context.Context) (*auth.Principal, error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, apperr.New(apperr.Unauthenticated, "not authenticated")
	}
	return p, nil
}

// rootPerson loads the person a root query asks for and prefetches what the query selects
// below it.
func rootPerson(ctx context.Context, id string) (*model.Person, error) {
	l := loaders.For(ctx)
	p, err := l.PersonNow(ctx, id)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, apperr.NotFoundf("no person with ID %q", id)
	}
	audit.RecordFrom(ctx).AddPersons(rootField(ctx), p.ID)
	return p, l.PrefetchPersons(ctx, []*model.Person{p}, loaders.SelectionBelow(ctx))
}

func (r *Resolver) today() model.Date { return model.Today(r.Now()) }

// loadPrison loads one prison; an unknown ID is NOT_FOUND.
func loadPrison(ctx context.Context, id string) (*model.Prison, error) {
	p, err := loaders.For(ctx).Prison.Load(ctx, id)
	if err == nil && p == nil {
		err = apperr.NotFoundf("no prison with ID %q", id)
	}
	return p, err
}

// referencedPrison loads the prison a detention names. A prison that does not exist there is
// not the caller's mistake but a dangling reference in the register (a document edited by
// hand): INTERNAL, logged with what names it (a period's ID) — never NOT_FOUND, which would
// read as if the person asked for did not exist.
func referencedPrison(ctx context.Context, id, namedBy string) (*model.Prison, error) {
	p, err := loaders.For(ctx).Prison.Load(ctx, id)
	if err == nil && p == nil {
		err = fmt.Errorf("%s names a prison that does not exist", namedBy)
	}
	return p, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// writer checks a register write's purpose and notes the person it concerns for the audit.
func writer(ctx context.Context, purpose *model.PurposeInput, personID string) (*auth.Principal, error) {
	if err := checkPurpose(ctx, purpose); err != nil {
		return nil, err
	}
	if personID != "" {
		audit.RecordFrom(ctx).AddPersons(rootField(ctx), personID)
	}
	return principal(ctx)
}

// watch opens a subscription to the persons' events for the caller, with the purpose the
// caller's grant must allow (checked again at every delivery by package watch).
func (r *Resolver) watch(ctx context.Context, op string, persons []string, purpose model.PurposeInput, after *string) (ch <-chan *model.PersonEvent, err error) {
	defer func() {
		if err != nil && r.Refused != nil {
			r.Refused(ctx, op, err)
		}
	}()
	if err := checkPurpose(ctx, &purpose); err != nil {
		return nil, err
	}
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	req := watch.Request{Operation: op, Persons: persons, Purpose: purpose, After: deref(after)}
	if r.Connection != nil {
		req.RequestID, req.Client = r.Connection(ctx)
	}
	return r.Watches.Open(ctx, p, req)
}

// rootField is the response key (alias or name) of the root field whose resolution ctx is
// part of: the access an audit record attributes purposes and persons to.
func rootField(ctx context.Context) string {
	var root *graphql.FieldContext
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent {
		if fc.Field.Field != nil { // list elements have contexts without a field
			root = fc
		}
	}
	if root == nil {
		return ""
	}
	return root.Field.Alias
}

func deref0(i *int) int {
	if i == nil {
		return 0
	}
	return *i
}
