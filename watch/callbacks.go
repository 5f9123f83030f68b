package watch

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"custodia/apperr"
	"custodia/auth"
	"custodia/grants"
	"custodia/model"
	"custodia/register"
	"custodia/store"
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>"; the
// receiver recomputes it with its secret and rejects old timestamps (replays).
const SignatureHeader = "Custodia-Signature"

// EventIDHeader carries the event's ID; a receiver deduplicates by it (delivery is at least
// once).
const EventIDHeader = "Custodia-Event-Id"

// Sign is the SignatureHeader value of body at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// ThinEvent is what a callback receives: no personal data.
type ThinEvent struct {
	ID       string                `json:"id"`
	Kind     model.PersonEventKind `json:"kind"`
	PersonID string                `json:"personId"`
}

// RegisterCallback stores an agency's callback (REGISTRAR) after checking it: an https URL,
// 1 to MaxPersons existing persons, a purpose the role may hold. The registration is audited
// first. Events are delivered from now on.
func (s *Service) RegisterCallback(ctx context.Context, p *auth.Principal, in model.EventCallbackInput) (*model.EventCallback, error) {
	u, err := url.Parse(in.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, apperr.BadInput("input.url", "the callback URL must be an absolute https URL")
	}
	if why := refusedHost(u.Hostname(), s.Hub.cfg.CallbackLoopback); why != "" {
		return nil, apperr.BadInput("input.url", "the callback URL may not point at %s: agency receivers only", why)
	}
	if in.Agency == "" || len(in.Agency) > 200 {
		return nil, apperr.BadInput("input.agency", "input.agency must be 1 to 200 characters")
	}
	if len(in.PersonIds) == 0 || len(in.PersonIds) > MaxPersons {
		return nil, apperr.BadInput("input.personIds", "register 1 to %d persons", MaxPersons)
	}
	if err := register.ValidatePurpose(&in.Purpose); err != nil {
		return nil, err
	}
	if !slices.Contains(grants.RolePurposes[in.Role], in.Purpose.Reason) {
		return nil, apperr.BadInput("input.purpose.reason", "role %s may not hold the purpose %s", in.Role, in.Purpose.Reason)
	}
	persons := slices.Compact(slices.Sorted(slices.Values(in.PersonIds)))
	found, err := s.store.PersonsByIDs(ctx, store.Scope{}, persons)
	if err != nil {
		return nil, err
	}
	for _, id := range persons {
		if found[id] == nil {
			return nil, apperr.BadInput("input.personIds", "no person with ID %q", id)
		}
	}
	secret := randomHex(32)
	c := model.EventCallback{ID: "CB-" + randomHex(6), Agency: in.Agency, Role: in.Role, URL: u.String(), PersonIDs: persons,
		Purpose: model.AuditPurpose{CaseReference: in.Purpose.CaseReference, Reason: in.Purpose.Reason}, Secret: &secret,
		Cursor: store.EventIDAt(time.Now())}
	e := &model.AuditEntry{Kind: model.AuditKindWrite, Outcome: model.AuditOutcomeAllowed, PersonIDs: persons,
		Write: &model.Write{Mutation: "registerEventCallback", EntityID: c.ID}}
	grants.Actor(p, e)
	if err := s.trail.Append(ctx, e); err != nil {
		return nil, err
	}
	if err := s.store.InsertCallback(ctx, c); err != nil {
		return nil, err
	}
	return &c, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Callbacks delivers events to registered agency callbacks, from one instance at a time per
// callback (a lease), in event order, retrying a failed delivery with exponential backoff
// (Config.CallbackBackoff doubling up to 10 minutes) before going on to the next event.
type Callbacks struct {
	svc    *Service
	client *http.Client
	owner  string
	base   time.Duration
	stop   chan struct{}
	done   chan struct{}
}

// StartCallbacks starts the deliverer; client nil means a client with a 10 s timeout. The
// deliverer follows no redirect and connects to no refused address (callbackClient).
func (s *Service) StartCallbacks(client *http.Client) *Callbacks {
	client = callbackClient(client, s.Hub.cfg.CallbackLoopback)
	c := &Callbacks{svc: s, client: client, owner: randomHex(8), base: s.Hub.cfg.CallbackBackoff, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// Close stops the deliverer.
func (c *Callbacks) Close() {
	close(c.stop)
	<-c.done
}

func (c *Callbacks) run() {
	defer close(c.done)
	t := time.NewTicker(c.svc.Hub.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		list, err := c.svc.Hub.store.Callbacks(ctx)
		for _, cb := range list {
			if err != nil || time.Now().Before(cb.NextAttempt) {
				continue
			}
			if ok, err := c.svc.Hub.store.LeaseCallback(ctx, cb.ID, c.owner, time.Now(), time.Now().Add(30*time.Second)); err != nil || !ok {
				continue
			}
			c.deliver(ctx, cb)
		}
		cancel()
	}
}

// deliver sends the callback's pending events in order until one fails.
func (c *Callbacks) deliver(ctx context.Context, cb model.EventCallback) {
	page, err := c.svc.Hub.store.EventsAfter(ctx, cb.Cursor, 100)
	if err != nil {
		return
	}
	cursor, attempts := cb.Cursor, cb.Attempts
	for _, e := range page.Events {
		if !slices.Contains(cb.PersonIDs, e.PersonID) {
			cursor, attempts = e.Key, 0
			continue
		}
		// The callback's role is told what a subscription in that role is told (visible);
		// a failed lookup is retried like a failed post.
		ok, err := c.svc.visible(ctx, cb.Role, e)
		if ok {
			err = c.post(ctx, cb, e, model.EventReferenceField[e.Kind])
		}
		if err != nil {
			attempts++
			backoff := min(c.base<<min(attempts-1, 20), 10*time.Minute)
			_ = c.svc.Hub.store.SaveCallbackProgress(ctx, cb.ID, cursor, attempts, time.Now().Add(backoff))
			return
		}
		cursor, attempts = e.Key, 0
	}
	if page.More {
		cursor = page.Next // every event up to it delivered, or skipped as not the callback's
	}
	if cursor != cb.Cursor || attempts != cb.Attempts {
		_ = c.svc.Hub.store.SaveCallbackProgress(ctx, cb.ID, cursor, 0, time.Time{})
	}
}

// post audits the delivery (fail closed) and sends it; any answer but 2xx is a failure.
func (c *Callbacks) post(ctx context.Context, cb model.EventCallback, e model.PersonEvent, field string) error {
	body, _ := json.Marshal(ThinEvent{ID: e.Key, Kind: e.Kind, PersonID: e.PersonID})
	op, subject, purpose := "eventCallback", "callback:"+cb.ID, cb.Purpose
	entry := &model.AuditEntry{Kind: model.AuditKindOperation, Outcome: model.AuditOutcomeAllowed, OperationName: &op,
		Subject: &subject, Agency: &cb.Agency, Role: &cb.Role, Purpose: &purpose,
		Coordinates: []string{"PersonEvent.id", "PersonEvent.kind", "PersonEvent.personId", "PersonEvent." + field}, PersonIDs: []string{e.PersonID}}
	if err := c.svc.trail.Append(ctx, entry); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(EventIDHeader, e.Key)
	req.Header.Set(SignatureHeader, Sign(*cb.Secret, time.Now(), body))
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("callback answered %d", resp.StatusCode)
	}
	return nil
}
