package app

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"time"
)

// isStream reports whether r opens a subscription stream: a websocket upgrade
// (graphql-transport-ws) or a POST accepting text/event-stream (Server-Sent Events).
func isStream(r *http.Request) bool {
	return isWebsocket(r) || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// streams lets subscription streams outlive the server's write timeout and reach the
// connection through the middleware's response wrappers (flush for SSE, hijack for websockets).
func streams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
		next.ServeHTTP(streamWriter{ResponseWriter: w, rc: rc}, r)
	})
}

type streamWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w streamWriter) Flush() { _ = w.rc.Flush() }

func (w streamWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.rc.Hijack() }

func (w streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
