package main

import (
	"net"
	"net/http"
	"net/http/httptest"
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
