package grants

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"custodia/apperr"
	"custodia/auth"
	"custodia/model"
	"custodia/register"
	"custodia/store"
)

// newGrantID makes an ID that sorts by creation time (listing is newest first).
func newGrantID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("G-%013d-%s", now.UnixMilli(), hex.EncodeToString(b[:]))
}

func reasonText(field, reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return "", apperr.BadInput(field, "%s must be 1 to 500 characters", field)
	}
	return reason, nil
}

// Request records an access request for the principal's role and agency, with the token's
// identity. Allowed without a grant.
func (s *Service) Request(ctx context.Context, p *auth.Principal, in model.RequestAccessInput) (*model.AccessGrant, error) {
	justification, err := reasonText("input.justification", in.Justification)
	if err != nil {
		return nil, err
	}
	purposes := RolePurposes[p.Role]
	if in.Purposes != nil {
		for _, pc := range in.Purposes {
			if !slices.Contains(RolePurposes[p.Role], pc) {
				return nil, apperr.BadInput("input.purposes", "role %s cannot hold the purpose %s", p.Role, pc)
			}
		}
		purposes = in.Purposes
	}
	existing, err := s.store.GrantsFor(ctx, p.Subject, p.Role, p.Agency)
	if err != nil {
		return nil, err
	}
	for _, g := range existing {
		switch Effective(g, s.today()).Status {
		case model.GrantStatusRequested, model.GrantStatusApproved, model.GrantStatusActive, model.GrantStatusSuspended:
			return nil, apperr.New(apperr.Conflict, "you already have a grant for role %s at this agency in status %s", p.Role, Effective(g, s.today()).Status).With("grantId", g.ID)
		}
	}
	now := s.now().UTC()
	g := model.AccessGrant{
		ID: newGrantID(now), Subject: p.Subject, Agency: p.Agency, Role: p.Role, Status: model.GrantStatusRequested,
		IssuedTo:        model.GrantIdentity{Name: nonEmpty(p.Name), Username: nonEmpty(p.Username), Email: nonEmpty(p.Email)},
		AllowedPurposes: append([]model.PurposeCode{}, purposes...), Caseload: []string{},
		Justification: &justification, RequestedAt: now.Truncate(time.Millisecond), Version: 1,
	}
	if err := s.audit(ctx, p, g.ID, nil, model.GrantStatusRequested, justification); err != nil {
		return nil, err
	}
	if err := s.store.InsertGrant(ctx, g); err != nil {
		return nil, err
	}
	if err := s.publish(ctx, p, g, nil, model.GrantEventKindRequested, justification); err != nil {
		return nil, err
	}
	return &g, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Approve moves a request to APPROVED: only an approver of the same agency, never for their
// own request.
func (s *Service) Approve(ctx context.Context, p *auth.Principal, id string) (*model.AccessGrant, error) {
	if err := requireApprover(p); err != nil {
		return nil, err
	}
	return s.transition(ctx, p, id, "approve", []model.GrantStatus{model.GrantStatusRequested}, model.GrantStatusApproved, "",
		func(g *model.AccessGrant) error { return mayDecideForAgency(p, g) }, nil)
}

// Reject ends a request: a REQUESTED one by an approver of its agency, an APPROVED one by the
// register office.
func (s *Service) Reject(ctx context.Context, p *auth.Principal, id, reason string) (*model.AccessGrant, error) {
	reason, err := reasonText("reason", reason)
	if err != nil {
		return nil, err
	}
	if p.Role != model.RoleRegistrar {
		if err := requireApprover(p); err != nil {
			return nil, err
		}
	}
	return s.transition(ctx, p, id, "reject", []model.GrantStatus{model.GrantStatusRequested, model.GrantStatusApproved}, model.GrantStatusRejected, reason,
		func(g *model.AccessGrant) error {
			if g.Status == model.GrantStatusApproved {
				return requireRegistrar(p)
			}
			return mayDecideForAgency(p, g)
		}, nil)
}

// requireApprover refuses an official whose token does not name them approver — before any
// grant is read, so the refusal is the same whether the grant named exists or not.
func requireApprover(p *auth.Principal) error {
	if !p.Approver {
		return apperr.New(apperr.Forbidden, "only an approver of the agency may decide access requests (token claim approver)")
	}
	return nil
}

// mayDecideForAgency lets an approver decide a grant of their own agency, never their own.
// A grant of another agency is one the approver may not see (DESIGN §5): it reads as the same
// NOT_FOUND as a grant that does not exist, naming neither it nor its agency.
func mayDecideForAgency(p *auth.Principal, g *model.AccessGrant) error {
	switch {
	case !p.Approver:
		return requireApprover(p)
	case p.Agency != g.Agency:
		return apperr.NotFoundf("no access grant %q", g.ID)
	case p.Subject == g.Subject:
		return apperr.New(apperr.Forbidden, "you cannot decide your own access request")
	}
	return nil
}

func requireRegistrar(p *auth.Principal) error {
	if p.Role != model.RoleRegistrar {
		return apperr.New(apperr.Forbidden, "only the register office (REGISTRAR) may do this")
	}
	return nil
}

// Activate makes an approved grant ACTIVE (or reinstates a suspended one) with its validity,
// purposes and, for REINTEGRATION, caseload. Register office only.
func (s *Service) Activate(ctx context.Context, p *auth.Principal, id string, in model.ActivateAccessGrantInput) (*model.AccessGrant, error) {
	today := s.today()
	validUntil := today.AddDate(1, 0, 0)
	if in.ValidUntil != nil {
		if err := s.checkValidUntil(*in.ValidUntil); err != nil {
			return nil, err
		}
		validUntil = *in.ValidUntil
	}
	return s.transition(ctx, p, id, "activate", []model.GrantStatus{model.GrantStatusApproved, model.GrantStatusSuspended}, model.GrantStatusActive, "",
		func(g *model.AccessGrant) error { return requireRegistrar(p) },
		func(g *model.AccessGrant) error {
			if err := checkGrantChange(*g, in.AllowedPurposes, in.Caseload); err != nil {
				return err
			}
			if in.AllowedPurposes != nil {
				g.AllowedPurposes = in.AllowedPurposes
			}
			if in.Caseload != nil {
				g.Caseload = in.Caseload
			}
			g.ValidFrom, g.ValidUntil = &today, &validUntil
			return nil
		})
}

// Suspend stops an ACTIVE grant until the register office reinstates it.
func (s *Service) Suspend(ctx context.Context, p *auth.Principal, id, reason string) (*model.AccessGrant, error) {
	reason, err := reasonText("reason", reason)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, p, id, "suspend", []model.GrantStatus{model.GrantStatusActive}, model.GrantStatusSuspended, reason,
		func(*model.AccessGrant) error { return requireRegistrar(p) }, nil)
}

