package store

import (
	"context"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/sync/singleflight"

	"custodia/model"
)

// DefaultPrisonCacheTTL bounds how long reads of this process may show a prison as it was
// before a change made elsewhere: by upsertPrison on another instance, or by a database
// administrator's hand edit. A change through this instance's store is visible at once.
const DefaultPrisonCacheTTL = 2 * time.Second

// prisonRefreshTimeout bounds one refresh of the prison cache.
const prisonRefreshTimeout = 5 * time.Second

// prisonCache keeps every prison for reads (CachedPrisonsByIDs): prisons are reference data
// of a few dozen documents, read by nearly every card and page, and seldom changed. One
// query of the whole collection refreshes it when it is older than its time to live.
type prisonCache struct {
	ttl time.Duration // negative: no cache, every read queries
	mu  sync.Mutex
	// gen counts invalidations; a refresh that started before one does not fill the cache.
	gen     uint64
	byID    map[string]*model.Prison
	expires time.Time
	flight  singleflight.Group
}

// CachedPrisonsByIDs returns the prisons with these IDs, keyed by ID (unknown IDs are absent),
// as PrisonsByIDs does, but from a process-wide cache of every prison refreshed by one query
// when it is older than Config.PrisonCacheTTL: a change made elsewhere (another instance, a
// database administrator) shows within that time, one made through this store at once. For
// reads; a write checks against PrisonsByIDs. Index: none needed (the whole collection, a
// few dozen documents).
func (s *Store) CachedPrisonsByIDs(ctx context.Context, ids []string) (map[string]*model.Prison, error) {
	c := &s.prisons
	if c.ttl < 0 {
		return s.PrisonsByIDs(ctx, ids)
	}
	c.mu.Lock()
	all, fresh, gen := c.byID, time.Now().Before(c.expires), c.gen
	c.mu.Unlock()
	if !fresh {
		v, err, _ := c.flight.Do(strconv.FormatUint(gen, 10), func() (any, error) {
			// Shared by every request waiting for it: not cancelled with the first of them.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), prisonRefreshTimeout)
			defer cancel()
			prisons, err := findAll[model.Prison](ctx, s.db.Collection(colPrisons), bson.D{})
			if err != nil {
				return nil, err
			}
			m := keyed(prisons, func(p *model.Prison) string { return p.ID })
			c.mu.Lock()
			if c.gen == gen {
				c.byID, c.expires = m, time.Now().Add(c.ttl)
			}
			c.mu.Unlock()
			return m, nil
		})
		if err != nil {
			return nil, err
		}
		all = v.(map[string]*model.Prison)
	}
	out := make(map[string]*model.Prison, len(ids))
	for _, id := range ids {
		if p, ok := all[id]; ok {
			cp := *p // callers own what they get; the cache stays as read
			out[id] = &cp
		}
	}
	return out, nil
}

// forgetPrisons empties the prison cache (after a prison write through this store).
func (s *Store) forgetPrisons() {
	c := &s.prisons
	c.mu.Lock()
	c.gen++
	c.byID, c.expires = nil, time.Time{}
	c.mu.Unlock()
}
