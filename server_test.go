package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"custodia/internal/testenv"
	"custodia/model"
)

// TestSchemaCommand: `custodia schema -role R` prints R's SDL, for any case of the role name;
// an unknown or missing role is an error naming the roles.
func TestSchemaCommand(t *testing.T) {
	env := testenv.New(t, testenv.Options{Persons: 5})
	cases := []struct {
		args    []string
		want    model.Role
		wantErr bool
	}{
		{[]string{"-role", "POLICE"}, model.RolePolice, false},
		{[]string{"-role", "court"}, model.RoleCourt, false},
		{[]string{"-role", "AUDITOR"}, model.RoleAuditor, false},
		{[]string{"-role", "JANITOR"}, "", true},
		{nil, "", true},
	}
	for _, c := range cases {
		var out strings.Builder
		err := schemaCommand(&out, c.args)
		if c.wantErr {
			if err == nil || !strings.Contains(err.Error(), "POLICE") {
				t.Errorf("%v: want an error listing the roles, got %v", c.args, err)
			}
			continue
		}
		if err != nil || out.String() != env.Server.Policy.SDLFor(c.want) {
			t.Errorf("%v: not the %s schema (err %v):\n%.200s", c.args, c.want, err, out.String())
		}
	}
}

// TestHealthcheck: the subcommand succeeds against a ready server and fails against a server
// that is not ready or not there.
func TestHealthcheck(t *testing.T) {
	env := testenv.New(t, testenv.Options{Persons: 5})
	if err := healthcheck(strings.TrimPrefix(env.HTTP.URL, "http://"), 3*time.Second); err != nil {
		t.Errorf("a ready server: %v", err)
	}
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	if err := healthcheck(strings.TrimPrefix(notReady.URL, "http://"), 3*time.Second); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a server answering 503: want an error naming it, got %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	if err := healthcheck(closed, time.Second); err == nil {
		t.Error("no server: want an error")
	}
}

func TestReadyURL(t *testing.T) {
	cases := map[string]string{
		"":               "http://127.0.0.1:8080/readyz",
		":8080":          "http://127.0.0.1:8080/readyz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/readyz",
		"[::]:9000":      "http://127.0.0.1:9000/readyz",
		"127.0.0.1:8081": "http://127.0.0.1:8081/readyz",
		"[::1]:8081":     "http://[::1]:8081/readyz",
		"api.local:80":   "http://api.local:80/readyz",
	}
	for in, want := range cases {
		if got, err := readyURL(in); err != nil || got != want {
			t.Errorf("%q: got %q (%v), want %q", in, got, err, want)
		}
	}
	if _, err := readyURL("8080"); err == nil {
		t.Error(`"8080" (no colon): want an error`)
	}
}

// TestTuneGC: without GOGC the server collects at defaultGCPercent; GOGC keeps its meaning.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	cases := []struct {
		gogc string
		set  int // what the runtime holds, as GOGC would have set it at start-up
		want int
	}{
		{"", 100, defaultGCPercent},
		{"50", 50, 50},
		{"off", -1, -1},
	}
	for _, c := range cases {
		debug.SetGCPercent(c.set)
		got := tuneGC(func(name string) string {
			if name == "GOGC" {
				return c.gogc
			}
			return ""
		})
		if now := debug.SetGCPercent(100); got != c.want || now != c.want {
			t.Errorf("GOGC=%q: tuneGC says %d, runtime holds %d, want %d", c.gogc, got, now, c.want)
		}
	}
}

// TestServePprof: the profiling endpoints are served on a loopback address only.
func TestServePprof(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, addr := range []string{":0", "0.0.0.0:0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		if _, err := servePprof(addr, log); err == nil {
			t.Errorf("%s: served profiles off the loopback interface", addr)
		}
	}
	a, err := servePprof("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + a.String() + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /debug/pprof/heap: %s", resp.Status)
	}
}
