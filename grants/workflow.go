package grants

import (
	"context"
	"slices"
	"strconv"

	"custodia/apperr"
	"custodia/auth"
	"custodia/model"
	"custodia/register"
	"custodia/store"
)

// The grant workflow as the Czech prison service's portal runs it (DESIGN §5): an approver may
// ask the register office to change or cancel a grant of their agency; the register office may
// suspend and resume every grant of an agency at once; and every transition is an event in a
// gap-free feed that other systems (the portal's mail) read from a cursor.

// publish appends the event of a transition to the feed, after the grant was written, so the
// feed holds only transitions that happened. If the append fails the caller gets the error
// although the grant changed; the audit trail holds the transition either way.
func (s *Service) publish(ctx context.Context, p *auth.Principal, g model.AccessGrant, from *model.GrantStatus, kind model.GrantEventKind, reason string) error {
	e := &model.GrantEvent{Time: s.now().UTC().Truncate(1e6), Kind: kind, GrantID: g.ID, Subject: g.Subject, Agency: g.Agency, Role: g.Role,
		From: from, To: g.Status, Reason: nonEmpty(reason)}
	if p != nil && !(kind == model.GrantEventKindSuspended && reason == IdentityChanged) {
		e.Actor = nonEmpty(p.Subject)
	}
	return s.store.AppendGrantEvent(ctx, e)
}

// RequestChange records an approver's request to change a grant of their agency.
func (s *Service) RequestChange(ctx context.Context, p *auth.Principal, id string, in model.GrantChangeInput, reason string) (*model.AccessGrant, error) {
	reason, err := reasonText("reason", reason)
	if err != nil {
		return nil, err
	}
	if in.AllowedPurposes == nil && in.Caseload == nil && in.ValidUntil == nil {
		return nil, apperr.BadInput("input", "name at least one of allowedPurposes, caseload, validUntil to change")
	}
	if in.ValidUntil != nil {
		if err := s.checkValidUntil(*in.ValidUntil); err != nil {
			return nil, err
		}
	}
	req := model.GrantChangeRequest{Kind: model.GrantChangeKindChange, RequestedBy: p.Subject, RequestedAt: s.now().UTC().Truncate(1e6), Reason: reason,
		AllowedPurposes: in.AllowedPurposes, Caseload: in.Caseload, ValidUntil: in.ValidUntil}
	return s.requestChange(ctx, p, id, req, []model.GrantStatus{model.GrantStatusActive, model.GrantStatusSuspended}, model.GrantEventKindChangeRequested)
}

// RequestCancellation records an approver's request to cancel a grant of their agency.
func (s *Service) RequestCancellation(ctx context.Context, p *auth.Principal, id, reason string) (*model.AccessGrant, error) {
	reason, err := reasonText("reason", reason)
	if err != nil {
		return nil, err
	}
	req := model.GrantChangeRequest{Kind: model.GrantChangeKindCancellation, RequestedBy: p.Subject, RequestedAt: s.now().UTC().Truncate(1e6), Reason: reason}
	return s.requestChange(ctx, p, id, req, []model.GrantStatus{model.GrantStatusApproved, model.GrantStatusActive, model.GrantStatusSuspended}, model.GrantEventKindCancellationRequested)
}

func (s *Service) requestChange(ctx context.Context, p *auth.Principal, id string, req model.GrantChangeRequest, from []model.GrantStatus, kind model.GrantEventKind) (*model.AccessGrant, error) {
	if err := requireApprover(p); err != nil {
		return nil, err
	}
	g, ok, err := s.store.GrantByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.NotFoundf("no access grant %q", id)
	}
	if err := mayDecideForAgency(p, &g); err != nil {
		return nil, err
	}
	if req.Kind == model.GrantChangeKindChange {
		if err := checkGrantChange(g, req.AllowedPurposes, req.Caseload); err != nil {
			return nil, err
		}
	}
	current := Effective(g, s.today())
	if !slices.Contains(from, current.Status) {
		return nil, apperr.New(apperr.Conflict, "cannot ask to change or cancel a grant that is %s", current.Status).
			With("grantId", g.ID).With("status", string(current.Status))
	}
	if g.PendingChange != nil {
		return nil, apperr.New(apperr.Conflict, "grant %s already has a pending %s request; the register office decides it first", g.ID, g.PendingChange.Kind).
			With("grantId", g.ID).With("status", "CHANGE_PENDING")
	}
	return s.apply(ctx, p, g, g.Status, req.Reason, kind, func(g *model.AccessGrant) error {
		g.PendingChange = &req
		return nil
	})
}