// Revoke ends a grant for good.
func (s *Service) Revoke(ctx context.Context, p *auth.Principal, id, reason string) (*model.AccessGrant, error) {
	reason, err := reasonText("reason", reason)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, p, id, "revoke", []model.GrantStatus{model.GrantStatusActive, model.GrantStatusSuspended, model.GrantStatusApproved}, model.GrantStatusRevoked, reason,
		func(*model.AccessGrant) error { return requireRegistrar(p) }, nil)
}

// Reconfirm lifts an identity-change suspension of the caller's own grant, recording the
// token's current identity.
func (s *Service) Reconfirm(ctx context.Context, p *auth.Principal, id string) (*model.AccessGrant, error) {
	return s.transition(ctx, p, id, "reconfirm", []model.GrantStatus{model.GrantStatusSuspended}, model.GrantStatusActive, "",
		func(g *model.AccessGrant) error {
			if g.Subject != p.Subject || g.Role != p.Role || g.Agency != p.Agency {
				return apperr.NotFoundf("no access grant %q", g.ID) // another's grant reads as absent
			}
			if g.StatusReason == nil || *g.StatusReason != IdentityChanged {
				return apperr.New(apperr.Conflict, "the grant was suspended by the register office; only the register office can reinstate it")
			}
			return nil
		},
		func(g *model.AccessGrant) error {
			g.IssuedTo = model.GrantIdentity{Name: nonEmpty(p.Name), Username: nonEmpty(p.Username), Email: nonEmpty(p.Email)}
			return nil
		})
}

// transition loads a grant, checks who may act and from which status, applies the change and
// audits it.
func (s *Service) transition(ctx context.Context, p *auth.Principal, id, verb string, from []model.GrantStatus, to model.GrantStatus, reason string,
	authorize, mutate func(*model.AccessGrant) error) (*model.AccessGrant, error) {
	g, ok, err := s.store.GrantByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.NotFoundf("no access grant %q", id)
	}
	if err := authorize(&g); err != nil {
		return nil, err
	}
	current := Effective(g, s.today())
	if !slices.Contains(from, current.Status) {
		return nil, apperr.New(apperr.Conflict, "cannot %s a grant that is %s", verb, current.Status).
			With("grantId", g.ID).With("status", string(current.Status))
	}
	kind := verbEvents[verb]
	if verb == "activate" && g.Status == model.GrantStatusSuspended {
		kind = model.GrantEventKindResumed
	}
	return s.apply(ctx, p, g, to, reason, kind, mutate)
}

