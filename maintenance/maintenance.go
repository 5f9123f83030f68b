// Package maintenance performs the register writes of DESIGN §4 — persons (REGISTRAR),
// convictions and expungements (COURT, REGISTRAR), admissions, transfers and releases
// (PRISON_SERVICE), prisons (PRISON_SERVICE, REGISTRAR) — so that nothing is lost or doubled
// without relying on transactions (DESIGN §8):
//
//   - every write runs through Perform, the one implementation of the write protocol
//     (validate → claim the idempotency key → check → audit → apply → record the answer), so
//     no mutation can get the order wrong;
//   - every write carries an idempotency key; the key's record fixes the ID of the entity the
//     write creates or changes before anything is written, so a retry — also after a crash
//     half-way — completes the same write, and a retry of a completed write returns the
//     answer it gave the first time, byte for byte, and writes nothing new;
//   - mutable records carry a version; a stale version is CONFLICT, and concurrent writers of
//     one record are serialised by compare-and-set (two admissions at once: one succeeds);
//   - every write is first recorded in the audit trail (fail closed), then applied;
//   - a write that touches two documents orders them so every intermediate state reads
//     consistently, and runs in a transaction where the server supports one.
//
// Field-level authorization happens before execution (package policy); this package checks
// only what depends on the data.
package maintenance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/model"
	"custodia/policy"
	"custodia/register"
	"custodia/store"
)

// Service performs register writes.
type Service struct {
	store *store.Store
	trail *audit.Trail
	now   func() time.Time
	// OnEvent, if set, is told of every event a write logged, after it is logged.
	OnEvent func(model.PersonEvent)
	// Policy decides what a writer finds of a person's record beyond what it writes: a
	// writer whose role may not read the full copy (policy.Policy.ReadsCopy) finds a
	// sentence or detention period only the copy holds as one that does not exist, and one
	// that may not read convictions finds only the sentences a detention may execute (see
	// sentence). Unset, no role reads either (fail closed).
	Policy *policy.Policy
}

// readsCopy reports whether the writer p may read the full copy (see Policy).
func (s *Service) readsCopy(p *auth.Principal) bool {
	return s.Policy != nil && p != nil && s.Policy.ReadsCopy(p.Role)
}

// readsConvictions reports whether the writer p may read convictions and all their sentences
// (see Policy).
func (s *Service) readsConvictions(p *auth.Principal) bool {
	return s.Policy != nil && p != nil && s.Policy.Allows(p.Role, "Person.convictions")
}

// New makes the service.
func New(s *store.Store, trail *audit.Trail, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, trail: trail, now: now}
}

func (s *Service) today() model.Date { return model.Today(s.now()) }

func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// person loads a person through the writer's row rule (a blocked person is absent for every
// writer but the register office); NOT_FOUND if absent.
func (s *Service) person(ctx context.Context, id string) (*model.Person, error) {
	found, err := s.store.PersonsByIDs(ctx, grants.Scope(auth.FromContext(ctx)), []string{id})
	if err != nil {
		return nil, err
	}
	if found[id] == nil {
		return nil, apperr.NotFoundf("no person with ID %q", id)
	}
	return found[id], nil
}

// RegisterPerson registers a new person. The national ID is reserved first, then the person
// is written: a crash in between leaves a reservation without a person, which reads as "no
// such person" and is taken over by the retry (or by a later registration).
func (s *Service) RegisterPerson(ctx context.Context, p *auth.Principal, in model.PersonInput, key string) (*model.Person, error) {
	var person model.Person
	return Perform(ctx, s, p, Mutation[model.Person]{
		Name: "registerPerson", Key: key, Args: in,
		Validate: func() (err error) {
			person, err = register.NewPerson(in, s.today())
			return err
		},
		ProposeID: freshID("P-"),
		Apply: func(ctx context.Context, id string) (*model.Person, error) {
			person.ID, person.Version, person.LastWrite = id, 1, key
			person.Search = register.SearchKeys(&person)
			err := s.store.InTransaction(ctx, func(ctx context.Context) error {
				if person.NationalID != nil {
					if err := s.store.ClaimNationalID(ctx, *person.NationalID, person.ID); err != nil {
						return err
					}
				}
				return s.store.InsertPerson(ctx, person)
			})
			if err != nil {
				return nil, err
			}
			return s.person(ctx, person.ID)
		},
	})
}

