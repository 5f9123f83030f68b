package maintenance

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"custodia/apperr"
	"custodia/auth"
	"custodia/model"
	"custodia/register"
	"custodia/store"
)

// A correction (SK act §65b, DESIGN §7a) replaces wrong data with a reason. Its record — who,
// when, why, each field before and after, the whole previous version and the agencies that had
// received the person's data, to be told — is kept in the document the correction changes and
// written in the same atomic update as the change: neither exists without the other, with or
// without transactions. Blocking and unblocking are recorded the same way.

// change says what a correction, blocking or unblocking concerns.
type change struct {
	action   model.CorrectionAction
	item     model.RecordItemKind
	itemID   string
	personID string
	reason   string
}

// reasonText validates the reason every correction and blocking gives.
func reasonText(field, reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return "", apperr.BadInput(field, "%s must be 1 to 500 characters", field)
	}
	return reason, nil
}

// correct runs a correction, blocking or unblocking through the write protocol (Perform).
// apply makes the change and its record in one document update and returns the answer.
// A correction tells watchers CORRECTED, naming the corrected record; blocking and unblocking
// tell them nothing (an event would reveal that blocked data exists).
func (s *Service) correct(ctx context.Context, p *auth.Principal, name, key string, args any, ch change, reasonField string,
	validate func() error, apply func(ctx context.Context, c *model.Correction) (*model.CorrectionResult, error)) (*model.CorrectionResult, error) {
	var event model.PersonEventKind
	if ch.action == model.CorrectionActionCorrected {
		event = model.PersonEventKindCorrected
	}
	return Perform(ctx, s, p, Mutation[model.CorrectionResult]{
		Name: name, Key: key, PersonID: ch.personID, Args: args, Event: event, EventEntity: ch.itemID,
		Validate: func() (err error) {
			if ch.reason, err = reasonText(reasonField, ch.reason); err != nil {
				return err
			}
			if validate != nil {
				return validate()
			}
			return nil
		},
		ProposeID: freshID("K-"),
		Check: func(ctx context.Context, _ string) error {
			_, err := s.person(ctx, ch.personID)
			return err
		},
		Apply: func(ctx context.Context, id string) (*model.CorrectionResult, error) {
			recipients, err := s.trail.Recipients(ctx, ch.personID, time.Time{})
			if err != nil {
				return nil, err
			}
			if recipients == nil {
				recipients = []model.Recipient{}
			}
			c := model.Correction{ID: id, PersonID: ch.personID, Action: ch.action, Item: ch.item, ItemID: ch.itemID, Reason: ch.reason,
				Time: s.now().UTC().Truncate(time.Millisecond), Subject: p.Subject, Agency: p.Agency, Role: p.Role,
				Changes: []model.FieldChange{}, RecipientsToNotify: recipients}
			res, err := apply(ctx, &c)
			if err != nil {
				return nil, err
			}
			res.CorrectionID, res.RecipientsToNotify = c.ID, c.RecipientsToNotify
			return res, nil
		},
	})
}

// recorded reports whether the correction c is already in list (a retry after a crash between
// the change and the answer's record); c then takes the recorded version.
func recorded(list []model.Correction, c *model.Correction) bool {
	for _, r := range list {
		if r.ID == c.ID {
			r.PersonID = c.PersonID
			*c = r
			return true
		}
	}
	return false
}

// snapshotSkip are the stored keys that are bookkeeping, not data, in a previous version.
var snapshotSkip = []string{"_id", "search", "version", "lastWrite", "blocked", "corrections"}

// describeChange records in c each field the correction changed, with its JSON value before
// and after, and the whole previous version. A correction that changes nothing is
// BAD_USER_INPUT.
func describeChange(c *model.Correction, before, after any) error {
	prev, old, err := flatten(before)
	if err != nil {
		return err
	}
	_, updated, err := flatten(after)
	if err != nil {
		return err
	}
	fields := make([]string, 0, len(old)+len(updated))
	for k := range old {
		fields = append(fields, k)
	}
	for k := range updated {
		if _, ok := old[k]; !ok {
			fields = append(fields, k)
		}
	}
	sort.Strings(fields)
	for _, f := range fields {
		b, inBefore := old[f]
		a, inAfter := updated[f]
		if inBefore && inAfter && a == b {
			continue
		}
		fc := model.FieldChange{Field: f}
		if inBefore {
			fc.Before = &b
		}
		if inAfter {
			fc.After = &a
		}
		c.Changes = append(c.Changes, fc)
	}
	if len(c.Changes) == 0 {
		return apperr.BadInput("input", "the correction changes nothing")
	}
	c.PreviousVersion = &prev
	return nil
}

