package loaders

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"custodia/model"
)

// Selection says which relations an operation selects below a set of persons. It is read
// from the validated operation, so loading follows exactly what was asked for.
type Selection struct {
	Detentions          bool // detentionStatus or detentionHistory
	Prisons             bool // the prison of a status or period
	PeriodSentences     bool // DetentionPeriod.sentence
	Convictions         bool // Person.convictions (extract)
	ConvictionsCopy     bool // Person.convictions(includeExpunged: true)
	SentenceConvictions bool // Sentence.conviction
}

// SelectionBelow inspects the selection set of the field being resolved.
func SelectionBelow(ctx context.Context) Selection {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return Selection{}
	}
	vars := graphql.GetOperationContext(ctx).Variables
	var s Selection
	seen := map[string]bool{}
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch x := sel.(type) {
			case *ast.Field:
				if x.ObjectDefinition != nil {
					switch x.ObjectDefinition.Name + "." + x.Name {
					case "Person.detentionStatus", "Person.detentionHistory":
						s.Detentions = true
					case "DetentionStatus.prison", "DetentionPeriod.prison":
						s.Prisons = true
					case "DetentionPeriod.sentence":
						s.PeriodSentences = true
					case "Sentence.conviction":
						s.SentenceConvictions = true
					case "Person.convictions":
						if copy, _ := x.ArgumentMap(vars)["includeExpunged"].(bool); copy {
							s.ConvictionsCopy = true
						} else {
							s.Convictions = true
						}
					}
				}
				walk(x.SelectionSet)
			case *ast.InlineFragment:
				walk(x.SelectionSet)
			case *ast.FragmentSpread:
				if x.Definition != nil && !seen[x.Name] {
					seen[x.Name] = true
					walk(x.Definition.SelectionSet)
				}
			}
		}
	}
	walk(fc.Field.Selections)
	return s
}

// PrefetchPersons loads, level by level, every relation the selection asks for below these
// persons, each with one batched query (LoadAll with all keys at once), so resolvers of the
// individual objects find them in the loaders' caches. This makes batching independent of
// goroutine scheduling: the command count of a page does not depend on its size.
func (l *Loaders) PrefetchPersons(ctx context.Context, persons []*model.Person, want Selection) error {
	if len(persons) == 0 {
		return nil
	}
	ids := make([]string, len(persons))
	for i, p := range persons {
		ids[i] = p.ID
		l.Person.Prime(p.ID, p)
	}
	var prisonIDs, sentenceIDs []string
	if want.Detentions {
		records, err := l.Detention.LoadAll(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range records {
			if r == nil {
				continue
			}
			for _, p := range r.Periods {
				prisonIDs = append(prisonIDs, p.PrisonID)
				if p.SentenceID != nil {
					sentenceIDs = append(sentenceIDs, *p.SentenceID)
				}
			}
		}
	}
	if want.Convictions {
		if _, err := l.ConvictionExtract.LoadAll(ctx, ids); err != nil {
			return err
		}
	}
	if want.ConvictionsCopy {
		if _, err := l.ConvictionCopy.LoadAll(ctx, ids); err != nil {
			return err
		}
	}
	if want.Prisons && len(prisonIDs) > 0 {
		if _, err := l.Prison.LoadAll(ctx, dedupe(prisonIDs)); err != nil {
			return err
		}
	}
	if want.PeriodSentences && len(sentenceIDs) > 0 {
		if _, err := l.Sentence.LoadAll(ctx, dedupe(sentenceIDs)); err != nil {
			return err
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