// checkGrantChange checks requested purposes and caseload against the grant's role.
func checkGrantChange(g model.AccessGrant, purposes []model.PurposeCode, caseload []string) error {
	for _, pc := range purposes {
		if !slices.Contains(RolePurposes[g.Role], pc) {
			return apperr.BadInput("input.allowedPurposes", "role %s cannot hold the purpose %s", g.Role, pc)
		}
	}
	if caseload != nil && g.Role != model.RoleReintegration {
		return apperr.BadInput("input.caseload", "only REINTEGRATION grants have a caseload")
	}
	return nil
}

// checkValidUntil checks a new end of validity: after today, at most five years ahead.
func (s *Service) checkValidUntil(d model.Date) error {
	today := s.today()
	if !d.After(today) {
		return apperr.BadInput("input.validUntil", "validUntil must be after today (%s)", today)
	}
	if d.After(today.AddDate(5, 0, 0)) {
		return apperr.BadInput("input.validUntil", "validUntil may be at most five years ahead")
	}
	return nil
}

// DecideChange applies (accept) or declines a pending change or cancellation request; an
// accepted cancellation revokes the grant. Register office only.
func (s *Service) DecideChange(ctx context.Context, p *auth.Principal, id string, accept bool, reason string) (*model.AccessGrant, error) {
	reason, err := reasonText("reason", reason)
	if err != nil {
		return nil, err
	}
	if err := requireRegistrar(p); err != nil {
		return nil, err
	}
	g, ok, err := s.store.GrantByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.NotFoundf("no access grant %q", id)
	}
	req := g.PendingChange
	if req == nil {
		return nil, apperr.New(apperr.Conflict, "grant %s has no pending change or cancellation request", id).With("grantId", id).With("status", "NO_PENDING_CHANGE")
	}
	clear := func(g *model.AccessGrant) error { g.PendingChange = nil; return nil }
	switch {
	case !accept:
		return s.apply(ctx, p, g, g.Status, reason, model.GrantEventKindChangeDeclined, clear)
	case req.Kind == model.GrantChangeKindCancellation:
		if Effective(g, s.today()).Status == model.GrantStatusRevoked {
			return s.apply(ctx, p, g, g.Status, reason, model.GrantEventKindChangeDeclined, clear)
		}
		return s.apply(ctx, p, g, model.GrantStatusRevoked, reason, model.GrantEventKindRevoked, clear)
	}
	return s.apply(ctx, p, g, g.Status, reason, model.GrantEventKindChangeApplied, func(g *model.AccessGrant) error {
		if req.AllowedPurposes != nil {
			g.AllowedPurposes = req.AllowedPurposes
		}
		if req.Caseload != nil {
			g.Caseload = req.Caseload
		}
		if req.ValidUntil != nil {
			g.ValidUntil = req.ValidUntil
		}
		g.PendingChange = nil
		return nil
	})
}

