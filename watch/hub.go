// Package watch delivers events about persons to subscribers (issue 15, DESIGN §4–§6).
//
// Events are born in the write protocol (maintenance.Perform), which logs each one in the
// event log (store.AppendEvent) before the write is acknowledged. A Hub per instance fans
// them out: events written through this instance are handed over at once; events written
// through other instances are found by polling the log by _id range (FerretDB v1 has no change
// streams), within Config.Poll. A subscriber that resumes with the last event ID it received
// gets everything logged since (up to Config.Retention), then live events, each once.
//
// Every event is authorised when it is delivered, not only at subscription: the caller's
// grant is looked up again (grants.Service, short cache), its purpose and caseload checked, and
// the event's kind must be readable by the role per the schema's @access on the PersonEvent
// field that names its record; each delivered event is audited as a disclosure. A grant that
// is no longer active ends the subscription with its GRANT_* code.
package watch

import (
	"net/http"
	"slices"
	"sync"
	"time"

	"custodia/apperr"
	"custodia/model"
	"custodia/store"
)

// Config tunes a Hub; zero fields take the defaults.
type Config struct {
	// Poll is how often the event log is read for other instances' events (default 200ms).
	Poll time.Duration
	// Lookback is how far behind now each poll reads again, so an event whose write was
	// slower than a later one is still seen (default 3s). Events are deduplicated by ID.
	Lookback time.Duration
	// Retention is how long events stay in the log and can be resumed from (default 7 days).
	Retention time.Duration
	// PerSubject bounds the open subscriptions of one official (default 16).
	PerSubject int
	// Recheck is how often an idle subscription checks the caller's grant again (default 5s).
	Recheck time.Duration
	// CallbackBackoff is the first retry delay of a failed callback delivery, doubled per
	// failure up to 10 minutes (default 5s).
	CallbackBackoff time.Duration
	// CallbackClient posts to agency callbacks (nil: a client with a 10 s timeout); tests use
	// it to trust a local TLS server.
	CallbackClient *http.Client `json:"-"`
	// CallbackLoopback allows callback targets on the loopback interface (tests, a receiver on
	// the same host); other targets of the server's own network are refused all the same
	// (see targets.go).
	CallbackLoopback bool
	// Buffer is how many events may wait for a slow subscriber before it is ended (default 256).
	Buffer int
}

// DefaultConfig is the configuration used for zero fields.
var DefaultConfig = Config{Poll: 200 * time.Millisecond, Lookback: 3 * time.Second, Retention: 7 * 24 * time.Hour, PerSubject: 16, Buffer: 256, Recheck: 5 * time.Second}

func (c Config) withDefaults() Config {
	d := DefaultConfig
	if c.Poll <= 0 {
		c.Poll = d.Poll
	}
	if c.Lookback <= 0 {
		c.Lookback = d.Lookback
	}
	if c.Retention <= 0 {
		c.Retention = d.Retention
	}
	if c.PerSubject <= 0 {
		c.PerSubject = d.PerSubject
	}
	if c.Recheck <= 0 {
		c.Recheck = d.Recheck
	}
	if c.CallbackBackoff <= 0 {
		c.CallbackBackoff = 5 * time.Second
	}
	if c.Buffer <= 0 {
		c.Buffer = d.Buffer
	}
	return c
}

// Hub fans events out to this instance's subscriptions. Safe for concurrent use.
type Hub struct {
	store *store.Store
	cfg   Config

	mu         sync.Mutex
	byPerson   map[string]map[*Sub]struct{}
	perSubject map[string]int
	seen       map[string]time.Time
	closed     error
	// resume is where the last poll stopped when it did not reach the end of the log ("" when
	// it did); read only by the polling goroutine.
	resume string

	stop chan struct{}
	done chan struct{}
}

// Sub is one subscription's feed: live events of its persons, in arrival order, and the reason
// it was ended by the hub (shutdown, a slow consumer).
type Sub struct {
	hub     *Hub
	subject string
	persons []string
	events  chan model.PersonEvent
	ended   chan error
	once    sync.Once
}

