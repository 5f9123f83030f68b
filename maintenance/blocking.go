package maintenance

import (
	"context"
	"slices"
	"sort"
	"strings"

	"custodia/apperr"
	"custodia/auth"
	"custodia/model"
	"custodia/store"
)

// Blocking (DESIGN §7a, LED Art. 16) keeps data but lets only the register office and auditors
// read it. A blocked person carries a `blocked` mark that every other role's person query
// filters on; a blocked conviction, sentence or detention period is moved, in the same atomic
// update that records the blocking, into an array of its record that every other role's query
// projects out. Blocked items are frozen: corrections and lifecycle writes do not find them
// until they are unblocked.

// Block blocks a person's record or one item.
func (s *Service) Block(ctx context.Context, p *auth.Principal, in model.BlockInput, key string) (*model.CorrectionResult, error) {
	return s.setBlocked(ctx, p, in, key, true)
}

// Unblock lifts a blocking.
func (s *Service) Unblock(ctx context.Context, p *auth.Principal, in model.BlockInput, key string) (*model.CorrectionResult, error) {
	return s.setBlocked(ctx, p, in, key, false)
}

func (s *Service) setBlocked(ctx context.Context, p *auth.Principal, in model.BlockInput, key string, block bool) (*model.CorrectionResult, error) {
	name, action := "blockRecord", model.CorrectionActionBlocked
	if !block {
		name, action = "unblockRecord", model.CorrectionActionUnblocked
	}
	itemID := in.PersonID
	if in.ItemID != nil {
		itemID = *in.ItemID
	}
	ch := change{action: action, item: in.Item, itemID: itemID, personID: in.PersonID, reason: in.Reason}
	validate := func() error {
		switch {
		case !in.Item.IsValid():
			return apperr.BadInput("input.item", "input.item %q is not a record item kind", in.Item)
		case in.Item == model.RecordItemKindOffence:
			return apperr.BadInput("input.item", "an offence is blocked with its conviction: block the CONVICTION")
		case in.Item == model.RecordItemKindPerson && in.ItemID != nil && *in.ItemID != in.PersonID:
			return apperr.BadInput("input.itemId", "a PERSON blocking names no item (or the person's own ID)")
		case in.Item != model.RecordItemKindPerson && (in.ItemID == nil || *in.ItemID == ""):
			return apperr.BadInput("input.itemId", "blocking a %s needs its ID in input.itemId", in.Item)
		}
		return nil
	}
	return s.correct(ctx, p, name, key, in, ch, "input.reason", validate,
		func(ctx context.Context, c *model.Correction) (*model.CorrectionResult, error) {
			mark := &model.Blocking{Since: c.Time, Reason: c.Reason, CorrectionID: c.ID}
			if !block {
				mark = nil
			}
			switch in.Item {
			case model.RecordItemKindPerson:
				return s.blockPerson(ctx, in.PersonID, c, mark)
			case model.RecordItemKindConviction, model.RecordItemKindSentence:
				return s.blockWithPeriods(ctx, in.PersonID, in.Item, itemID, c, mark)
			default:
				return s.updatePeriods(ctx, in.PersonID, c, func(r *model.DetentionRecord) (string, error) {
					return itemID, blockPeriod(r, itemID, mark)
				})
			}
		})
}

// blockWithPeriods (un)blocks a conviction or a sentence together with the detention periods
// that executed it: a period names the court and case reference of its conviction, so it is
// blocked with it (and an ongoing one refuses the blocking, CONFLICT). Two documents, ordered
// so that every intermediate state shows less than the final one: blocking hides the periods
// first, unblocking shows the conviction or sentence first; a retry completes either.
func (s *Service) blockWithPeriods(ctx context.Context, personID string, item model.RecordItemKind, id string, c *model.Correction, mark *model.Blocking) (*model.CorrectionResult, error) {
	executed, err := s.sentencesOf(ctx, personID, item, id, mark != nil)
	if err != nil {
		return nil, err
	}
	write := func() (*model.CorrectionResult, error) {
		if item == model.RecordItemKindSentence {
			return s.blockSentence(ctx, personID, id, c, mark)
		}
		return s.updateConvictions(ctx, personID, c, nil, func(r *model.CriminalRecord) (string, error) {
			return id, blockConviction(r, id, mark)
		})
	}
	if mark == nil {
		res, err := write()
		if err != nil {
			return nil, err
		}
		return res, s.blockExecutingPeriods(ctx, personID, executed, id, nil)
	}
	if err := s.blockExecutingPeriods(ctx, personID, executed, id, mark); err != nil {
		return nil, err
	}
	return write()
}