// UpdatePerson replaces a person's identity data at the given version. A new national ID is
// reserved before the person changes and the old one released after.
func (s *Service) UpdatePerson(ctx context.Context, p *auth.Principal, id string, version int, in model.PersonInput, key string) (*model.Person, error) {
	var updated model.Person
	return Perform(ctx, s, p, Mutation[model.Person]{
		Name: "updatePerson", Key: key, PersonID: id,
		Args: struct {
			ID      string
			Version int
			In      model.PersonInput
		}{id, version, in},
		Validate: func() (err error) {
			updated, err = register.NewPerson(in, s.today())
			return err
		},
		ProposeID: fixedID(id),
		Check: func(ctx context.Context, _ string) error {
			current, err := s.person(ctx, id)
			if err != nil {
				return err
			}
			if current.LastWrite != key && current.Version != version {
				return apperr.New(apperr.Conflict, "person %s was changed since version %d (now %d); reload and retry", id, version, current.Version).With("field", "version")
			}
			return nil
		},
		Apply: func(ctx context.Context, _ string) (*model.Person, error) {
			current, err := s.person(ctx, id)
			if err != nil {
				return nil, err
			}
			if current.LastWrite == key {
				return current, nil // applied before a crash: the retry completes it
			}
			updated.ID, updated.Version, updated.LastWrite = id, version+1, key
			updated.Search = register.SearchKeys(&updated)
			err = s.store.InTransaction(ctx, func(ctx context.Context) error {
				if updated.NationalID != nil {
					if err := s.store.ClaimNationalID(ctx, *updated.NationalID, id); err != nil {
						return err
					}
				}
				ok, err := s.store.ReplacePerson(ctx, updated, version)
				if err != nil {
					return err
				}
				if !ok {
					return apperr.New(apperr.Conflict, "person %s was changed at the same time; reload and retry", id).With("field", "version")
				}
				if current.NationalID != nil && (updated.NationalID == nil || *updated.NationalID != *current.NationalID) {
					return s.store.ReleaseNationalID(ctx, *current.NationalID, id)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			return s.person(ctx, id)
		},
	})
}

// RecordConviction adds a conviction to a person's record (one atomic document update).
func (s *Service) RecordConviction(ctx context.Context, p *auth.Principal, personID string, in model.ConvictionInput, key string) (*model.Conviction, error) {
	var c model.Conviction
	return Perform(ctx, s, p, Mutation[model.Conviction]{
		Name: "recordConviction", Key: key, PersonID: personID, Event: model.PersonEventKindConvictionRecorded,
		Args: onPerson(personID, in),
		Validate: func() (err error) {
			c, err = register.NewConviction(in, s.today())
			return err
		},
		ProposeID: freshID("C-"),
		Check:     func(ctx context.Context, _ string) error { _, err := s.person(ctx, personID); return err },
		Apply: func(ctx context.Context, id string) (*model.Conviction, error) {
			c.ID = id
			for i := range c.Sentences {
				c.Sentences[i].ID = fmt.Sprintf("S%s-%d", c.ID[1:], i+1)
			}
			// A conviction recorded with its sentences already executed may be deemed not
			// convicted from the start: changeRecord files it in the copy only.
			var out model.Conviction
			err := s.changeRecord(ctx, personID, nil, func(r *model.CriminalRecord) error {
				if findConviction(r, c.ID) != nil {
					return store.ErrUnchanged // a retry: already recorded
				}
				r.Convictions = append(r.Convictions, c)
				return nil
			}, func(r *model.CriminalRecord) { out = *findConviction(r, c.ID) })
			return &out, err
		},
	})
}

func findConviction(r *model.CriminalRecord, id string) *model.Conviction {
	for _, list := range [][]model.Conviction{r.Convictions, r.ExpungedConvictions} {
		for i := range list {
			if list[i].ID == id {
				return &list[i]
			}
		}
	}
	return nil
}

func (s *Service) prison(ctx context.Context, field, id string) (*model.Prison, error) {
	found, err := s.store.PrisonsByIDs(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if found[id] == nil {
		return nil, apperr.BadInput(field, "no prison with ID %q", id)
	}
	return found[id], nil
}

// AdmitToDetention opens a detention period for a person who is not deprived of liberty now.
func (s *Service) AdmitToDetention(ctx context.Context, p *auth.Principal, personID string, in model.AdmissionInput, key string) (*model.DetentionPeriod, error) {
	var period model.DetentionPeriod
	return Perform(ctx, s, p, Mutation[model.DetentionPeriod]{
		Name: "admitToDetention", Key: key, PersonID: personID, Event: model.PersonEventKindAdmitted,
		Args: onPerson(personID, in),
		Validate: func() error {
			name, err := nonEmpty("input.responsibleAuthority.name", in.ResponsibleAuthority.Name)
			if err != nil {
				return err
			}
			if in.SentenceID == nil && in.Kind == model.DetentionKindImprisonment {
				return apperr.BadInput("input.sentenceId", "an IMPRISONMENT admission names the sentence it executes")
			}
			period = model.DetentionPeriod{Kind: in.Kind, Start: in.Start, PrisonID: in.PrisonID, SentenceID: in.SentenceID, ExpectedRelease: in.ExpectedRelease,
				ResponsibleAuthority: &model.Authority{Kind: in.ResponsibleAuthority.Kind, Name: name, CaseReference: in.ResponsibleAuthority.CaseReference}}
			return nil
		},
		ProposeID: freshID("D-"),
		Check: func(ctx context.Context, _ string) error {
			if _, err := s.person(ctx, personID); err != nil {
				return err
			}
			prison, err := s.prison(ctx, "input.prisonId", in.PrisonID)
			if err != nil {
				return err
			}
			if !register.PrisonAccepts(prison.Kind, in.Kind) {
				return apperr.BadInput("input.prisonId", "a %s cannot hold %s", prison.Kind, in.Kind)
			}
			if in.SentenceID != nil {
				return s.checkExecution(ctx, p, personID, *in.SentenceID, model.SentenceStatusBeingServed, in.Start)
			}
			return nil
		},
		Apply: func(ctx context.Context, id string) (*model.DetentionPeriod, error) {
			period.ID = id
			today := s.today()
			rec, err := s.store.UpdateDetentionRecord(ctx, personID, func(r *model.DetentionRecord) error {
				if findPeriod(r, period.ID) != nil {
					return store.ErrUnchanged // a retry: already admitted
				}
				if err := register.Admit(r.Periods, period, today); err != nil {
					return err
				}
				r.Periods = append(r.Periods, period)
				return nil
			})
			if err != nil {
				return nil, err
			}
			if in.SentenceID != nil { // the period first, then its sentence (DESIGN §7a)
				if err := s.executeSentence(ctx, personID, *in.SentenceID, model.SentenceStatusBeingServed, in.Start); err != nil {
					return nil, err
				}
			}
			return findPeriod(&rec, period.ID), nil
		},
	})
}

func nonEmpty(field, v string) (string, error) {
	if len(v) == 0 || len(v) > 200 {
		return "", apperr.BadInput(field, "%s must be 1 to 200 characters", field)
	}
	return v, nil
}

// executedBy is the sentence a release as SENTENCE_SERVED of the period ends ("" for none).
func (s *Service) executedBy(ctx context.Context, personID, periodID string, reason model.ReleaseReason) (string, error) {
	if reason != model.ReleaseReasonSentenceServed {
		return "", nil
	}
	found, err := s.store.DetentionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, false)
	if err != nil || found[personID] == nil {
		return "", err
	}
	if q := findPeriod(found[personID], periodID); q != nil && q.SentenceID != nil {
		return *q.SentenceID, nil
	}
	return "", nil
}

func findPeriod(r *model.DetentionRecord, id string) *model.DetentionPeriod {
	for i := range r.Periods {
		if r.Periods[i].ID == id {
			return &r.Periods[i]
		}
	}
	return nil
}

// TransferDetention ends the open period on the day and opens the next one in another prison
// the same day (one atomic document update).
func (s *Service) TransferDetention(ctx context.Context, p *auth.Principal, personID string, in model.TransferInput, key string) (*model.DetentionPeriod, error) {
	var prison *model.Prison
	return Perform(ctx, s, p, Mutation[model.DetentionPeriod]{
		Name: "transferDetention", Key: key, PersonID: personID, Event: model.PersonEventKindTransferred,
		Args:      onPerson(personID, in),
		ProposeID: freshID("D-"),
		Check: func(ctx context.Context, _ string) (err error) {
			if _, err := s.person(ctx, personID); err != nil {
				return err
			}
			prison, err = s.prison(ctx, "input.toPrisonId", in.ToPrisonID)
			return err
		},
		Apply: func(ctx context.Context, id string) (*model.DetentionPeriod, error) {
			today := s.today()
			rec, err := s.store.UpdateDetentionRecord(ctx, personID, func(r *model.DetentionRecord) error {
				if findPeriod(r, id) != nil {
					return store.ErrUnchanged
				}
				open, err := register.OpenPeriod(r.Periods, "transfer")
				if err != nil {
					return err
				}
				if err := register.EndPeriod(open, in.Date, today); err != nil {
					return err
				}
				if open.PrisonID == in.ToPrisonID {
					return apperr.BadInput("input.toPrisonId", "the person is already in %s", in.ToPrisonID)
				}
				if !register.PrisonAccepts(prison.Kind, open.Kind) {
					return apperr.BadInput("input.toPrisonId", "a %s cannot hold %s", prison.Kind, open.Kind)
				}
				next := *open
				next.ID, next.Start, next.PrisonID, next.End, next.ReleaseReason = id, in.Date, in.ToPrisonID, nil, nil
				end, reason := in.Date, model.ReleaseReasonTransfer
				open.End, open.ReleaseReason = &end, &reason
				r.Periods = append(r.Periods, next)
				return nil
			})
			if err != nil {
				return nil, err
			}
			return findPeriod(&rec, id), nil
		},
	})
}

// ReleaseFromDetention ends the open period. The period a release ends is the one open when
// the release is first requested; the key's record fixes it, so a retry recognises its own
// release.
func (s *Service) ReleaseFromDetention(ctx context.Context, p *auth.Principal, personID string, in model.ReleaseInput, key string) (*model.DetentionPeriod, error) {
	return Perform(ctx, s, p, Mutation[model.DetentionPeriod]{
		Name: "releaseFromDetention", Key: key, PersonID: personID, Event: model.PersonEventKindReleased,
		Args: onPerson(personID, in),
		Validate: func() error {
			if in.Reason == model.ReleaseReasonTransfer || in.Reason == model.ReleaseReasonChangeOfTitle {
				return apperr.BadInput("input.reason", "use transferDetention for %s", in.Reason)
			}
			return nil
		},
		ProposeID: func(ctx context.Context) (string, error) {
			current, err := s.store.DetentionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, false)
			if err != nil {
				return "", err
			}
			openID := ""
			if rec := current[personID]; rec != nil {
				for _, q := range rec.Periods {
					if q.End == nil {
						openID = q.ID
					}
				}
			}
			return openID, nil
		},
		Check: func(ctx context.Context, released string) error {
			if _, err := s.person(ctx, personID); err != nil {
				return err
			}
			sentenceID, err := s.executedBy(ctx, personID, released, in.Reason)
			if err != nil || sentenceID == "" {
				return err
			}
			return s.checkExecution(ctx, p, personID, sentenceID, model.SentenceStatusServed, in.Date)
		},
		Apply: func(ctx context.Context, released string) (*model.DetentionPeriod, error) {
			today := s.today()
			rec, err := s.store.UpdateDetentionRecord(ctx, personID, func(r *model.DetentionRecord) error {
				if mine := findPeriod(r, released); mine != nil && mine.End != nil && *mine.End == in.Date && mine.ReleaseReason != nil && *mine.ReleaseReason == in.Reason {
					return store.ErrUnchanged // this release was recorded (a retry)
				}
				open, err := register.OpenPeriod(r.Periods, "release")
				if err != nil {
					return err
				}
				if open.ID != released {
					return apperr.New(apperr.Conflict, "the person's detention changed since this release was first requested; reload and retry with a new idempotencyKey")
				}
				if err := register.EndPeriod(open, in.Date, today); err != nil {
					return err
				}
				end, reason := in.Date, in.Reason
				open.End, open.ReleaseReason = &end, &reason
				return nil
			})
			if err != nil {
				return nil, err
			}
			// A release as SENTENCE_SERVED ends the sentence too: the period first, then the
			// sentence, so a crash in between leaves the sentence BEING_SERVED (expungement
			// stays refused) until the retry completes it.
			sentenceID, err := s.executedBy(ctx, personID, released, in.Reason)
			if err == nil && sentenceID != "" {
				err = s.executeSentence(ctx, personID, sentenceID, model.SentenceStatusServed, in.Date)
			}
			if err != nil {
				return nil, err
			}
			return findPeriod(&rec, released), nil
		},
	})
}

// UpsertPrison creates a prison (no ID) or changes one at its current version.
func (s *Service) UpsertPrison(ctx context.Context, p *auth.Principal, in model.PrisonInput, key string) (*model.Prison, error) {
	var prison model.Prison
	load := func(ctx context.Context, id string) (*model.Prison, error) {
		found, err := s.store.PrisonsByIDs(ctx, []string{id})
		if err != nil {
			return nil, err
		}
		if found[id] == nil {
			return nil, apperr.NotFoundf("no prison with ID %q", id)
		}
		return found[id], nil
	}
	proposed := freshID("PRS-")
	if in.ID != nil {
		proposed = fixedID(*in.ID)
	}
	return Perform(ctx, s, p, Mutation[model.Prison]{
		Name: "upsertPrison", Key: key, Args: in,
		Validate: func() (err error) {
			if in.ID != nil && in.Version == nil {
				return apperr.BadInput("input.version", "changing a prison needs its current version")
			}
			prison, err = register.NewPrison(in)
			return err
		},
		ProposeID: proposed,
		Check: func(ctx context.Context, id string) error {
			if in.ID == nil {
				return nil
			}
			current, err := load(ctx, id)
			if err != nil {
				return err
			}
			if current.LastWrite != key && current.Version != *in.Version {
				return apperr.New(apperr.Conflict, "prison %s was changed since version %d (now %d); reload and retry", current.ID, *in.Version, current.Version).With("field", "input.version")
			}
			return nil
		},
		Apply: func(ctx context.Context, id string) (*model.Prison, error) {
			prison.ID, prison.LastWrite = id, key
			if in.ID == nil {
				prison.Version = 1
				if err := s.store.InsertPrison(ctx, prison); err != nil {
					return nil, err
				}
				return load(ctx, id)
			}
			current, err := load(ctx, id)
			if err != nil || current.LastWrite == key {
				return current, err // a change applied before a crash: the retry completes it
			}
			prison.Version = *in.Version + 1
			ok, err := s.store.ReplacePrison(ctx, prison, *in.Version)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, apperr.New(apperr.Conflict, "prison %s was changed at the same time; reload and retry", current.ID).With("field", "input.version")
			}
			return load(ctx, id)
		},
	})
}

// onPerson is the request of a write to one person's record, as its idempotency key binds it.
func onPerson(personID string, in any) any {
	return struct {
		PersonID string
		In       any
	}{personID, in}
}

// RecordExpectedRelease sets (or, with nil, clears) the expected release of the person's open
// detention period. The period is the one open when the write is first requested; the key's
// record fixes it, so a retry recognises its own write.
func (s *Service) RecordExpectedRelease(ctx context.Context, p *auth.Principal, personID string, expected *model.Date, key string) (*model.DetentionPeriod, error) {
	same := func(d *model.Date) bool { return (d == nil) == (expected == nil) && (d == nil || *d == *expected) }
	return Perform(ctx, s, p, Mutation[model.DetentionPeriod]{
		Name: "recordExpectedRelease", Key: key, PersonID: personID, Event: model.PersonEventKindExpectedReleaseChanged,
		Args: onPerson(personID, expected),
		ProposeID: func(ctx context.Context) (string, error) {
			current, err := s.store.DetentionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, false)
			if err != nil {
				return "", err
			}
			if rec := current[personID]; rec != nil {
				if open := register.OpenPeriodOf(rec.Periods); open != nil {
					return open.ID, nil
				}
			}
			return "", nil
		},
		Check: func(ctx context.Context, periodID string) error {
			if _, err := s.person(ctx, personID); err != nil {
				return err
			}
			if periodID == "" {
				return apperr.New(apperr.Conflict, "cannot record an expected release: the person is not deprived of liberty")
			}
			current, err := s.store.DetentionsByPersonIDs(ctx, store.Scope{HideBlocked: true}, []string{personID}, false)
			if err != nil || current[personID] == nil {
				return err
			}
			if q := findPeriod(current[personID], periodID); q != nil && expected != nil && expected.Before(q.Start) {
				return apperr.BadInput("expectedRelease", "expectedRelease %s is before the detention period's start %s", *expected, q.Start)
			}
			return nil
		},
		Apply: func(ctx context.Context, periodID string) (*model.DetentionPeriod, error) {
			rec, err := s.store.UpdateDetentionRecord(ctx, personID, func(r *model.DetentionRecord) error {
				mine := findPeriod(r, periodID)
				if mine != nil && same(mine.ExpectedRelease) {
					return store.ErrUnchanged // recorded already (a retry)
				}
				open, err := register.OpenPeriod(r.Periods, "record an expected release")
				if err != nil {
					return err
				}
				if open.ID != periodID {
					return apperr.New(apperr.Conflict, "the person's detention changed since this write was first requested; reload and retry with a new idempotencyKey")
				}
				if expected != nil && expected.Before(open.Start) {
					return apperr.BadInput("expectedRelease", "expectedRelease %s is before the detention period's start %s", *expected, open.Start)
				}
				if expected == nil {
					open.ExpectedRelease = nil
				} else {
					d := *expected
					open.ExpectedRelease = &d
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			return findPeriod(&rec, periodID), nil
		},
	})
}
