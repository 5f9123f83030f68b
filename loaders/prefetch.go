package loaders

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"
	"golang.org/x/sync/errgroup"

	"custodia/model"
	"custodia/selection"
)

// Selection says which relations an operation selects below a set of persons. It is read
// from the validated operation, so loading follows exactly what was asked for.
type Selection struct {
	Detentions      bool // detentionStatus or detentionHistory
	Prisons         bool // the prison of a status or period
	PeriodSentences bool // DetentionPeriod.sentence
	Convictions     bool // Person.convictions (extract)
	ConvictionsCopy bool // Person.convictions(includeExpunged: true)
}

// SelectionBelow inspects the selection set of the field being resolved.
func SelectionBelow(ctx context.Context) Selection {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return Selection{}
	}
	oc := graphql.GetOperationContext(ctx)
	var s Selection
	w := selection.Walker{Doc: oc.Doc, Visit: func(f selection.Field) {
		switch f.Coordinate() {
		case "Person.detentionStatus", "Person.detentionHistory":
			s.Detentions = true
		case "DetentionStatus.prison", "DetentionPeriod.prison":
			s.Prisons = true
		case "DetentionPeriod.sentence":
			s.PeriodSentences = true
		case "Person.convictions":
			if copy, _ := f.Node.ArgumentMap(oc.Variables)["includeExpunged"].(bool); copy {
				s.ConvictionsCopy = true
			} else {
				s.Convictions = true
			}
		}
	}}
	w.Set(nil, fc.Field.Selections)
	return s
}

// PrefetchPersons loads, level by level, every relation the selection asks for below these
// persons, each with one batched query issued directly (all keys at once, independent
// relations in parallel), and primes the loaders with the results, so resolvers of the
// individual objects find them cached. Batching therefore does not depend on goroutine
// scheduling: the command count of a page does not depend on its size.
func (l *Loaders) PrefetchPersons(ctx context.Context, persons []*model.Person, want Selection) error {
	if len(persons) == 0 {
		return nil
	}
	ids := make([]string, len(persons))
	for i, p := range persons {
		ids[i] = p.ID
		l.Person.Prime(p.ID, p)
	}
	var g errgroup.Group
	var prisonIDs []string
	if want.Detentions {
		g.Go(func() error {
			found, err := l.store.DetentionsByPersonIDs(ctx, ids, false)
			if err != nil {
				return err
			}
			for _, id := range ids {
				rec := found[id]
				l.Detention.Prime(id, rec)
				if rec != nil {
					for _, p := range rec.Periods {
						prisonIDs = append(prisonIDs, p.PrisonID)
					}
				}
			}
			return nil
		})
	}
	prime := func(copy bool, loader *dataloadgen.Loader[string, []model.Conviction]) {
		g.Go(func() error {
			found, err := l.store.ConvictionsByPersonIDs(ctx, ids, copy)
			if err != nil {
				return err
			}
			for _, id := range ids {
				loader.Prime(id, found[id])
			}
			return nil
		})
	}
	if want.Convictions || want.PeriodSentences {
		prime(false, l.ConvictionExtract)
	}
	if want.ConvictionsCopy {
		prime(true, l.ConvictionCopy)
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if want.Prisons && len(prisonIDs) > 0 {
		prisonIDs = dedupe(prisonIDs)
		found, err := l.store.PrisonsByIDs(ctx, prisonIDs)
		if err != nil {
			return err
		}
		for _, id := range prisonIDs {
			l.Prison.Prime(id, found[id])
		}
	}
	return nil
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
