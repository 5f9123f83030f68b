package web_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
)

// TestGraphiQLInARealBrowser drives Debian's Chromium (playwright-core, e2e/graphiql.e2e.mjs)
// against the real server with the network closed: the page renders from the binary alone, a
// query runs for two roles signed in with the development picker, and the docs show each role
// exactly the Query fields the policy gives it; a production server's page has no sign-in
// picker and never writes the header editor to localStorage. Screenshots go to $CUSTODIA_SCREENSHOTS (default
// a folder under the system temp directory; the test logs it).
//
// It needs node, chromium and `npm ci` in web/ (.ci/run installs all three). Without them it
// is skipped — except under CI=true, where it fails.
func TestGraphiQLInARealBrowser(t *testing.T) {
	chromium := envOr("CHROMIUM", "/usr/bin/chromium")
	node, nodeErr := exec.LookPath("node")
	_, chromiumErr := os.Stat(chromium)
	_, modulesErr := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json"))
	if nodeErr != nil || chromiumErr != nil || modulesErr != nil {
		msg := "real-browser test needs node, chromium and web/node_modules: " +
			"apt-get install -y chromium nodejs npm && (cd web && npm ci) — or run .ci/run"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (node: %v, chromium: %v, node_modules: %v)", msg, nodeErr, chromiumErr, modulesErr)
		}
		t.Skip(msg)
	}
	env := testenv.New(t, testenv.Options{Persons: 20})
	production, _ := testenv.NewProduction(t, testenv.Options{Persons: 5, Mutate: func(c *app.Config) { c.GraphiQL = true }})

	type expectation struct {
		Role        model.Role `json:"role"`
		QueryFields []string   `json:"queryFields"`
	}
	var expect []expectation
	for _, role := range []model.Role{model.RolePolice, model.RoleRegistrar} {
		var fields []string
		for _, f := range env.Server.Policy.SchemaFor(role).Query.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				fields = append(fields, f.Name)
			}
		}
		slices.Sort(fields)
		expect = append(expect, expectation{Role: role, QueryFields: fields})
	}
	if slices.Equal(expect[0].QueryFields, expect[1].QueryFields) {
		t.Fatalf("the test needs two roles whose Query fields differ; %s and %s have the same", expect[0].Role, expect[1].Role)
	}
	expectJSON, _ := json.Marshal(expect)

	shots := os.Getenv("CUSTODIA_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "custodia-screenshots")
	}
	shots, _ = filepath.Abs(shots)
	t.Logf("screenshots: %s", shots)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "graphiql.e2e.mjs"))
	cmd.Env = append(os.Environ(), "CUSTODIA_URL="+env.HTTP.URL, "SCREENSHOT_DIR="+shots,
		"EXPECT="+string(expectJSON), "CHROMIUM="+chromium, "PRODUCTION_URL="+production.HTTP.URL)
	out, err := cmd.CombinedOutput()
	t.Logf("browser test output:\n%s", out)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
	for _, e := range expect {
		if _, err := os.Stat(filepath.Join(shots, "graphiql-"+string(e.Role)+".png")); err != nil {
			t.Errorf("no screenshot for %s: %v", e.Role, err)
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