// sentencesOf lists the sentences of a conviction (blocked ones included), or the sentence
// itself, after checking that the (un)blocking applies: NOT_FOUND when the item does not
// exist, CONFLICT naming the state when it is already (un)blocked — before anything is
// written, so the periods are never blocked for an item that will not be.
func (s *Service) sentencesOf(ctx context.Context, personID string, item model.RecordItemKind, id string, block bool) ([]string, error) {
	all, err := s.store.ConvictionsByPersonIDs(ctx, store.Scope{}, []string{personID}, true)
	if err != nil {
		return nil, err
	}
	state := func(b *model.Blocking) error {
		switch {
		case block && b != nil:
			return alreadyBlocked(item, id, b)
		case !block && b == nil:
			return notBlocked(item, id)
		}
		return nil
	}
	for _, conv := range all[personID] {
		for _, sen := range conv.Sentences {
			if item == model.RecordItemKindSentence && sen.ID == id {
				if block && conv.Blocked != nil {
					return nil, apperr.New(apperr.Conflict, "sentence %s belongs to a blocked conviction", id).With("state", "BLOCKED")
				}
				return []string{id}, state(sen.Blocked)
			}
		}
		if item == model.RecordItemKindConviction && conv.ID == id {
			ids := []string{}
			for _, sen := range conv.Sentences {
				ids = append(ids, sen.ID)
			}
			return ids, state(conv.Blocked)
		}
	}
	return nil, apperr.NotFoundf("no %s %q of person %q", strings.ToLower(strings.ReplaceAll(string(item), "_", " ")), id, personID)
}

// blockExecutingPeriods blocks the periods that executed these sentences, marked as blocked
// via the item, or unblocks those so marked. It writes nothing when there is nothing to do (a
// retry).
func (s *Service) blockExecutingPeriods(ctx context.Context, personID string, sentences []string, via string, mark *model.Blocking) error {
	_, err := s.store.UpdateDetentionRecord(ctx, personID, func(r *model.DetentionRecord) error {
		moved := false
		if mark == nil {
			kept := r.BlockedPeriods[:0:0]
			for _, q := range r.BlockedPeriods {
				if b := q.Blocked; b != nil && b.Via != nil && *b.Via == via {
					restorePeriod(r, q)
					moved = true
				} else {
					kept = append(kept, q)
				}
			}
			r.BlockedPeriods = kept
		} else {
			for _, copyOnly := range []bool{false, true} {
				list := &r.Periods
				if copyOnly {
					list = &r.CopyOnlyPeriods
				}
				kept := (*list)[:0:0]
				for _, q := range *list {
					if q.SentenceID == nil || !slices.Contains(sentences, *q.SentenceID) {
						kept = append(kept, q)
						continue
					}
					if q.End == nil {
						return apperr.New(apperr.Conflict, "sentence %s is being executed (detention period %s is ongoing); it cannot be blocked before the release", *q.SentenceID, q.ID).With("state", "ONGOING")
					}
					cascaded := *mark
					cascaded.Via, cascaded.CopyOnly = &via, copyOnly
					q.Blocked = &cascaded
					r.BlockedPeriods = append(r.BlockedPeriods, q)
					moved = true
				}
				*list = kept
			}
		}
		if !moved {
			return store.ErrUnchanged
		}
		return nil
	})
	return err
}

// restorePeriod puts an unblocked period back where it was: in the extract, or in the copy
// when it executed a copy-only conviction's sentence.
func restorePeriod(r *model.DetentionRecord, q model.DetentionPeriod) {
	copyOnly := q.Blocked != nil && q.Blocked.CopyOnly
	q.Blocked = nil
	if copyOnly {
		r.CopyOnlyPeriods = append(r.CopyOnlyPeriods, q)
	} else {
		r.Periods = append(r.Periods, q)
	}
}

