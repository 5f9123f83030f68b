package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"custodia/internal/testenv"
	"custodia/web"
)

var references = regexp.MustCompile(`(?i)(?:src|href)\s*=\s*"([^"]*)"`)

// cdnHosts are where GraphiQL pages usually load React and GraphiQL from.
var cdnHosts = []string{"unpkg.com", "jsdelivr.net", "cdnjs.cloudflare.com", "esm.sh", "fonts.googleapis.com", "fonts.gstatic.com", "skypack.dev"}

// TestPageLoadsOnlyItsOwnAssets: the page served at / references nothing but the two embedded
// assets, both are served by the binary, no CDN appears in the page or its assets, and the
// Content-Security-Policy confines scripts and connections to the page's origin.
func TestPageLoadsOnlyItsOwnAssets(t *testing.T) {
	env := testenv.New(t, testenv.Options{Persons: 5})
	resp, err := http.Get(env.HTTP.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); csp != web.ContentSecurityPolicy || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy: %q", csp)
	}
	_, page := env.Get("/")
	refs := references.FindAllStringSubmatch(page, -1)
	if len(refs) != 2 {
		t.Fatalf("want exactly two references (script and stylesheet), got %v", refs)
	}
	everything := page
	for _, ref := range refs {
		url := ref[1]
		if strings.Contains(url, "//") || !strings.HasPrefix(url, strings.TrimPrefix(web.AssetsPrefix, "/")) {
			t.Errorf("the page references %q: only relative references to its own assets are allowed", url)
			continue
		}
		status, body := env.Get("/" + url)
		if status != http.StatusOK || len(body) < 10_000 {
			t.Errorf("GET /%s: %d, %d bytes", url, status, len(body))
		}
		everything += body
	}
	for _, host := range cdnHosts {
		if strings.Contains(everything, host) {
			t.Errorf("the page or its assets name %s", host)
		}
	}
	if status, _ := env.Get(web.AssetsPrefix + "missing.js"); status != http.StatusNotFound {
		t.Errorf("an unknown asset: got %d, want 404", status)
	}
}

// TestAssetsRevalidate: assets carry an ETag, and a matching If-None-Match is a 304.
func TestAssetsRevalidate(t *testing.T) {
	env := testenv.New(t, testenv.Options{Persons: 5})
	resp, err := http.Get(env.HTTP.URL + web.AssetsPrefix + "graphiql.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || etag == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("GET graphiql.css: %d, ETag %q, type %q", resp.StatusCode, etag, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+web.AssetsPrefix+"graphiql.css", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match %s: got %d, want 304", etag, resp.StatusCode)
	}
}

// TestAssetsAreCompressed: a client accepting gzip gets the asset compressed (much smaller,
// decompressing to the same bytes); one that does not gets it as is.
func TestAssetsAreCompressed(t *testing.T) {
	env := testenv.New(t, testenv.Options{Persons: 5})
	fetch := func(encoding string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, env.HTTP.URL+web.AssetsPrefix+"graphiql.js", nil)
		req.Header.Set("Accept-Encoding", encoding) // set by hand: the transport then leaves the body alone
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	plainResp, plain := fetch("identity")
	gzResp, gz := fetch("br, gzip;q=0.8")
	if plainResp.Header.Get("Content-Encoding") != "" || gzResp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding: identity → %q, gzip → %q", plainResp.Header.Get("Content-Encoding"), gzResp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain) {
		t.Fatalf("the gzipped asset does not decompress to the asset (%v)", err)
	}
	if len(gz)*2 > len(plain) || plainResp.Header.Get("ETag") == gzResp.Header.Get("ETag") {
		t.Errorf("gzip: %d of %d bytes; ETags %s / %s must differ", len(gz), len(plain), plainResp.Header.Get("ETag"), gzResp.Header.Get("ETag"))
	}
	t.Logf("graphiql.js: %d bytes, %d gzipped", len(plain), len(gz))
}
