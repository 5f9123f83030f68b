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
	Detentions      bool // detentionStatus or detentionHistory (the extract)
	DetentionsCopy  bool // detentionHistory(includeExpunged: true)
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
		case "Person.detentionStatus":
			s.Detentions = true
		case "Person.detentionHistory":
			if includeExpunged(f, oc.Variables) {
				s.DetentionsCopy = true
			} else {
				s.Detentions = true
			}
		case "DetentionStatus.prison", "DetentionPeriod.prison":
			s.Prisons = true
		case "DetentionPeriod.sentence":
			s.PeriodSentences = true
		case "Person.convictions":
			if includeExpunged(f, oc.Variables) {
				s.ConvictionsCopy = true
			} else {
				s.Convictions = true
			}
		}
	}}
	w.Set(nil, fc.Field.Selections)
	return s
}

// includeExpunged is the value of a field's includeExpunged argument (false when absent).
func includeExpunged(f selection.Field, vars map[string]any) bool {
	copy, _ := f.Node.ArgumentMap(vars)["includeExpunged"].(bool)
	return copy
}

// PrefetchPersons loads, level by level, every relation the selection asks for below these
// persons, each with one batched query issued directly (all keys at once, independent
// relations in parallel), and primes the loaders with the results, so resolvers of the
// individual objects find them cached. Batching therefore does not depend on goroutine
// scheduling: the command count of a page does not depend on its size.
//
// A record is read once per request even when both its full copy and its extract are
// selected: the extract is then derived from the copy (store.ConvictionsCopyAndExtract,
// store.DetentionsCopyAndExtract). The copy is selected only where policy lets the caller
// read it (includeExpunged: true is refused before execution otherwise), so a caller who may
// read only the extract still reads it as a projection that leaves the copy-only data in the
// database. Prisons come from the store's process-wide cache of reference data.
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
	if want.Detentions || want.DetentionsCopy {
		g.Go(func() error {
			var copy, extract map[string]*model.DetentionRecord
			var err error
			switch {
			case want.Detentions && want.DetentionsCopy:
				copy, extract, err = l.store.DetentionsCopyAndExtract(ctx, l.scope, ids)
			case want.DetentionsCopy:
				copy, err = l.fetchDetentions(true)(ctx, ids)
			default:
				extract, err = l.fetchDetentions(false)(ctx, ids)
			}
			if err != nil {
				return err
			}
			for _, read := range []struct {
				records map[string]*model.DetentionRecord
				loader  *dataloadgen.Loader[string, *model.DetentionRecord]
			}{{copy, l.DetentionCopy}, {extract, l.Detention}} {
				if read.records == nil {
					continue
				}
				for _, id := range ids {
					rec := read.records[id]
					read.loader.Prime(id, rec)
					if rec != nil {
						for _, p := range rec.Periods {
							prisonIDs = append(prisonIDs, p.PrisonID)
						}
					}
				}
			}
			return nil
		})
	}
	// The sentence of a period of the extract is looked up in the extract, that of a period
	// of the copy in the copy (a copy history holds periods of both).
	needExtract := want.Convictions || want.PeriodSentences
	needCopy := want.ConvictionsCopy || (want.DetentionsCopy && want.PeriodSentences)
	if needExtract || needCopy {
		g.Go(func() error {
			var copy, extract map[string][]model.Conviction
			var err error
			switch {
			case needExtract && needCopy:
				copy, extract, err = l.store.ConvictionsCopyAndExtract(ctx, l.scope, ids)
			case needCopy:
				copy, err = l.fetchConvictions(true)(ctx, ids)
			default:
				extract, err = l.fetchConvictions(false)(ctx, ids)
			}
			if err != nil {
				return err
			}
			for _, id := range ids {
				if copy != nil {
					l.ConvictionCopy.Prime(id, copy[id])
				}
				if extract != nil {
					l.ConvictionExtract.Prime(id, extract[id])
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if want.Prisons && len(prisonIDs) > 0 {
		prisonIDs = dedupe(prisonIDs)
		found, err := l.store.CachedPrisonsByIDs(ctx, prisonIDs)
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
