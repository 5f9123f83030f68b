package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"
)

// defaultGCPercent is the garbage collector's target when GOGC is not set: the heap may grow to
// three times what is live before a collection, instead of Go's twice. The API's live heap is
// small (caches and connections, tens of MB) and every request allocates in proportion to its
// result, so collections were ≈ 10 % of the API's CPU at the default (docs/performance.md, "The
// API's own CPU"). GOGC (and GOMEMLIMIT, which bounds the heap whatever the target) keep their
// standard meaning and override this.
const defaultGCPercent = 200

// tuneGC applies defaultGCPercent unless GOGC is set; it returns the GC percent in force.
func tuneGC(getenv func(string) string) int {
	if getenv("GOGC") != "" {
		prev := debug.SetGCPercent(100) // read the runtime's value (from GOGC) and put it back
		debug.SetGCPercent(prev)
		return prev
	}
	debug.SetGCPercent(defaultGCPercent)
	return defaultGCPercent
}

// servePprof serves Go's profiling endpoints (/debug/pprof/) on addr, for measuring the server
// (docs/performance.md). It refuses any address but a loopback one: profiles reveal memory
// contents and cost CPU, and are never offered to the network. It returns the address it
// listens on, once listening.
func servePprof(addr string, log *slog.Logger) (net.Addr, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("PPROF_LISTEN_ADDR: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("PPROF_LISTEN_ADDR must be a loopback address (127.0.0.1:port, [::1]:port or localhost:port), not %q", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("PPROF_LISTEN_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("profiling endpoints serving", "addr", ln.Addr().String())
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr(), nil
}

// runtimeSetup applies the GC target and, when PPROF_LISTEN_ADDR is set, serves the profiling
// endpoints.
func runtimeSetup(log *slog.Logger) error {
	log.Info("garbage collector", "gc_percent", tuneGC(os.Getenv), "gomemlimit_set", os.Getenv("GOMEMLIMIT") != "")
	if addr := os.Getenv("PPROF_LISTEN_ADDR"); addr != "" {
		_, err := servePprof(addr, log)
		return err
	}
	return nil
}