// flatten renders an item as its stored JSON (without bookkeeping) and as its leaf values by
// path (`sentences.0.endDate`).
func flatten(item any) (whole string, leaves map[string]string, err error) {
	raw, err := store.Snapshot(item)
	if err != nil {
		return "", nil, err
	}
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return "", nil, err
	}
	for _, k := range snapshotSkip {
		delete(doc, k)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", nil, err
	}
	leaves = map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(join(path, k), e)
			}
		case []any:
			for i, e := range x {
				walk(join(path, strconv.Itoa(i)), e)
			}
		default:
			j, _ := json.Marshal(x)
			leaves[path] = string(j)
		}
	}
	walk("", doc)
	return string(b), leaves, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// CorrectPerson corrects a person's identity data at the given version. A new national ID is
// reserved before the person changes and the old one released after (as updatePerson does).
func (s *Service) CorrectPerson(ctx context.Context, p *auth.Principal, id string, version int, in model.PersonInput, reason, key string) (*model.CorrectionResult, error) {
	var updated model.Person
	ch := change{action: model.CorrectionActionCorrected, item: model.RecordItemKindPerson, itemID: id, personID: id, reason: reason}
	args := struct {
		ID      string
		Version int
		In      model.PersonInput
		Reason  string
	}{id, version, in, reason}
	return s.correct(ctx, p, "correctPerson", key, args, ch, "reason",
		func() (err error) {
			updated, err = register.NewPerson(in, s.today())
			return err
		},
		func(ctx context.Context, c *model.Correction) (*model.CorrectionResult, error) {
			if updated.NationalID != nil {
				if err := s.store.ClaimNationalID(ctx, *updated.NationalID, id); err != nil {
					return nil, err
				}
			}
			found, err := s.store.PersonsByIDs(ctx, store.Scope{}, []string{id})
			if err != nil {
				return nil, err
			}
			before := found[id]
			if before == nil {
				return nil, apperr.NotFoundf("no person with ID %q", id)
			}
			if !recorded(before.Corrections, c) {
				if before.Version != version {
					return nil, apperr.New(apperr.Conflict, "person %s was changed since version %d (now %d); reload and retry", id, version, before.Version).With("field", "version")
				}
				next := updated
				next.ID, next.Version, next.LastWrite, next.Blocked = id, before.Version+1, key, before.Blocked
				next.Search = register.SearchKeys(&next)
				if err := describeChange(c, *before, next); err != nil {
					return nil, err
				}
				// The correction is stored with the person, in the same write (WritePerson also
				// moves the search keys).
				next.Corrections = append(slices.Clone(before.Corrections), *c)
				ok, err := s.store.WritePerson(ctx, before, next)
				if err != nil {
					return nil, err
				}
				if !ok {
					return nil, apperr.New(apperr.Conflict, "person %s was changed at the same time; reload and retry", id).With("field", "version")
				}
				if before.NationalID != nil && (next.NationalID == nil || *next.NationalID != *before.NationalID) {
					if err := s.store.ReleaseNationalID(ctx, *before.NationalID, id); err != nil {
						return nil, err
					}
				}
			}
			person, err := s.person(ctx, id)
			if err != nil {
				return nil, err
			}
			person.Corrections = nil
			return &model.CorrectionResult{Person: person}, nil
		})
}

// convictionIn finds a conviction of the extract or the copy (never a blocked one, which is
// frozen until unblocked).
func convictionIn(r *model.CriminalRecord, id string) *model.Conviction {
	for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions} {
		for i := range list {
			if list[i].ID == id {
				return &list[i]
			}
		}
	}
	return nil
}