// NewHub starts a hub that polls the log of st.
func NewHub(st *store.Store, cfg Config) *Hub {
	h := &Hub{store: st, cfg: cfg.withDefaults(), byPerson: map[string]map[*Sub]struct{}{}, perSubject: map[string]int{},
		seen: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	go h.poll()
	return h
}

// Config is the hub's effective configuration.
func (h *Hub) Config() Config { return h.cfg }

// Subscribe opens a feed of the persons' events for subject. More than Config.PerSubject open
// feeds of one subject are refused with TOO_MANY_SUBSCRIPTIONS; a closed hub refuses with
// SERVICE_UNAVAILABLE.
func (h *Hub) Subscribe(subject string, persons []string) (*Sub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed != nil {
		return nil, h.closed
	}
	if h.perSubject[subject] >= h.cfg.PerSubject {
		return nil, apperr.New(apperr.TooManySubscriptions, "you have %d open subscriptions, the most one official may hold; close one first", h.cfg.PerSubject).
			With("limit", h.cfg.PerSubject)
	}
	s := &Sub{hub: h, subject: subject, persons: slices.Clone(persons), events: make(chan model.PersonEvent, h.cfg.Buffer), ended: make(chan error, 1)}
	h.perSubject[subject]++
	for _, p := range s.persons {
		if h.byPerson[p] == nil {
			h.byPerson[p] = map[*Sub]struct{}{}
		}
		h.byPerson[p][s] = struct{}{}
	}
	return s, nil
}

// Events is the feed of live events.
func (s *Sub) Events() <-chan model.PersonEvent { return s.events }

// Ended yields the reason once the hub has ended the feed.
func (s *Sub) Ended() <-chan error { return s.ended }

// Close ends the feed and frees its place in the subject's count; idempotent.
func (s *Sub) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.closeLocked(nil)
}

func (s *Sub) closeLocked(reason error) {
	s.once.Do(func() {
		h := s.hub
		for _, p := range s.persons {
			delete(h.byPerson[p], s)
			if len(h.byPerson[p]) == 0 {
				delete(h.byPerson, p)
			}
		}
		if h.perSubject[s.subject]--; h.perSubject[s.subject] <= 0 {
			delete(h.perSubject, s.subject)
		}
		if reason != nil {
			s.ended <- reason
		}
	})
}

// Publish hands an event to the subscriptions of its person, once per event ID. A
// subscription whose buffer is full is ended (the client resumes from its last event ID).
func (h *Hub) Publish(e model.PersonEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.seen[e.Key]; dup || h.closed != nil {
		return
	}
	h.seen[e.Key] = time.Now()
	for s := range h.byPerson[e.PersonID] {
		select {
		case s.events <- e:
		default:
			s.closeLocked(apperr.New(apperr.ServiceUnavailable, "the subscription fell too far behind; resubscribe with after set to the last event ID received").With("reason", "SLOW_CONSUMER"))
		}
	}
}

// poll reads the log for events written through other instances.
func (h *Hub) poll() {
	defer close(h.done)
	t := time.NewTicker(h.cfg.Poll)
	defer t.Stop()
	var purged time.Time
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.readLog()
		if time.Since(purged) > time.Hour { // retention: events older than it cannot be resumed
			ctx, cancel := contextWithTimeout(time.Minute)
			if _, err := h.store.PurgeEvents(ctx, time.Now().Add(-h.cfg.Retention)); err == nil {
				purged = time.Now()
			}
			cancel()
		}
	}
}

// PollReads bounds the reads of the log one poll makes (each of at most 500 events and a
// bounded number of lookups, see store.EventsAfter): a poll that does not reach the end of the
// log leaves the rest to the next one (Hub.resume).
const PollReads = 2

// readLog reads the log from Lookback before now — or from where the last poll stopped, if that
// is earlier — and publishes what it finds, in at most PollReads reads.
func (h *Hub) readLog() {
	h.mu.Lock()
	idle := len(h.byPerson) == 0
	h.mu.Unlock()
	now := time.Now()
	cursor := store.EventIDAt(now.Add(-h.cfg.Lookback))
	if h.resume != "" && h.resume < cursor {
		cursor = h.resume
	}
	resume := ""
	for reads := 0; !idle; reads++ {
		if reads == PollReads {
			resume = cursor
			break
		}
		ctx, cancel := contextWithTimeout(h.cfg.Poll * 5)
		page, err := h.store.EventsAfter(ctx, cursor, 500)
		cancel()
		if err != nil {
			return // the next poll tries again from the same place; the lookback covers the gap
		}
		for _, e := range page.Events {
			h.Publish(e)
		}
		if !page.More {
			break
		}
		cursor = page.Next
	}
	h.resume = resume
	h.mu.Lock()
	for id, at := range h.seen {
		if now.Sub(at) > 2*h.cfg.Lookback {
			delete(h.seen, id)
		}
	}
	h.mu.Unlock()
}

// Close stops polling and ends every subscription with reason (SERVICE_UNAVAILABLE "the
// server is shutting down" when nil). Later subscriptions are refused with it.
func (h *Hub) Close(reason error) {
	if reason == nil {
		reason = apperr.New(apperr.ServiceUnavailable, "the server is shutting down; resubscribe with after set to the last event ID received").With("reason", "SHUTDOWN")
	}
	h.mu.Lock()
	if h.closed != nil {
		h.mu.Unlock()
		return
	}
	h.closed = reason
	for _, subs := range h.byPerson {
		for s := range subs {
			s.closeLocked(reason)
		}
	}
	h.mu.Unlock()
	close(h.stop)
	<-h.done
}
