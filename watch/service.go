package watch

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"custodia/apperr"
	"custodia/audit"
	"custodia/auth"
	"custodia/grants"
	"custodia/model"
	"custodia/policy"
	"custodia/register"
	"custodia/store"
)

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// MaxPersons bounds the persons of one watchPersons subscription.
const MaxPersons = 200

// Service opens subscriptions and authorises and audits every delivery.
type Service struct {
	Hub    *Hub
	store  *store.Store
	grants *grants.Service
	policy *policy.Policy
	trail  *audit.Trail

	lookups singleflight.Group
}

// NewService makes the service over a hub.
func NewService(h *Hub, st *store.Store, g *grants.Service, pol *policy.Policy, trail *audit.Trail) *Service {
	return &Service{Hub: h, store: st, grants: g, policy: pol, trail: trail}
}

// Request is one subscription as asked for.
type Request struct {
	// Operation is the root field (watchPerson, watchPersons), recorded in the audit trail.
	Operation string
	Persons   []string
	Purpose   model.PurposeInput
	// After is the last event ID the client received ("" for live events only).
	After string
	// RequestID and Client identify the connection in the audit trail.
	RequestID, Client string
}

// Open checks the request (persons readable by the caller: absent and out-of-caseload persons
// are the same NOT_FOUND; the resume point within retention; the subject's subscription
// count) and returns the stream of events to send. The stream ends when ctx ends, or with a
// last value whose End is the reason: a grant no longer active (GRANT_*), a purpose no longer
// allowed (FORBIDDEN), the audit trail unavailable or the server shutting down
// (SERVICE_UNAVAILABLE).
func (s *Service) Open(ctx context.Context, p *auth.Principal, req Request) (<-chan *model.PersonEvent, error) {
	if len(req.Persons) == 0 || len(req.Persons) > MaxPersons {
		return nil, apperr.BadInput("personIds", "watch 1 to %d persons", MaxPersons)
	}
	persons := slices.Compact(slices.Sorted(slices.Values(req.Persons)))
	found, err := s.store.PersonsByIDs(ctx, grants.Scope(p), persons)
	if err != nil {
		return nil, err
	}
	for _, id := range persons {
		if found[id] == nil {
			return nil, apperr.NotFoundf("no person with ID %q", id)
		}
	}
	if req.After != "" {
		at, ok := store.EventTime(req.After)
		if !ok {
			return nil, apperr.BadInput("after", "after is not an event ID")
		}
		if time.Since(at) > s.Hub.cfg.Retention {
			return nil, apperr.BadInput("after", "events before %s are no longer kept; resubscribe without after", time.Now().Add(-s.Hub.cfg.Retention).UTC().Format(time.RFC3339))
		}
	}
	sub, err := s.Hub.Subscribe(p.Subject, persons)
	if err != nil {
		return nil, err
	}
	out := make(chan *model.PersonEvent)
	go s.deliver(ctx, p, req, persons, sub, out)
	return out, nil
}

// deliver replays what the client missed, then forwards live events, authorising and
// auditing each.
func (s *Service) deliver(ctx context.Context, p *auth.Principal, req Request, persons []string, sub *Sub, out chan<- *model.PersonEvent) {
	defer close(out)
	defer sub.Close()
	sent := map[string]bool{}
	send := func(e model.PersonEvent) bool {
		if sent[e.Key] {
			return true
		}
		sent[e.Key] = true
		ok, err := s.authorise(ctx, p, req, e)
		if err != nil {
			s.end(ctx, out, err)
			return false
		}
		if !ok {
			return true
		}
		select {
		case out <- &e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for cursor := req.After; cursor != ""; {
		page, err := s.store.EventsAfter(ctx, cursor, 500)
		if err != nil {
			s.end(ctx, out, apperr.Unavailable(err))
			return
		}
		for _, e := range page.Events {
			if slices.Contains(persons, e.PersonID) && !send(e) {
				return
			}
		}
		if !page.More {
			break
		}
		cursor = page.Next
	}
	recheck := time.NewTicker(s.Hub.cfg.Recheck)
	defer recheck.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-recheck.C: // a grant ended meanwhile ends the subscription even without events
			if err := s.current(ctx, p, req); err != nil {
				s.end(ctx, out, err)
				return
			}
		case err := <-sub.Ended():
			s.end(ctx, out, err)
			return
		case e := <-sub.Events():
			if !send(e) {
				return
			}
		}
	}
}

func (s *Service) end(ctx context.Context, out chan<- *model.PersonEvent, reason error) {
	select {
	case out <- &model.PersonEvent{End: reason, OccurredAt: time.Now().UTC()}:
	case <-ctx.Done():
	}
}