// updateConvictions runs a correction of a person's criminal record through changeRecord (so
// a conviction that stops or starts being copy-only moves, with its detention periods, in the
// safe order): mutate changes the record and tells which conviction to answer with.
//
// A correction may make a conviction deemed not convicted or no longer (register.Settle runs
// on the changed conviction), so the periods of the sentences in hide leave the extract before
// the change and are reconciled after it: no intermediate state shows more than the final one.
func (s *Service) updateConvictions(ctx context.Context, personID string, c *model.Correction, hide []string, mutate func(r *model.CriminalRecord) (answerID string, err error)) (*model.CorrectionResult, error) {
	answerID := c.ItemID
	res := &model.CorrectionResult{}
	err := s.changeRecord(ctx, personID, hide, func(r *model.CriminalRecord) error {
		if recorded(r.Corrections, c) {
			return store.ErrUnchanged
		}
		var err error
		if answerID, err = mutate(r); err != nil {
			return err
		}
		if conv := convictionIn(r, answerID); conv != nil {
			register.Settle(conv)
		}
		r.Corrections = append(r.Corrections, *c)
		return nil
	}, func(r *model.CriminalRecord) { res.Conviction = findAnyConviction(r, personID, answerID) })
	if err != nil {
		return nil, err
	}
	return res, nil
}

// sentencesAround lists the sentences of the conviction that holds an item (the conviction,
// one of its offences or one of its sentences); none when there is no such item (the
// correction then reports NOT_FOUND).
func (s *Service) sentencesAround(ctx context.Context, personID, id string) ([]string, error) {
	all, err := s.store.ConvictionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, true)
	if err != nil {
		return nil, err
	}
	for i := range all[personID] {
		conv := &all[personID][i]
		if conv.ID == id || findSentence(conv, id) != nil || slices.ContainsFunc(conv.Offences, func(o model.Offence) bool { return o.ID == id }) {
			return sentenceIDs(conv), nil
		}
	}
	return nil, nil
}

// findAnyConviction finds a conviction in every part of a record, blocked ones included, with
// its owner links.
func findAnyConviction(r *model.CriminalRecord, personID, id string) *model.Conviction {
	if id == "" {
		return nil
	}
	for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions, r.BlockedConvictions} {
		for i := range list {
			if list[i].ID == id {
				c := list[i]
				store.FillOwners(&c, personID, c.CopyOnly())
				return &c
			}
		}
	}
	return nil
}

// CorrectConviction corrects a conviction's court, case reference and dates, or a wrongly
// recorded expungement (issue 12 point 2): a null expungedOn makes an expunged conviction
// unexpunged again, a date corrects the day.
func (s *Service) CorrectConviction(ctx context.Context, p *auth.Principal, personID, convictionID string, in model.ConvictionCorrectionInput, reason, key string) (*model.CorrectionResult, error) {
	var header model.Conviction
	ch := change{action: model.CorrectionActionCorrected, item: model.RecordItemKindConviction, itemID: convictionID, personID: personID, reason: reason}
	args := struct {
		ConvictionID string
		In           model.ConvictionCorrectionInput
		Reason       string
	}{convictionID, in, reason}
	today := s.today()
	return s.correct(ctx, p, "correctConviction", key, onPerson(personID, args), ch, "reason",
		func() (err error) {
			header, err = register.CorrectedConvictionHeader(in, today)
			return err
		},
		func(ctx context.Context, c *model.Correction) (*model.CorrectionResult, error) {
			hide, err := s.sentencesAround(ctx, personID, convictionID)
			if err != nil {
				return nil, err
			}
			return s.updateConvictions(ctx, personID, c, hide, func(r *model.CriminalRecord) (string, error) {
				conv := convictionIn(r, convictionID)
				if conv == nil {
					return "", apperr.NotFoundf("no conviction %q of person %q", convictionID, personID)
				}
				before := *conv
				for i, o := range conv.Offences {
					if o.CommittedOn != nil && o.CommittedOn.After(header.DecisionDate) {
						return "", apperr.BadInput("input.decisionDate", "offence %d was committed on %s, after the corrected decisionDate", i+1, *o.CommittedOn)
					}
				}
				conv.Court, conv.CaseReference, conv.DecisionDate, conv.FinalDate = header.Court, header.CaseReference, header.DecisionDate, header.FinalDate
				switch {
				case in.ExpungedOn != nil && !conv.Expunged:
					return "", apperr.BadInput("input.expungedOn", "conviction %s is not expunged; an expungement is recorded with recordExpungement", convictionID)
				case in.ExpungedOn != nil:
					day := *in.ExpungedOn
					conv.ExpungedOn = &day
					if conv.Expungement != nil {
						conv.Expungement.On = day
					}
				case conv.Expunged:
					conv.Expunged, conv.ExpungedOn, conv.Expungement = false, nil, nil
				}
				if err := describeChange(c, before, *conv); err != nil {
					return "", err
				}
				return convictionID, nil
			})
		})
}

