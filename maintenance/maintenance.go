// Package maintenance performs the register writes of DESIGN §4 — persons (REGISTRAR),
// convictions and expungements (COURT, REGISTRAR), admissions, transfers and releases
// (PRISON_SERVICE), prisons (PRISON_SERVICE, REGISTRAR) — so that nothing is lost or doubled
// without relying on transactions (DESIGN §8):
//
//   - every write carries an idempotency key; the key's record fixes the ID of the entity the
//     write creates or changes before anything is written, so a retry — also after a crash
//     half-way — completes the same write or returns its result, and writes nothing new;
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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/model"
	"custodia/register"
	"custodia/store"
)

// Service performs register writes.
type Service struct {
	store *store.Store
	trail *audit.Trail
	now   func() time.Time
}

// New makes the service.
func New(s *store.Store, trail *audit.Trail, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, trail: trail, now: now}
}

func (s *Service) today() model.Date { return model.DateOf(s.now().UTC()) }

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,100}$`)

// write is one write in progress.
type write struct {
	idem  store.Idempotency
	fresh bool
}

// begin validates the key, claims it for this mutation and input, and audits the write before
// it is applied. proposedID is the entity ID to use if the key is new.
func (s *Service) begin(ctx context.Context, p *auth.Principal, mutation, key string, args any, proposedID, personID string) (write, error) {
	if !keyPattern.MatchString(key) {
		return write{}, apperr.BadInput("idempotencyKey", "idempotencyKey must be 8 to 100 letters, digits or ._:- (a UUID is a good choice)")
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return write{}, err
	}
	sum := sha256.Sum256(append([]byte(mutation+"\x00"), raw...))
	idem, err := s.store.ClaimIdempotency(ctx, p.Subject, key, mutation, hex.EncodeToString(sum[:]), proposedID)
	if err != nil {
		return write{}, err
	}
	if idem.Done {
		return write{idem: idem}, nil
	}
	e := &model.AuditEntry{Kind: model.AuditKindWrite, Outcome: model.AuditOutcomeAllowed,
		Write: &model.Write{Mutation: mutation, PersonID: personID, EntityID: idem.EntityID}}
	grants.Actor(p, e)
	if personID != "" {
		e.PersonIDs = []string{personID}
	}
	if err := s.trail.Append(ctx, e); err != nil {
		return write{}, err
	}
	return write{idem: idem, fresh: true}, nil
}

func (s *Service) done(ctx context.Context, w write) error {
	if !w.fresh {
		return nil
	}
	return s.store.MarkIdempotencyDone(ctx, w.idem.ID)
}

func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// person loads a person (unrestricted: writers are never REINTEGRATION); NOT_FOUND if absent.
func (s *Service) person(ctx context.Context, id string) (*model.Person, error) {
	found, err := s.store.PersonsByIDs(ctx, store.Scope{}, []string{id})
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
	person, err := register.NewPerson(in, s.today())
	if err != nil {
		return nil, err
	}
	w, err := s.begin(ctx, p, "registerPerson", key, in, newID("P-"), "")
	if err != nil {
		return nil, err
	}
	if !w.fresh {
		return s.person(ctx, w.idem.EntityID)
	}
	person.ID, person.Version, person.LastWrite = w.idem.EntityID, 1, key
	err = s.store.InTransaction(ctx, func(ctx context.Context) error {
		if person.NationalID != nil {
			if err := s.store.ClaimNationalID(ctx, *person.NationalID, person.ID); err != nil {
				return err
			}
		}
		_, err := s.store.WritePerson(ctx, nil, person)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.done(ctx, w); err != nil {
		return nil, err
	}
	return s.person(ctx, person.ID)
}

// UpdatePerson replaces a person's identity data at the given version. A new national ID is
// reserved before the person changes and the old one released after.
func (s *Service) UpdatePerson(ctx context.Context, p *auth.Principal, id string, version int, in model.PersonInput, key string) (*model.Person, error) {
	updated, err := register.NewPerson(in, s.today())
	if err != nil {
		return nil, err
	}
	w, err := s.begin(ctx, p, "updatePerson", key, struct {
		ID      string
		Version int
		In      model.PersonInput
	}{id, version, in}, id, id)
	if err != nil {
		return nil, err
	}
	current, err := s.person(ctx, id)
	if err != nil {
		return nil, err
	}
	if !w.fresh || current.LastWrite == key {
		_ = s.done(ctx, write{idem: w.idem, fresh: true})
		return current, nil // a retry of an update that was applied
	}
	if current.Version != version {
		return nil, apperr.New(apperr.Conflict, "person %s was changed since version %d (now %d); reload and retry", id, version, current.Version).With("field", "version")
	}
	updated.ID, updated.Version, updated.LastWrite = id, version+1, key
	err = s.store.InTransaction(ctx, func(ctx context.Context) error {
		if updated.NationalID != nil {
			if err := s.store.ClaimNationalID(ctx, *updated.NationalID, id); err != nil {
				return err
			}
		}
		ok, err := s.store.WritePerson(ctx, current, updated)
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
	if err := s.done(ctx, w); err != nil {
		return nil, err
	}
	return s.person(ctx, id)
}

// RecordConviction adds a conviction to a person's record (one atomic document update).
func (s *Service) RecordConviction(ctx context.Context, p *auth.Principal, personID string, in model.ConvictionInput, key string) (*model.Conviction, error) {
	c, err := register.NewConviction(in, s.today())
	if err != nil {
		return nil, err
	}
	if _, err := s.person(ctx, personID); err != nil {
		return nil, err
	}
	w, err := s.begin(ctx, p, "recordConviction", key, struct {
		PersonID string
		In       model.ConvictionInput
	}{personID, in}, newID("C-"), personID)
	if err != nil {
		return nil, err
	}
	c.ID = w.idem.EntityID
	for i := range c.Sentences {
		c.Sentences[i].ID = fmt.Sprintf("S%s-%d", c.ID[1:], i+1)
	}
	rec, err := s.store.UpdateCriminalRecord(ctx, personID, func(r *model.CriminalRecord) error {
		if findConviction(r, c.ID) != nil {
			return store.ErrUnchanged // a retry: already recorded
		}
		r.Convictions = append(r.Convictions, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.done(ctx, w); err != nil {
		return nil, err
	}
	return findConviction(&rec, c.ID), nil
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

// RecordExpungement moves a conviction from the extract to the expunged part of the record.
func (s *Service) RecordExpungement(ctx context.Context, p *auth.Principal, personID, convictionID string, on model.Date, key string) (*model.Conviction, error) {
	if on.After(s.today()) {
		return nil, apperr.BadInput("expungedOn", "expungedOn (%s) cannot be in the future", on)
	}
	w, err := s.begin(ctx, p, "recordExpungement", key, []string{personID, convictionID, string(on)}, convictionID, personID)
	if err != nil {
		return nil, err
	}
	rec, err := s.store.UpdateCriminalRecord(ctx, personID, func(r *model.CriminalRecord) error {
		i := slices.IndexFunc(r.Convictions, func(c model.Conviction) bool { return c.ID == convictionID })
		if i < 0 {
			if c := findConviction(r, convictionID); c != nil {
				if c.ExpungedOn != nil && *c.ExpungedOn == on {
					return store.ErrUnchanged // this expungement was recorded (a retry)
				}
				return apperr.New(apperr.Conflict, "conviction %s is already expunged (on %s)", convictionID, c.ExpungedOn)
			}
			return apperr.NotFoundf("no conviction %q of person %q", convictionID, personID)
		}
		c := r.Convictions[i]
		if on.Before(c.FinalDate) {
			return apperr.BadInput("expungedOn", "expungedOn (%s) cannot be before the conviction became final (%s)", on, c.FinalDate)
		}
		c.Expunged, c.ExpungedOn = true, &on
		r.Convictions = slices.Delete(r.Convictions, i, i+1)
		r.ExpungedConvictions = append(r.ExpungedConvictions, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.done(ctx, w); err != nil {
		return nil, err
	}
	return findConviction(&rec, convictionID), nil
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
	if _, err := s.person(ctx, personID); err != nil {
		return nil, err
	}
	prison, err := s.prison(ctx, "input.prisonId", in.PrisonID)
	if err != nil {
		return nil, err
	}
	if !register.PrisonAccepts(prison.Kind, in.Kind) {
		return nil, apperr.BadInput("input.prisonId", "a %s cannot hold %s", prison.Kind, in.Kind)
	}
	name, err := nonEmpty("input.responsibleAuthority.name", in.ResponsibleAuthority.Name)
	if err != nil {
		return nil, err
	}
	period := model.DetentionPeriod{Kind: in.Kind, Start: in.Start, PrisonID: in.PrisonID, SentenceID: in.SentenceID, ExpectedRelease: in.ExpectedRelease,
		ResponsibleAuthority: &model.Authority{Kind: in.ResponsibleAuthority.Kind, Name: name, CaseReference: in.ResponsibleAuthority.CaseReference}}
	if in.SentenceID != nil {
		if err := s.checkSentence(ctx, personID, *in.SentenceID); err != nil {
			return nil, err
		}
	} else if in.Kind == model.DetentionKindImprisonment {
		return nil, apperr.BadInput("input.sentenceId", "an IMPRISONMENT admission names the sentence it executes")
	}
	w, err := s.begin(ctx, p, "admitToDetention", key, struct {
		PersonID string
		In       model.AdmissionInput
	}{personID, in}, newID("D-"), personID)
	if err != nil {
		return nil, err
	}
	period.ID = w.idem.EntityID
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
	if err := s.done(ctx, w); err != nil {
		return nil, err
	}
	return findPeriod(&rec, period.ID), nil
}

func nonEmpty(field, v string) (string, error) {
	if len(v) == 0 || len(v) > 200 {
		return "", apperr.BadInput(field, "%s must be 1 to 200 characters", field)
	}
	return v, nil
}

func (s *Service) checkSentence(ctx context.Context, personID, sentenceID string) error {
	convictions, err := s.store.ConvictionsByPersonIDs(ctx, []string{personID}, false)
	if err != nil {
		return err
	}
	for _, c := range convictions[personID] {
		for _, sen := range c.Sentences {
			if sen.ID == sentenceID {
				return nil
			}
		}
	}
	return apperr.BadInput("input.sentenceId", "person %s has no unexpunged sentence %q", personID, sentenceID)
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
	if _, err := s.person(ctx, personID); err != nil {
		return nil, err
	}
	prison, err := s.prison(ctx, "input.toPrisonId", in.ToPrisonID)
	if err != nil {
		return nil, err
	}
	w, err := s.begin(ctx, p, "transferDetention", key, struct {
		PersonID string
		In       model.TransferInput
	}{personID, in}, newID("D-"), personID)
	if err != nil {
		return nil, err
	}
	today := s.today()
	rec, err := s.store.UpdateDetentionRecord(ctx, personID, func(r *model.DetentionRecord) error {
		if findPeriod(r, w.idem.EntityID) != nil {
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
		next.ID, next.Start, next.PrisonID, next.End, next.ReleaseReason = w.idem.EntityID, in.Date, in.ToPrisonID, nil, nil
		end, reason := in.Date, model.ReleaseReasonTransfer
		open.End, open.ReleaseReason = &end, &reason
		r.Periods = append(r.Periods, next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.done(ctx, w); err != nil {
		return nil, err
	}
	return findPeriod(&rec, w.idem.EntityID), nil
}

// ReleaseFromDetention ends the open period.
func (s *Service) ReleaseFromDetention(ctx context.Context, p *auth.Principal, personID string, in model.ReleaseInput, key string) (*model.DetentionPeriod, error) {
	if in.Reason == model.ReleaseReasonTransfer || in.Reason == model.ReleaseReasonChangeOfTitle {
		return nil, apperr.BadInput("input.reason", "use transferDetention for %s", in.Reason)
	}
	if _, err := s.person(ctx, personID); err != nil {
		return nil, err
	}
	// The period a release ends is the one open now; the key's record fixes it, so a retry
	// recognises its own release.
	current, err := s.store.DetentionsByPersonIDs(ctx, []string{personID})
	if err != nil {
		return nil, err
	}
	openID := ""
	if rec := current[personID]; rec != nil {
		for _, q := range rec.Periods {
			if q.End == nil {
				openID = q.ID
			}
		}
	}
	w, err := s.begin(ctx, p, "releaseFromDetention", key, struct {
		PersonID string
		In       model.ReleaseInput
	}{personID, in}, openID, personID)
	if err != nil {
		return nil, err
	}
	today := s.today()
	released := w.idem.EntityID
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
	if err := s.done(ctx, w); err != nil {
		return nil, err
	}
	return findPeriod(&rec, released), nil
}

// UpsertPrison creates a prison (no ID) or changes one at its current version.
func (s *Service) UpsertPrison(ctx context.Context, p *auth.Principal, in model.PrisonInput, key string) (*model.Prison, error) {
	prison, err := register.NewPrison(in)
	if err != nil {
		return nil, err
	}
	proposed := newID("PRS-")
	if in.ID != nil {
		proposed = *in.ID
		if in.Version == nil {
			return nil, apperr.BadInput("input.version", "changing a prison needs its current version")
		}
	}
	w, err := s.begin(ctx, p, "upsertPrison", key, in, proposed, "")
	if err != nil {
		return nil, err
	}
	load := func() (*model.Prison, error) {
		found, err := s.store.PrisonsByIDs(ctx, []string{w.idem.EntityID})
		if err != nil {
			return nil, err
		}
		if found[w.idem.EntityID] == nil {
			return nil, apperr.NotFoundf("no prison with ID %q", w.idem.EntityID)
		}
		return found[w.idem.EntityID], nil
	}
	prison.ID, prison.LastWrite = w.idem.EntityID, key
	if in.ID == nil {
		prison.Version = 1
		if err := s.store.InsertPrison(ctx, prison); err != nil {
			return nil, err
		}
	} else {
		current, err := load()
		if err != nil {
			return nil, err
		}
		if current.LastWrite != key {
			if current.Version != *in.Version {
				return nil, apperr.New(apperr.Conflict, "prison %s was changed since version %d (now %d); reload and retry", current.ID, *in.Version, current.Version).With("field", "input.version")
			}
			prison.Version = *in.Version + 1
			ok, err := s.store.ReplacePrison(ctx, prison, *in.Version)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, apperr.New(apperr.Conflict, "prison %s was changed at the same time; reload and retry", current.ID).With("field", "input.version")
			}
		}
	}
	if err := s.done(ctx, w); err != nil {
		return nil, err
	}
	return load()
}
