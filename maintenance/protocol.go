package maintenance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"custodia/apperr"
	"custodia/auth"
	"custodia/grants"
	"custodia/model"
	"custodia/store"
)

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,100}$`)

// Mutation describes one register write for Perform, which runs the write protocol every
// mutation of the register follows. T is the entity the mutation answers with (model.Person,
// model.Conviction, model.Sentence, model.DetentionPeriod, model.Prison).
type Mutation[T any] struct {
	// Name is the GraphQL mutation, recorded in the audit trail and in the key's record.
	Name string
	// Key is the caller's idempotency key.
	Key string
	// Args is everything the caller sent; its hash binds the key to this request, so the same
	// key with another request is CONFLICT.
	Args any
	// PersonID is the person the write concerns ("" for none), for the audit trail.
	PersonID string
	// Event is what the write tells watchers of PersonID (package watch), "" for nothing. The
	// event names the write's entity (the ID ProposeID fixed) and is logged by Perform.
	Event model.PersonEventKind
	// EventEntity, if set, is the record the event names instead of the write's entity (a
	// correction's event names the corrected record, not the correction).
	EventEntity string
	// Validate checks the input alone, before anything is read or written (BAD_USER_INPUT).
	Validate func() error
	// ProposeID gives the ID of the entity the write creates or changes; it is fixed in the
	// key's record before anything is written, so a retry after a crash writes the same entity.
	ProposeID func(ctx context.Context) (string, error)
	// Check tests the write against the stored data before it is audited and applied
	// (NOT_FOUND, CONFLICT, BAD_USER_INPUT); optional. It runs only for a write not yet done, so
	// a retry of a completed write returns its answer whatever happened since.
	Check func(ctx context.Context, entityID string) error
	// Apply makes the write and returns the entity as the write left it. It must recognise a
	// write it already made (a retry after a crash between Apply and the answer's record) and
	// then change nothing.
	Apply func(ctx context.Context, entityID string) (*T, error)
}

// Perform runs the write protocol, in this order, for every register mutation:
//
//  1. validate the input (nothing read or written on bad input);
//  2. claim the idempotency key for this request — a key already completed returns the answer
//     recorded the first time, byte for byte, and writes nothing;
//  3. check the write against the stored data;
//  4. record the write in the audit trail (fail closed: no audit entry, no write);
//  5. apply it;
//  6. log the write's event, if it has one (once per write, also across retries);
//  7. record the answer under the key, and return it as retries will read it.
//
// A crash between two steps leaves a state a retry with the same key completes.
func Perform[T any](ctx context.Context, s *Service, p *auth.Principal, m Mutation[T]) (*T, error) {
	if !keyPattern.MatchString(m.Key) {
		return nil, apperr.BadInput("idempotencyKey", "idempotencyKey must be 8 to 100 letters, digits or ._:- (a UUID is a good choice)")
	}
	if m.Validate != nil {
		if err := m.Validate(); err != nil {
			return nil, err
		}
	}
	raw, err := json.Marshal(m.Args)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte(m.Name+"\x00"), raw...))
	proposed, err := m.ProposeID(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := s.store.ClaimIdempotency(ctx, p.Subject, m.Key, m.Name, hex.EncodeToString(sum[:]), proposed)
	if err != nil {
		return nil, err
	}
	if rec.Done && rec.Answer != nil {
		var answer T
		if err := store.DecodeAnswer(rec, &answer); err != nil {
			return nil, err
		}
		// The recorded answer must be about the request's person: a record edited by hand to
		// name another would let a retry read that person's data through the answer's links.
		if owner := store.AnswerPerson(&answer); m.PersonID != "" && owner != "" && owner != m.PersonID {
			return nil, fmt.Errorf("the idempotency record of a %s names another person than its request (edited by hand)", m.Name)
		}
		return &answer, nil
	}
	if m.Check != nil {
		if err := m.Check(ctx, rec.EntityID); err != nil {
			return nil, err
		}
	}
	e := &model.AuditEntry{Kind: model.AuditKindWrite, Outcome: model.AuditOutcomeAllowed,
		Write: &model.Write{Mutation: m.Name, PersonID: m.PersonID, EntityID: rec.EntityID}}
	grants.Actor(p, e)
	if m.PersonID != "" {
		e.PersonIDs = []string{m.PersonID}
	}
	if err := s.trail.Append(ctx, e); err != nil {
		return nil, err
	}
	answer, err := m.Apply(ctx, rec.EntityID)
	if err != nil {
		return nil, err
	}
	if err := s.logEvent(ctx, rec, m.Event, m.EventEntity, m.PersonID); err != nil {
		return nil, err
	}
	if err := s.store.CompleteIdempotency(ctx, rec, answer); err != nil {
		return nil, err
	}
	return answer, nil
}

// fixedID is a ProposeID for writes whose entity is known from the request.
func fixedID(id string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return id, nil }
}

// freshID is a ProposeID for writes that create an entity with a new random ID.
func freshID(prefix string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return newID(prefix), nil }
}

// logEvent writes the event of a completed Apply to the event log and hands it to the
// service's OnEvent (this instance's watchers). It runs before the answer is recorded, so a
// crash between Apply and the event is completed by the retry.
func (s *Service) logEvent(ctx context.Context, rec store.Idempotency, kind model.PersonEventKind, entityID, personID string) error {
	if kind == "" || personID == "" {
		return nil
	}
	if entityID == "" {
		entityID = rec.EntityID
	}
	e := model.PersonEvent{Kind: kind, PersonID: personID, EntityID: entityID, OccurredAt: time.Now().UTC()}
	if err := s.store.AppendEvent(ctx, rec.ID, &e); err != nil {
		return err
	}
	if s.OnEvent != nil {
		s.OnEvent(e)
	}
	return nil
}