// CorrectOffence corrects one offence of a conviction.
func (s *Service) CorrectOffence(ctx context.Context, p *auth.Principal, personID, offenceID string, in model.OffenceInput, reason, key string) (*model.CorrectionResult, error) {
	ch := change{action: model.CorrectionActionCorrected, item: model.RecordItemKindOffence, itemID: offenceID, personID: personID, reason: reason}
	args := struct {
		OffenceID string
		In        model.OffenceInput
		Reason    string
	}{offenceID, in, reason}
	return s.correct(ctx, p, "correctOffence", key, onPerson(personID, args), ch, "reason", nil,
		func(ctx context.Context, c *model.Correction) (*model.CorrectionResult, error) {
			hide, err := s.sentencesAround(ctx, personID, offenceID)
			if err != nil {
				return nil, err
			}
			return s.updateConvictions(ctx, personID, c, hide, func(r *model.CriminalRecord) (string, error) {
				for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions} {
					for ci := range list {
						conv := &list[ci]
						for i := range conv.Offences {
							if store.OffenceID(conv.ID, i) != offenceID {
								continue
							}
							corrected, err := register.CorrectedOffence(in, conv.DecisionDate)
							if err != nil {
								return "", err
							}
							if err := describeChange(c, conv.Offences[i], corrected); err != nil {
								return "", err
							}
							conv.Offences[i] = corrected
							return conv.ID, nil
						}
					}
				}
				return "", apperr.NotFoundf("no offence %q of person %q", offenceID, personID)
			})
		})
}

// CorrectSentence corrects one sentence of a conviction: the fields a sentence is recorded
// with; what its lifecycle recorded since is kept.
func (s *Service) CorrectSentence(ctx context.Context, p *auth.Principal, personID, sentenceID string, in model.SentenceInput, reason, key string) (*model.CorrectionResult, error) {
	ch := change{action: model.CorrectionActionCorrected, item: model.RecordItemKindSentence, itemID: sentenceID, personID: personID, reason: reason}
	args := struct {
		SentenceID string
		In         model.SentenceInput
		Reason     string
	}{sentenceID, in, reason}
	today := s.today()
	var answer *model.Sentence
	res, err := s.correct(ctx, p, "correctSentence", key, onPerson(personID, args), ch, "reason", nil,
		func(ctx context.Context, c *model.Correction) (*model.CorrectionResult, error) {
			hide, err := s.sentencesAround(ctx, personID, sentenceID)
			if err != nil {
				return nil, err
			}
			res, err := s.updateConvictions(ctx, personID, c, hide, func(r *model.CriminalRecord) (string, error) {
				for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions} {
					for ci := range list {
						conv := &list[ci]
						for i := range conv.Sentences {
							if conv.Sentences[i].ID != sentenceID {
								continue
							}
							v, err := register.CorrectedSentence(in, conv.FinalDate, today)
							if err != nil {
								return "", err
							}
							next := conv.Sentences[i]
							next.Kind, next.Life, next.DurationMonths, next.Amount, next.Suspended, next.ProbationMonths = v.Kind, v.Life, v.DurationMonths, v.Amount, v.Suspended, v.ProbationMonths
							next.StartDate, next.EndDate, next.Status, next.ServedMonths = v.StartDate, v.EndDate, v.Status, v.ServedMonths
							if next.Status != conv.Sentences[i].Status {
								// A wrongly recorded status: its steps follow the corrected dates.
								register.InitialTransitions(&next, conv.FinalDate)
							}
							if err := describeChange(c, conv.Sentences[i], next); err != nil {
								return "", err
							}
							next.Version++ // a status write at the old version is now CONFLICT
							conv.Sentences[i] = next
							return conv.ID, nil
						}
					}
				}
				return "", apperr.NotFoundf("no sentence %q of person %q", sentenceID, personID)
			})
			if err != nil {
				return nil, err
			}
			if res.Conviction != nil {
				for i := range res.Conviction.Sentences {
					if res.Conviction.Sentences[i].ID == sentenceID {
						answer = &res.Conviction.Sentences[i]
					}
				}
			}
			return &model.CorrectionResult{Sentence: answer}, nil
		})
	return res, err
}