// verbEvents are the events of the transitions that transition runs.
var verbEvents = map[string]model.GrantEventKind{
	"approve": model.GrantEventKindApproved, "reject": model.GrantEventKindRejected, "activate": model.GrantEventKindActivated,
	"suspend": model.GrantEventKindSuspended, "revoke": model.GrantEventKindRevoked, "reconfirm": model.GrantEventKindReconfirmed,
}

// apply writes the audit entry of a transition first (so no applied transition goes
// unaudited), then the grant, at its expected version, then the event other systems read
// (see publish). A change that keeps the status (a change request, say) keeps the status
// reason too.
func (s *Service) apply(ctx context.Context, p *auth.Principal, g model.AccessGrant, to model.GrantStatus, reason string, kind model.GrantEventKind, mutate func(*model.AccessGrant) error) (*model.AccessGrant, error) {
	from := g.Status
	if mutate != nil {
		if err := mutate(&g); err != nil {
			return nil, err
		}
	}
	if to != from {
		g.Status = to
		g.StatusReason = nonEmpty(reason)
	}
	if to == model.GrantStatusActive {
		g.AgencySuspension = false
	}
	g.Version++
	auditReason := reason
	if to == from {
		auditReason = strings.TrimSuffix(string(kind)+": "+reason, ": ")
	}
	if err := s.audit(ctx, p, g.ID, &from, to, auditReason); err != nil {
		return nil, err
	}
	ok, err := s.store.ReplaceGrant(ctx, g)
	if err != nil {
		return nil, err
	}
	s.forget(&g)
	if !ok {
		return nil, apperr.New(apperr.Conflict, "the grant was changed at the same time by someone else; reload it and retry").With("grantId", g.ID)
	}
	if err := s.publish(ctx, p, g, &from, kind, reason); err != nil {
		return nil, err
	}
	g = Effective(g, s.today())
	return &g, nil
}

func (s *Service) audit(ctx context.Context, p *auth.Principal, grantID string, from *model.GrantStatus, to model.GrantStatus, reason string) error {
	e := &model.AuditEntry{Kind: model.AuditKindGrantTransition, Outcome: model.AuditOutcomeAllowed,
		GrantTransition: &model.GrantTransition{GrantID: grantID, From: from, To: to, Reason: nonEmpty(reason)}}
	Actor(p, e)
	return s.trail.Append(ctx, e)
}

// Actor fills the acting official's identity into an audit entry.
func Actor(p *auth.Principal, e *model.AuditEntry) {
	if p == nil {
		return
	}
	e.Subject, e.Name, e.Agency, e.Role = nonEmpty(p.Subject), nonEmpty(p.Name), nonEmpty(p.Agency), &p.Role
	e.SubjectVerified = e.Subject != nil
	if p.Grant != nil {
		e.GrantID = &p.Grant.ID
	}
}

// Mine lists the principal's own grants (all roles and agencies of the subject).
func (s *Service) Mine(ctx context.Context, p *auth.Principal) ([]model.AccessGrant, error) {
	list, err := s.store.GrantsOfSubject(ctx, p.Subject)
	for i := range list {
		list[i] = Effective(list[i], s.today())
	}
	return list, err
}

// List is one page of all grants (register office and auditors).
func (s *Service) List(ctx context.Context, f *model.AccessGrantFilter, first *int, after *string) (*model.AccessGrantConnection, error) {
	limit, err := register.PageSize(first)
	if err != nil {
		return nil, err
	}
	q := store.GrantQuery{Limit: limit}
	if after != nil && *after != "" {
		if q.AfterID, err = register.DecodeCursor("after", *after); err != nil {
			return nil, err
		}
	}
	if f != nil {
		q.Status, q.Role = f.Status, f.Role
		if f.Agency != nil {
			q.Agency = *f.Agency
		}
		if f.Subject != nil {
			q.Subject = *f.Subject
		}
	}
	list, more, err := s.store.ListGrants(ctx, q)
	if err != nil {
		return nil, err
	}
	conn := &model.AccessGrantConnection{Edges: make([]model.AccessGrantEdge, len(list)), PageInfo: model.PageInfo{HasNextPage: more}}
	for i, g := range list {
		conn.Edges[i] = model.AccessGrantEdge{Cursor: register.EncodeCursor(g.ID), Node: Effective(g, s.today())}
	}
	if n := len(list); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn, nil
}
