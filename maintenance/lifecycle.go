package maintenance

import (
	"context"
	"strings"

	"custodia/apperr"
	"custodia/auth"
	"custodia/model"
	"custodia/register"
	"custodia/store"
)

// The sentence lifecycle and expungement (DESIGN §7, §7a). A write that makes a conviction
// copy-only (expunged or deemed not convicted) touches two documents without a transaction:
// it first moves the detention periods that executed the conviction's sentences out of the
// extract, then changes the criminal record, then reconciles the periods with the record. Every
// intermediate state shows an extract reader less, never more.

// RecordSentenceStatus moves a sentence through its lifecycle (see register.Transition): who
// may record which step is register.MayRecord, an illegal step is CONFLICT.
func (s *Service) RecordSentenceStatus(ctx context.Context, p *auth.Principal, personID, sentenceID string, in model.SentenceStatusInput, key string) (*model.Sentence, error) {
	var hide []string
	return Perform(ctx, s, p, Mutation[model.Sentence]{
		Name: "recordSentenceStatus", Key: key, PersonID: personID, Event: model.PersonEventKindSentenceStatusChanged,
		Args: onPerson(personID, struct {
			SentenceID string
			In         model.SentenceStatusInput
		}{sentenceID, in}),
		Validate:  func() error { return register.ValidateStatusInput(in, s.today()) },
		ProposeID: fixedID(sentenceID),
		Check: func(ctx context.Context, _ string) error {
			c, sen, err := s.sentence(ctx, p, personID, sentenceID)
			if err != nil {
				return err
			}
			if err := register.MayRecord(p.Role, sen, in.Status); err != nil {
				return err
			}
			if applied(sen, in) {
				return nil // applied before a crash (maybe making the conviction copy-only): Apply completes it
			}
			if c.CopyOnly() { // never changes, and is not named to a writer who may not read it
				return apperr.NotFoundf("no sentence %q of person %q that can change", sentenceID, personID)
			}
			trial := register.CloneConviction(*c)
			if err := register.Transition(&trial, findSentence(&trial, sentenceID), in); err != nil {
				return err
			}
			if in.Status == model.SentenceStatusServed {
				if err := s.notInPrisonFor(ctx, personID, c, "a sentence executed in prison ends with releaseFromDetention (reason SENTENCE_SERVED)"); err != nil {
					return err
				}
			}
			if trial.CopyOnly() {
				hide = sentenceIDs(&trial)
			}
			return nil
		},
		Apply: func(ctx context.Context, _ string) (*model.Sentence, error) {
			var out model.Sentence
			err := s.changeRecord(ctx, personID, hide, func(r *model.CriminalRecord) error {
				c, sen := locateSentence(r, sentenceID)
				if sen == nil {
					return apperr.NotFoundf("no sentence %q of person %q", sentenceID, personID)
				}
				if applied(sen, in) {
					return store.ErrUnchanged
				}
				return register.Transition(c, sen, in)
			}, func(r *model.CriminalRecord) {
				if _, sen := locateSentence(r, sentenceID); sen != nil {
					out = *sen
				}
			})
			return &out, err
		},
	})
}

// applied says the step was already recorded: the sentence is one version further and its last
// step is this one.
func applied(sen *model.Sentence, in model.SentenceStatusInput) bool {
	n := len(sen.Transitions)
	return sen.Version == in.Version+1 && n > 0 && sen.Transitions[n-1].Status == in.Status && sen.Transitions[n-1].On == in.On
}