// CorrectDetentionPeriod corrects one detention period; the person's periods must stay
// consistent (one ongoing at most, none overlapping).
func (s *Service) CorrectDetentionPeriod(ctx context.Context, p *auth.Principal, personID, periodID string, in model.DetentionPeriodCorrectionInput, reason, key string) (*model.CorrectionResult, error) {
	ch := change{action: model.CorrectionActionCorrected, item: model.RecordItemKindDetentionPeriod, itemID: periodID, personID: personID, reason: reason}
	args := struct {
		PeriodID string
		In       model.DetentionPeriodCorrectionInput
		Reason   string
	}{periodID, in, reason}
	var corrected model.DetentionPeriod
	return s.correct(ctx, p, "correctDetentionPeriod", key, onPerson(personID, args), ch, "reason",
		func() (err error) {
			corrected, err = register.CorrectedPeriod(in, s.today())
			return err
		},
		func(ctx context.Context, c *model.Correction) (*model.CorrectionResult, error) {
			prison, err := s.prison(ctx, "input.prisonId", in.PrisonID)
			if err != nil {
				return nil, err
			}
			if !register.PrisonAccepts(prison.Kind, in.Kind) {
				return nil, apperr.BadInput("input.prisonId", "a %s cannot hold %s", prison.Kind, in.Kind)
			}
			if in.SentenceID != nil {
				if _, _, err := s.sentence(ctx, p, personID, *in.SentenceID); err != nil {
					if apperr.CodeOf(err) == apperr.NotFound {
						return nil, apperr.BadInput("input.sentenceId", "person %s has no sentence %q", personID, *in.SentenceID)
					}
					return nil, err
				}
			}
			res, err := s.updatePeriods(ctx, personID, c, func(r *model.DetentionRecord) (string, error) {
				q := periodIn(r, periodID, s.readsCopy(p))
				if q == nil {
					return "", apperr.NotFoundf("no detention period %q of person %q", periodID, personID)
				}
				next := corrected
				next.ID, next.PersonID = q.ID, q.PersonID
				if err := describeChange(c, *q, next); err != nil {
					return "", err
				}
				*q = next
				return periodID, register.CheckPeriods(slices.Concat(r.Periods, r.CopyOnlyPeriods, r.BlockedPeriods))
			})
			if err != nil {
				return nil, err
			}
			// The corrected period may now execute a copy-only sentence, or no longer.
			return res, s.syncPeriods(ctx, personID, nil)
		})
}

// anyPeriod finds a period of the extract or the copy (never a blocked one).
func anyPeriod(r *model.DetentionRecord, id string) *model.DetentionPeriod {
	return periodIn(r, id, true)
}

// periodIn finds a period of the extract or, with copy, of the copy too (never a blocked one).
func periodIn(r *model.DetentionRecord, id string, copy bool) *model.DetentionPeriod {
	lists := [][]model.DetentionPeriod{r.Periods}
	if copy {
		lists = append(lists, r.CopyOnlyPeriods)
	}
	for _, list := range lists {
		for i := range list {
			if list[i].ID == id {
				return &list[i]
			}
		}
	}
	return nil
}

// updatePeriods runs a correction of a person's detention record: mutate changes the record
// and tells which period to answer with.
func (s *Service) updatePeriods(ctx context.Context, personID string, c *model.Correction, mutate func(r *model.DetentionRecord) (answerID string, err error)) (*model.CorrectionResult, error) {
	var answerID string
	rec, err := s.store.UpdateDetentionRecord(ctx, personID, func(r *model.DetentionRecord) error {
		if recorded(r.Corrections, c) {
			return store.ErrUnchanged
		}
		var err error
		if answerID, err = mutate(r); err != nil {
			return err
		}
		r.Corrections = append(r.Corrections, *c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, list := range [][]model.DetentionPeriod{rec.Periods, rec.CopyOnlyPeriods, rec.BlockedPeriods} {
		for i := range list {
			if list[i].ID == answerID {
				q := list[i]
				q.PersonID = personID
				return &model.CorrectionResult{DetentionPeriod: &q}, nil
			}
		}
	}
	return &model.CorrectionResult{}, nil
}
