package app

import (
	"net/http"

	"custodia/apperr"
)

// auditCheckpoint serves the latest signed checkpoint of the audit log (GET /audit/checkpoint),
// without a token: it holds a tree size and a hash, no personal data, and witnesses and
// auditors fetch it to keep. The response is the signed note as is; the log's public key is in
// the X-Audit-Verifier-Key header for convenience (an auditor takes it from the operator, not
// from the server it checks). 404 until the first checkpoint is signed.
func (s *Server) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	cp, err := s.Trail.LatestCheckpoint(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "audit checkpoint not served", "error", err.Error())
		s.writeAuditError(w, r, http.StatusServiceUnavailable, apperr.New(apperr.ServiceUnavailable, "the audit checkpoint cannot be read; retry shortly"))
		return
	}
	if cp == nil {
		s.writeAuditError(w, r, http.StatusNotFound, apperr.NotFoundf("no audit checkpoint has been signed yet"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Audit-Verifier-Key", s.Trail.Key().VerifierKey)
	_, _ = w.Write(cp.Note)
}

// writeAuditError answers with a GraphQL-shaped error body (DESIGN §9: every non-2xx response).
func (s *Server) writeAuditError(w http.ResponseWriter, r *http.Request, status int, err error) {
	writeJSON(w, status, map[string]any{"errors": []any{s.presenter(r.Context(), err)}})
}