// RecordExpungement records a court's expungement of a conviction (register.CheckExpungement
// says whether the law allows it); the conviction and the detention periods that executed its
// sentences then leave the extract.
func (s *Service) RecordExpungement(ctx context.Context, p *auth.Principal, personID, convictionID string, on model.Date, early *model.CourtDecisionInput, key string) (*model.Conviction, error) {
	var hide []string
	check := func(c *model.Conviction) error {
		if c.Expunged {
			if c.ExpungedOn != nil && *c.ExpungedOn == on {
				return store.ErrUnchanged // this expungement was recorded (a retry)
			}
			return apperr.New(apperr.Conflict, "conviction %s is already expunged (on %s)", convictionID, c.ExpungedOn)
		}
		_, err := register.CheckExpungement(*c, on, early != nil)
		return err
	}
	return Perform(ctx, s, p, Mutation[model.Conviction]{
		Name: "recordExpungement", Key: key, PersonID: personID, Event: model.PersonEventKindExpunged,
		Args: struct {
			Args  []string
			Early *model.CourtDecisionInput
		}{[]string{personID, convictionID, string(on)}, early},
		Validate: func() error {
			if on.After(s.today()) {
				return apperr.BadInput("expungedOn", "expungedOn (%s) cannot be in the future", on)
			}
			if early != nil {
				if strings.TrimSpace(early.Court) == "" || len(early.Court) > 200 {
					return apperr.BadInput("earlyDecision.court", "earlyDecision.court must name the deciding court (1 to 200 characters)")
				}
				if strings.TrimSpace(early.CaseReference) == "" || len(early.CaseReference) > 64 {
					return apperr.BadInput("earlyDecision.caseReference", "earlyDecision.caseReference must name the decision (1 to 64 characters)")
				}
			}
			return nil
		},
		ProposeID: fixedID(convictionID),
		Check: func(ctx context.Context, _ string) error {
			c, err := s.conviction(ctx, personID, convictionID)
			if err != nil {
				return err
			}
			if err := check(c); err != nil && err != store.ErrUnchanged {
				return err
			}
			if err := s.notInPrisonFor(ctx, personID, c, "the conviction cannot be expunged"); err != nil {
				return err
			}
			hide = sentenceIDs(c)
			return nil
		},
		Apply: func(ctx context.Context, _ string) (*model.Conviction, error) {
			var out model.Conviction
			err := s.changeRecord(ctx, personID, hide, func(r *model.CriminalRecord) error {
				c := findConviction(r, convictionID)
				if c == nil {
					return apperr.NotFoundf("no conviction %q of person %q", convictionID, personID)
				}
				if err := check(c); err != nil {
					return err
				}
				isEarly, _ := register.CheckExpungement(*c, on, early != nil)
				decision := &model.Expungement{On: on, Early: isEarly}
				if early != nil {
					court, ref := strings.TrimSpace(early.Court), strings.TrimSpace(early.CaseReference)
					decision.Court, decision.CaseReference = &court, &ref
				}
				c.Expunged, c.ExpungedOn, c.Expungement = true, &on, decision
				return nil
			}, func(r *model.CriminalRecord) {
				if c := findConviction(r, convictionID); c != nil {
					out = *c
				}
			})
			return &out, err
		},
	})
}

// notInPrisonFor refuses (CONFLICT, with the rule) a write while a detention period executing
// one of the conviction's sentences is open: an expungement would hide a current detention, a
// sentence recorded as served would contradict it.
func (s *Service) notInPrisonFor(ctx context.Context, personID string, c *model.Conviction, rule string) error {
	found, err := s.store.DetentionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, false)
	if err != nil || found[personID] == nil {
		return err
	}
	mine := map[string]bool{}
	for _, id := range sentenceIDs(c) {
		mine[id] = true
	}
	for _, q := range found[personID].Periods {
		if q.End == nil && q.SentenceID != nil && mine[*q.SentenceID] {
			return apperr.New(apperr.Conflict, "the person is in detention period %s executing sentence %s: %s", q.ID, *q.SentenceID, rule)
		}
	}
	return nil
}

// changeRecord changes a person's criminal record in the order that keeps the extract safe
// without a transaction: the periods of the sentences in hide leave the extract first, then
// mutate changes the record (convictions move between extract and copy as they became
// copy-only or not), then the periods are reconciled with the record — also when mutate
// failed, so a refused write leaves nothing hidden. read sees the record as written.
func (s *Service) changeRecord(ctx context.Context, personID string, hide []string, mutate func(*model.CriminalRecord) error, read func(*model.CriminalRecord)) error {
	if len(hide) > 0 {
		if err := s.syncPeriods(ctx, personID, hide); err != nil {
			return err
		}
	}
	rec, err := s.store.UpdateCriminalRecord(ctx, personID, func(r *model.CriminalRecord) error {
		if err := mutate(r); err != nil {
			return err
		}
		register.SplitConvictions(r)
		return nil
	})
	if syncErr := s.syncPeriods(ctx, personID, nil); err == nil {
		err = syncErr
	}
	if err != nil {
		return err
	}
	read(&rec)
	return nil
}

// syncPeriods moves a person's detention periods between extract and copy to match the
// criminal record: the periods of copy-only convictions' sentences (and of the sentences in
// extra) leave the extract, all others are in it.
func (s *Service) syncPeriods(ctx context.Context, personID string, extra []string) error {
	all, err := s.store.ConvictionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, true)
	if err != nil {
		return err
	}
	hidden := map[string]bool{}
	for _, id := range extra {
		hidden[id] = true
	}
	for i := range all[personID] {
		if c := &all[personID][i]; c.CopyOnly() {
			for _, id := range sentenceIDs(c) {
				hidden[id] = true
			}
		}
	}
	_, err = s.store.UpdateDetentionRecord(ctx, personID, func(r *model.DetentionRecord) error {
		if !register.SplitPeriods(r, hidden) {
			return store.ErrUnchanged
		}
		return nil
	})
	return err
}

