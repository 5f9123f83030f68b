package app

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"custodia/apperr"
	"custodia/auth"
)

// rateLimiter keeps a token bucket per subject (per server instance).
type rateLimiter struct {
	perSec float64
	burst  int
	mu     sync.Mutex
	subj   map[string]*subjectBucket
}

type subjectBucket struct {
	limiter *rate.Limiter
	seen    time.Time
}

func newRateLimiter(perSec float64, burst int) *rateLimiter {
	return &rateLimiter{perSec: perSec, burst: burst, subj: map[string]*subjectBucket{}}
}

func (r *rateLimiter) allow(subject string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	b := r.subj[subject]
	if b == nil {
		if len(r.subj) > 10000 { // forget idle subjects so memory stays bounded
			for k, v := range r.subj {
				if now.Sub(v.seen) > time.Minute {
					delete(r.subj, k)
				}
			}
		}
		b = &subjectBucket{limiter: rate.NewLimiter(rate.Limit(r.perSec), r.burst)}
		r.subj[subject] = b
	}
	b.seen = now
	return b.limiter.Allow()
}

// limitRate refuses a subject's requests beyond its rate with HTTP 429 and RATE_LIMITED.
func (s *Server) limitRate(next http.Handler) http.Handler {
	if s.limits.RatePerSec <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.overRate(auth.FromContext(r.Context())); err != nil {
			w.Header().Set("Retry-After", "1")
			s.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// overRate takes one request of p's subject from the instance's one limiter (HTTP requests
// and the operations of websocket connections alike) and says, RATE_LIMITED, when it is over
// the rate; nil when it is not, or without a principal or a limit.
func (s *Server) overRate(p *auth.Principal) error {
	if s.limits.RatePerSec <= 0 || p == nil {
		return nil
	}
	s.ratesOnce.Do(func() { s.rates = newRateLimiter(s.limits.RatePerSec, s.limits.RateBurst) })
	if s.rates.allow(p.Subject) {
		return nil
	}
	return apperr.New(apperr.RateLimited, "too many requests: at most %g per second (bursts of %d); retry shortly", s.limits.RatePerSec, s.limits.RateBurst)
}