// notBlocked and alreadyBlocked are the CONFLICTs of an (un)blocking that changes nothing.
func notBlocked(item model.RecordItemKind, id string) error {
	return apperr.New(apperr.Conflict, "%s %s is not blocked", item, id).With("state", "NOT_BLOCKED")
}

func alreadyBlocked(item model.RecordItemKind, id string, since *model.Blocking) error {
	return apperr.New(apperr.Conflict, "%s %s is already blocked (since %s)", item, id, since.Since.Format("2006-01-02")).With("state", "BLOCKED")
}

func (s *Service) blockPerson(ctx context.Context, personID string, c *model.Correction, mark *model.Blocking) (*model.CorrectionResult, error) {
	person, err := s.store.UpdatePersonRecord(ctx, personID, func(cur *model.Person) error {
		if recorded(cur.Corrections, c) {
			return store.ErrUnchanged
		}
		switch {
		case mark != nil && cur.Blocked != nil:
			return alreadyBlocked(model.RecordItemKindPerson, personID, cur.Blocked)
		case mark == nil && cur.Blocked == nil:
			return notBlocked(model.RecordItemKindPerson, personID)
		}
		cur.Blocked = mark
		cur.Corrections = append(cur.Corrections, *c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	person.Corrections = nil
	return &model.CorrectionResult{Person: &person}, nil
}

// blockConviction moves a conviction (with its offences and sentences) to or from the blocked
// part of the record.
func blockConviction(r *model.CriminalRecord, id string, mark *model.Blocking) error {
	if mark == nil {
		i := slices.IndexFunc(r.BlockedConvictions, func(c model.Conviction) bool { return c.ID == id })
		if i < 0 {
			if convictionIn(r, id) != nil {
				return notBlocked(model.RecordItemKindConviction, id)
			}
			return apperr.NotFoundf("no conviction %q", id)
		}
		c := r.BlockedConvictions[i]
		c.Blocked = nil
		r.BlockedConvictions = slices.Delete(r.BlockedConvictions, i, i+1)
		if c.CopyOnly() {
			r.ExpungedConvictions = append(r.ExpungedConvictions, c)
		} else {
			r.Convictions = append(r.Convictions, c)
		}
		return nil
	}
	if i := slices.IndexFunc(r.BlockedConvictions, func(c model.Conviction) bool { return c.ID == id }); i >= 0 {
		return alreadyBlocked(model.RecordItemKindConviction, id, r.BlockedConvictions[i].Blocked)
	}
	c := convictionIn(r, id)
	if c == nil {
		return apperr.NotFoundf("no conviction %q", id)
	}
	moved := *c
	moved.Blocked = mark
	drop := func(x model.Conviction) bool { return x.ID == id }
	r.Convictions = slices.DeleteFunc(r.Convictions, drop)
	r.ExpungedConvictions = slices.DeleteFunc(r.ExpungedConvictions, drop)
	r.BlockedConvictions = append(r.BlockedConvictions, moved)
	return nil
}

// blockSentence moves a sentence out of its conviction into the blocked part of the record,
// or back.
func (s *Service) blockSentence(ctx context.Context, personID, id string, c *model.Correction, mark *model.Blocking) (*model.CorrectionResult, error) {
	var answer *model.Sentence
	res, err := s.updateConvictions(ctx, personID, c, nil, func(r *model.CriminalRecord) (string, error) {
		if mark == nil {
			i := slices.IndexFunc(r.BlockedSentences, func(b model.BlockedSentence) bool { return b.Sentence.ID == id })
			if i < 0 {
				if owner := sentenceOwner(r, id); owner != nil {
					return "", notBlocked(model.RecordItemKindSentence, id)
				}
				return "", apperr.NotFoundf("no sentence %q", id)
			}
			b := r.BlockedSentences[i]
			r.BlockedSentences = slices.Delete(r.BlockedSentences, i, i+1)
			for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions, r.BlockedConvictions} {
				for ci := range list {
					if list[ci].ID == b.ConvictionID {
						b.Sentence.Blocked = nil
						list[ci].Sentences = append(list[ci].Sentences, b.Sentence)
						sort.SliceStable(list[ci].Sentences, func(x, y int) bool { return list[ci].Sentences[x].ID < list[ci].Sentences[y].ID })
						return b.ConvictionID, nil
					}
				}
			}
			return "", apperr.NotFoundf("the conviction of sentence %q is gone", id)
		}
		if slices.ContainsFunc(r.BlockedSentences, func(b model.BlockedSentence) bool { return b.Sentence.ID == id }) {
			i := slices.IndexFunc(r.BlockedSentences, func(b model.BlockedSentence) bool { return b.Sentence.ID == id })
			return "", alreadyBlocked(model.RecordItemKindSentence, id, r.BlockedSentences[i].Sentence.Blocked)
		}
		for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions} {
			for ci := range list {
				i := slices.IndexFunc(list[ci].Sentences, func(x model.Sentence) bool { return x.ID == id })
				if i < 0 {
					continue
				}
				moved := list[ci].Sentences[i]
				moved.Blocked = mark
				list[ci].Sentences = slices.Delete(list[ci].Sentences, i, i+1)
				r.BlockedSentences = append(r.BlockedSentences, model.BlockedSentence{ConvictionID: list[ci].ID, Sentence: moved})
				answer = &moved
				return list[ci].ID, nil
			}
		}
		if sentenceOwner(r, id) != nil {
			return "", apperr.New(apperr.Conflict, "sentence %s belongs to a blocked conviction", id).With("state", "BLOCKED")
		}
		return "", apperr.NotFoundf("no sentence %q", id)
	})
	if err != nil {
		return nil, err
	}
	if answer == nil && res.Conviction != nil {
		for i := range res.Conviction.Sentences {
			if res.Conviction.Sentences[i].ID == id {
				answer = &res.Conviction.Sentences[i]
			}
		}
	}
	if answer != nil && res.Conviction != nil {
		answer.PersonID, answer.ConvictionID, answer.FromCopy = personID, res.Conviction.ID, res.Conviction.Expunged
	}
	return &model.CorrectionResult{Sentence: answer}, nil
}

// sentenceOwner is the conviction, in any part of the record, that holds a sentence.
func sentenceOwner(r *model.CriminalRecord, id string) *model.Conviction {
	for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions, r.BlockedConvictions} {
		for ci := range list {
			if slices.ContainsFunc(list[ci].Sentences, func(x model.Sentence) bool { return x.ID == id }) {
				return &list[ci]
			}
		}
	}
	return nil
}