// SuspendAgency suspends every ACTIVE grant of an agency (a compromised office, say), each
// audited and published as an event of its own. Running it again suspends what was missed
// (a grant activated meanwhile, or one a failure left out). Register office only; never its
// own agency.
func (s *Service) SuspendAgency(ctx context.Context, p *auth.Principal, agency, reason string) ([]model.AccessGrant, error) {
	reason, err := s.agencyAction(p, agency, reason)
	if err != nil {
		return nil, err
	}
	list, err := s.store.GrantsOfAgency(ctx, agency, model.GrantStatusActive)
	if err != nil {
		return nil, err
	}
	out := []model.AccessGrant{}
	for _, g := range list {
		if Effective(g, s.today()).Status != model.GrantStatusActive {
			continue // expired: nothing to suspend
		}
		done, err := s.apply(ctx, p, g, model.GrantStatusSuspended, reason, model.GrantEventKindSuspended, func(g *model.AccessGrant) error {
			g.AgencySuspension = true
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, *done)
	}
	return out, nil
}

// ResumeAgency reinstates the grants SuspendAgency suspended (not those suspended one by one
// or for an identity change), each audited and published.
func (s *Service) ResumeAgency(ctx context.Context, p *auth.Principal, agency, reason string) ([]model.AccessGrant, error) {
	reason, err := s.agencyAction(p, agency, reason)
	if err != nil {
		return nil, err
	}
	list, err := s.store.GrantsOfAgency(ctx, agency, model.GrantStatusSuspended)
	if err != nil {
		return nil, err
	}
	out := []model.AccessGrant{}
	for _, g := range list {
		if !g.AgencySuspension {
			continue
		}
		done, err := s.apply(ctx, p, g, model.GrantStatusActive, reason, model.GrantEventKindResumed, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, *done)
	}
	return out, nil
}

func (s *Service) agencyAction(p *auth.Principal, agency, reason string) (string, error) {
	if err := requireRegistrar(p); err != nil {
		return "", err
	}
	if agency == "" || len(agency) > 200 {
		return "", apperr.BadInput("agency", "agency must be 1 to 200 characters")
	}
	if agency == p.Agency {
		return "", apperr.BadInput("agency", "the register office cannot suspend or resume its own agency this way")
	}
	return reasonText("reason", reason)
}

// Events is one page of the grant event feed, oldest first after the cursor. The register
// office and auditors read every event (optionally of one agency); an approver those of their
// agency; anyone else — and anyone without an active grant — their own. The rule is part of
// the query.
func (s *Service) Events(ctx context.Context, p *auth.Principal, after *string, first *int, agency *string) (*model.GrantEventConnection, error) {
	limit, err := register.PageSize(first)
	if err != nil {
		return nil, err
	}
	q := store.GrantEventQuery{Limit: limit}
	if after != nil && *after != "" {
		cursor, err := register.DecodeCursor("after", *after)
		if err != nil {
			return nil, err
		}
		if q.AfterSeq, err = strconv.Atoi(cursor); err != nil {
			return nil, apperr.BadInput("after", "after is not a cursor issued by this API")
		}
	}
	wanted := ""
	if agency != nil {
		wanted = *agency
	}
	switch {
	case p.Grant != nil && (p.Role == model.RoleRegistrar || p.Role == model.RoleAuditor):
		q.Agency = wanted
	case p.Grant != nil && p.Approver:
		if wanted != "" && wanted != p.Agency {
			return nil, apperr.New(apperr.Forbidden, "an approver reads the grant events of their own agency only")
		}
		q.Agency = p.Agency
	default:
		if wanted != "" && wanted != p.Agency {
			return nil, apperr.New(apperr.Forbidden, "you read your own grant events only")
		}
		q.Subject = p.Subject
	}
	events, more, err := s.store.GrantEvents(ctx, q)
	if err != nil {
		return nil, err
	}
	conn := &model.GrantEventConnection{Edges: make([]model.GrantEventEdge, len(events)), PageInfo: model.PageInfo{HasNextPage: more}}
	for i, e := range events {
		conn.Edges[i] = model.GrantEventEdge{Cursor: register.EncodeCursor(strconv.Itoa(e.Sequence)), Node: e}
	}
	if n := len(events); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	} else if after != nil && *after != "" {
		conn.PageInfo.EndCursor = after // a poller keeps its place
	}
	return conn, nil
}
