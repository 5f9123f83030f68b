// Package web serves custodia's GraphiQL page from assets embedded in the binary, so it works
// on networks without internet access: the page loads nothing but its own two assets (built
// from pinned npm packages by graphiql/build.mjs into graphiql/dist, committed and checked in
// CI) and talks to nothing but its own server, which its Content-Security-Policy enforces.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed graphiql/dist/graphiql.js graphiql/dist/graphiql.css graphiql/dist/graphiql.js.LEGAL.txt
var dist embed.FS

// PageConfig is what the page is told by the server. URLs are relative to the page, so the
// server may sit behind a proxy under a path prefix.
type PageConfig struct {
	// Endpoint is the GraphQL endpoint, e.g. "query".
	Endpoint string `json:"endpoint"`
	// DevSignIn is the development sign-in endpoint listing demo officials and their tokens;
	// empty hides the sign-in picker (always empty in production).
	DevSignIn string `json:"devSignIn"`
	// PersistHeaders lets GraphiQL keep the header editor (the token) in localStorage; off in
	// production, where a token must not outlive the tab.
	PersistHeaders bool `json:"persistHeaders"`
}

// ContentSecurityPolicy is sent with the page: scripts, styles and connections only to the
// page's own origin. Styles need 'unsafe-inline' (GraphiQL's dialogs inject style elements, as
// the browser test shows); fonts and icons are data: URLs.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// AssetsPrefix is the path under which Assets serves the page's files.
const AssetsPrefix = "/graphiql/"

type asset struct {
	body        []byte
	etag        string
	contentType string
	gzipOnce    sync.Once
	gzipped     []byte // body compressed on first request that accepts gzip
}

// gzipBody is the asset gzip-compressed (computed once).
func (a *asset) gzipBody() []byte {
	a.gzipOnce.Do(func() {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = w.Write(a.body)
		_ = w.Close()
		a.gzipped = b.Bytes()
	})
	return a.gzipped
}

var assets = func() map[string]*asset {
	out := map[string]*asset{}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
	err := fs.WalkDir(dist, "graphiql/dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		out[path.Base(p)] = &asset{body: body, etag: hex.EncodeToString(sum[:8]), contentType: types[path.Ext(p)]}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("web: embedded GraphiQL assets: %v", err))
	}
	return out
}()

// GraphiQL is the page (GET /). Its assets are referenced with their content hash, so a new
// binary's page never runs with a cached old bundle.
func GraphiQL(cfg PageConfig) http.Handler {
	conf, err := json.Marshal(cfg) // escapes <, > and &: safe inside <script>
	if err != nil {
		panic(err)
	}
	var page bytes.Buffer
	fmt.Fprintf(&page, `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>custodia — GraphiQL</title>
<link rel="stylesheet" href="graphiql/graphiql.css?v=%s">
<script id="custodia-config" type="application/json">%s</script>
</head>
<body>
<div id="custodia"><noscript>GraphiQL needs JavaScript.</noscript></div>
<script src="graphiql/graphiql.js?v=%s"></script>
</body>
</html>
`, assets["graphiql.css"].etag, conf, assets["graphiql.js"].etag)
	body := page.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// Assets serves the page's embedded files under AssetsPrefix (GET /graphiql/{file}),
// gzip-compressed for clients that accept it.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[path.Base(r.URL.Path)]
		if !ok || path.Dir(r.URL.Path)+"/" != AssetsPrefix {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=86400")
		h.Add("Vary", "Accept-Encoding")
		body, etag := a.body, a.etag
		if acceptsGzip(r) {
			body, etag = a.gzipBody(), a.etag+"-gz"
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", `"`+etag+`"`)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}