// blockPeriod moves a detention period to or from the blocked part of the record. An ongoing
// period cannot be blocked: the person's detention status would read as free.
func blockPeriod(r *model.DetentionRecord, id string, mark *model.Blocking) error {
	if mark == nil {
		i := slices.IndexFunc(r.BlockedPeriods, func(q model.DetentionPeriod) bool { return q.ID == id })
		if i < 0 {
			if anyPeriod(r, id) != nil {
				return notBlocked(model.RecordItemKindDetentionPeriod, id)
			}
			return apperr.NotFoundf("no detention period %q", id)
		}
		restorePeriod(r, r.BlockedPeriods[i])
		r.BlockedPeriods = slices.Delete(r.BlockedPeriods, i, i+1)
		return nil
	}
	if i := slices.IndexFunc(r.BlockedPeriods, func(q model.DetentionPeriod) bool { return q.ID == id }); i >= 0 {
		return alreadyBlocked(model.RecordItemKindDetentionPeriod, id, r.BlockedPeriods[i].Blocked)
	}
	q := anyPeriod(r, id)
	if q == nil {
		return apperr.NotFoundf("no detention period %q", id)
	}
	if q.End == nil {
		return apperr.New(apperr.Conflict, "detention period %s is ongoing; an ongoing period cannot be blocked (correct it, or block it after the release)", id).With("state", "ONGOING")
	}
	moved := *q
	flag := *mark
	flag.CopyOnly = slices.ContainsFunc(r.CopyOnlyPeriods, func(x model.DetentionPeriod) bool { return x.ID == id })
	moved.Blocked = &flag
	drop := func(x model.DetentionPeriod) bool { return x.ID == id }
	r.Periods = slices.DeleteFunc(r.Periods, drop)
	r.CopyOnlyPeriods = slices.DeleteFunc(r.CopyOnlyPeriods, drop)
	r.BlockedPeriods = append(r.BlockedPeriods, moved)
	return nil
}