// authorise decides one delivery against the caller's grant as it is now: an error ends the
// subscription; false skips the event unseen (a person no longer in the caseload, or an event
// the role may not be told of: see visible). A delivered event is audited first (fail closed).
func (s *Service) authorise(ctx context.Context, p *auth.Principal, req Request, e model.PersonEvent) (bool, error) {
	now, err := s.principalNow(ctx, p, req)
	if err != nil {
		return false, err
	}
	if scope := grants.Scope(now); scope.Restricted && !slices.Contains(scope.Caseload, e.PersonID) {
		return false, nil
	}
	if ok, err := s.visible(ctx, now.Role, e); err != nil || !ok {
		return false, err
	}
	field := model.EventReferenceField[e.Kind]
	entry := &model.AuditEntry{Kind: model.AuditKindOperation, Outcome: model.AuditOutcomeAllowed,
		OperationName: &req.Operation, Purpose: &model.AuditPurpose{CaseReference: req.Purpose.CaseReference, Reason: req.Purpose.Reason},
		Coordinates: []string{"Subscription." + req.Operation, "PersonEvent." + field}, PersonIDs: []string{e.PersonID}}
	grants.Actor(now, entry)
	if req.RequestID != "" {
		entry.RequestID = &req.RequestID
	}
	if req.Client != "" {
		entry.ClientAddress = &req.Client
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.trail.Append(actx, entry); err != nil {
		return false, apperr.New(apperr.ServiceUnavailable, "the delivery could not be recorded in the audit trail, so the subscription ends; resubscribe shortly with after set to the last event ID received")
	}
	return true, nil
}

// principalNow is the caller with the grant the database holds now (through the grant
// service's short cache): an error if it is no longer active or no longer allows the purpose.
func (s *Service) principalNow(ctx context.Context, p *auth.Principal, req Request) (*auth.Principal, error) {
	// Deliveries of one event to many subscriptions of one official share one lookup.
	v, err, _ := s.lookups.Do(strings.Join([]string{p.Subject, string(p.Role), p.Agency, p.Name, p.Username, p.Email}, "\x00"), func() (any, error) {
		now := *p
		now.Grant, now.GrantErr = nil, nil
		return &now, s.grants.Check(context.WithoutCancel(ctx), &now)
	})
	if err != nil {
		if c := apperr.CodeOf(err); c == apperr.Internal || c == apperr.ServiceUnavailable {
			return nil, apperr.Unavailable(err)
		}
		return nil, err
	}
	now := *v.(*auth.Principal)
	if err := grants.CheckPurpose(&now, req.Purpose.Reason); err != nil {
		return nil, err
	}
	return &now, nil
}

// current checks the caller's grant without an event (see principalNow).
func (s *Service) current(ctx context.Context, p *auth.Principal, req Request) error {
	_, err := s.principalNow(ctx, p, req)
	return err
}

// visible decides whether an event may be told to a reader in role, as its person and record
// read now — the rules of the read paths, so that a watch tells nothing a query would not show:
// the role may read the event kind's reference field (PersonEvent's @access); the person is
// not blocked, nor the record, for a role that does not see blocked data (DESIGN §7a); and
// for a role that may not read the full copy, the record is in the extract (DESIGN §4); for
// one that may not read convictions, a sentence is custodial (see view). The caseload is the
// caller's to check (it comes with the grant). Deliveries of one event to
// readers who see alike share one lookup.
func (s *Service) visible(ctx context.Context, role model.Role, e model.PersonEvent) (bool, error) {
	field, ok := model.EventReferenceField[e.Kind]
	if !ok || !s.policy.Allows(role, "PersonEvent."+field) {
		return false, nil
	}
	v := view{scope: store.Scope{HideBlocked: grants.HidesBlocked(role)}, copy: s.policy.ReadsCopy(role), convictions: s.policy.Allows(role, "Person.convictions")}
	if !v.scope.HideBlocked && v.copy && v.convictions {
		return true, nil // the register office sees every record
	}
	key := fmt.Sprintf("visible\x00%s\x00%+v", e.Key, v)
	seen, err, _ := s.lookups.Do(key, func() (any, error) {
		return s.recordVisible(context.WithoutCancel(ctx), v, e)
	})
	if err != nil {
		return false, apperr.Unavailable(err)
	}
	return seen.(bool), nil
}

// view is what a role reads of a person's record: blocked items or not (scope), the full copy
// or the extract, convictions with all their sentences or — a role that reads sentences only
// through detention periods (PRISON_SERVICE) — only the custodial sentences a period executes
// (the rule package maintenance applies to such a writer's lookups).
type view struct {
	scope       store.Scope
	copy        bool
	convictions bool
}

// recordVisible reads the event's person and record as the view shows them.
func (s *Service) recordVisible(ctx context.Context, v view, e model.PersonEvent) (bool, error) {
	scope, copy := v.scope, v.copy
	persons, err := s.store.PersonsByIDs(ctx, scope, []string{e.PersonID})
	if err != nil || persons[e.PersonID] == nil || e.EntityID == e.PersonID {
		return err == nil && persons[e.PersonID] != nil, err
	}
	switch e.Kind {
	case model.PersonEventKindConvictionRecorded, model.PersonEventKindSentenceStatusChanged, model.PersonEventKindExpunged, model.PersonEventKindCorrected:
		found, err := s.store.ConvictionsByPersonIDs(ctx, scope, []string{e.PersonID}, copy)
		if err != nil {
			return false, err
		}
		for _, c := range found[e.PersonID] {
			if slices.ContainsFunc(c.Sentences, func(x model.Sentence) bool { return x.ID == e.EntityID && (v.convictions || register.Custodial(&x)) }) ||
				v.convictions && (c.ID == e.EntityID || slices.ContainsFunc(c.Offences, func(x model.Offence) bool { return x.ID == e.EntityID })) {
				return true, nil
			}
		}
		if e.Kind != model.PersonEventKindCorrected {
			return false, nil
		}
	}
	switch e.Kind {
	case model.PersonEventKindAdmitted, model.PersonEventKindTransferred, model.PersonEventKindReleased, model.PersonEventKindExpectedReleaseChanged, model.PersonEventKindCorrected:
		found, err := s.store.DetentionsByPersonIDs(ctx, scope, []string{e.PersonID}, copy)
		if err != nil || found[e.PersonID] == nil {
			return false, err
		}
		return slices.ContainsFunc(found[e.PersonID].Periods, func(x model.DetentionPeriod) bool { return x.ID == e.EntityID }), nil
	}
	return false, nil
}
