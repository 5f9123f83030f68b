package app

import (
	"context"
	"net/http"
	"time"

	"custodia/model"
)

// ready is /readyz: 503 while the register's database or the audit trail cannot be used
// (DESIGN §6: no audit, no service). After an audit append failed, it probes with an append of
// its own, so it turns ready again as soon as appends succeed — even with no traffic.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if s.AuditStore != s.Store {
		if err := s.AuditStore.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "audit database unreachable"})
			return
		}
	}
	if s.audit.failing.Load() {
		probe := &model.AuditEntry{Kind: model.AuditKindReadinessProbe, Outcome: model.AuditOutcomeAllowed}
		if id := requestIDFrom(r.Context()); id != "" {
			probe.RequestID = &id
		}
		if err := s.audit.Append(ctx, probe); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "audit trail not writable"})
			return
		}
	}
	if err := s.Store.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	if err := s.verifier.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no token verification key"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