// conviction loads one of a person's convictions from the full copy; NOT_FOUND if absent.
func (s *Service) conviction(ctx context.Context, personID, convictionID string) (*model.Conviction, error) {
	if _, err := s.person(ctx, personID); err != nil {
		return nil, err
	}
	all, err := s.store.ConvictionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, true)
	if err != nil {
		return nil, err
	}
	for i := range all[personID] {
		if all[personID][i].ID == convictionID {
			return &all[personID][i], nil
		}
	}
	return nil, apperr.NotFoundf("no conviction %q of person %q", convictionID, personID)
}

// sentence loads one of a person's sentences, with its conviction, as the writer p may find
// it: from the full copy if p's role may read it, else from the extract; and, if p's role may
// not read convictions (PRISON_SERVICE), only a custodial sentence — the kind a detention
// period executes, which is what such a role reads of sentences. Any other sentence is the
// same NOT_FOUND as a missing one: a write is no oracle for what the role may not read.
func (s *Service) sentence(ctx context.Context, p *auth.Principal, personID, sentenceID string) (*model.Conviction, *model.Sentence, error) {
	if _, err := s.person(ctx, personID); err != nil {
		return nil, nil, err
	}
	all, err := s.store.ConvictionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, s.readsCopy(p))
	if err != nil {
		return nil, nil, err
	}
	for i := range all[personID] {
		if sen := findSentence(&all[personID][i], sentenceID); sen != nil && (register.Custodial(sen) || s.readsConvictions(p)) {
			return &all[personID][i], sen, nil
		}
	}
	return nil, nil, apperr.NotFoundf("no sentence %q of person %q", sentenceID, personID)
}

func findSentence(c *model.Conviction, id string) *model.Sentence {
	for i := range c.Sentences {
		if c.Sentences[i].ID == id {
			return &c.Sentences[i]
		}
	}
	return nil
}

func locateSentence(r *model.CriminalRecord, id string) (*model.Conviction, *model.Sentence) {
	for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions} {
		for i := range list {
			if sen := findSentence(&list[i], id); sen != nil {
				return &list[i], sen
			}
		}
	}
	return nil, nil
}

func sentenceIDs(c *model.Conviction) []string {
	out := make([]string, len(c.Sentences))
	for i := range c.Sentences {
		out[i] = c.Sentences[i].ID
	}
	return out
}

// executeSentence records, for the prison service, the start or end of the custodial sentence
// a detention period executes (DESIGN §7a: an admission naming a sentence starts it, a release
// as SENTENCE_SERVED ends it). A step already recorded changes nothing.
func (s *Service) executeSentence(ctx context.Context, personID, sentenceID string, to model.SentenceStatus, on model.Date) error {
	return s.changeRecord(ctx, personID, nil, func(r *model.CriminalRecord) error {
		c, sen := locateSentence(r, sentenceID)
		if sen == nil {
			return apperr.NotFoundf("no sentence %q of person %q", sentenceID, personID)
		}
		if sen.Status == to {
			return store.ErrUnchanged
		}
		return execute(c, sen, to, on)
	}, func(*model.CriminalRecord) {})
}

// execute moves a sentence to BEING_SERVED or SERVED as a detention write implies (a PENDING
// sentence released as served was BEING_SERVED from the same day).
func execute(c *model.Conviction, sen *model.Sentence, to model.SentenceStatus, on model.Date) error {
	if to == model.SentenceStatusServed && sen.Status == model.SentenceStatusPending {
		if err := register.Transition(c, sen, model.SentenceStatusInput{Version: sen.Version, Status: model.SentenceStatusBeingServed, On: on}); err != nil {
			return err
		}
	}
	return register.Transition(c, sen, model.SentenceStatusInput{Version: sen.Version, Status: to, On: on})
}

// checkExecution refuses a detention write whose sentence step the lifecycle does not allow,
// before anything is written: the sentence must be custodial (BAD_USER_INPUT) and PENDING or
// BEING_SERVED, and the step valid for it (CONFLICT, BAD_USER_INPUT on its date).
func (s *Service) checkExecution(ctx context.Context, p *auth.Principal, personID, sentenceID string, to model.SentenceStatus, on model.Date) error {
	c, sen, err := s.sentence(ctx, p, personID, sentenceID)
	if apperr.CodeOf(err) == apperr.NotFound || err == nil && (c.CopyOnly() || !register.Custodial(sen)) {
		return apperr.BadInput("input.sentenceId", "person %s has no unexpunged custodial sentence %q (a detention executes only imprisonment or a protective measure)", personID, sentenceID)
	}
	if err != nil {
		return err
	}
	if sen.Status == to {
		return nil // already recorded (a re-admission after an interruption)
	}
	if sen.Status != model.SentenceStatusPending && sen.Status != model.SentenceStatusBeingServed {
		return apperr.New(apperr.Conflict, "sentence %s is %s and cannot become %s: only a PENDING or BEING_SERVED sentence is executed in prison", sentenceID, sen.Status, to)
	}
	trial := register.CloneConviction(*c)
	return execute(&trial, findSentence(&trial, sentenceID), to, on)
}
