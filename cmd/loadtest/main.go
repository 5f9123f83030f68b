// Command loadtest drives a running custodia with a fixed number of requests at several
// concurrency levels and prints throughput and latency percentiles. It only talks to the
// local machine (loopback) and stops by itself.
//
//	TOKEN=$(go run . token -role COURT)
//	go run ./cmd/loadtest -token "$TOKEN" -op card -c 1,8,32 -n 400
//
// Run the server with RATE_LIMIT_PER_SECOND=0, or the per-subject rate limit is what you
// measure.
//
// The operations benchcard, page50 and status50 are the documents of the Go benchmarks
// (package benchops) and need the benchmark register (docs/performance.md, "The API's own
// CPU"); status50 is the prison service's (token -role PRISON_SERVICE), the others a court's.
// With -metrics (default: /metrics next to -url) every level also reports the server's CPU per
// request: the difference of its process_cpu_seconds_total before and after the level, less
// what the server spends idle (its background work — watch polling, audit checkpoints —
// measured for -idle before the first level) over the level's duration.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"custodia/internal/benchops"
)

var operations = map[string]string{
	"card": `query Card { person(id: "P-000001", purpose: {caseReference: "4 T 1/2026", reason: CRIMINAL_PROCEEDINGS}) {
	  id givenNames familyName nationalId dateOfBirth residence { city }
	  detentionStatus { deprivedOfLiberty kind since prison { name address { street city } } responsibleAuthority { name caseReference } }
	  detentionHistory { kind start end prison { name } sentence { kind durationMonths } }
	  convictions(includeExpunged: true) { caseReference decisionDate offences { legalProvision } sentences { kind status } rehabilitation { earliestDate rule } } } }`,
	"search": `query Search { searchPersons(filter: {familyName: "novak", givenNames: "jan"}, first: 50, purpose: {caseReference: "4 T 1/2026", reason: CRIMINAL_PROCEEDINGS}) {
	  edges { node { id familyName givenNames dateOfBirth detentionStatus { deprivedOfLiberty kind prison { name } } convictions { caseReference } } } } }`,
	"status": `query Status { searchPersons(filter: {familyName: "novakova", givenNames: "jana"}, first: 50, purpose: {caseReference: "4 T 1/2026", reason: CRIMINAL_PROCEEDINGS}) {
	  edges { node { id detentionStatus { deprivedOfLiberty kind since prison { name address { street city } } } } } } }`,
	"prisons":   `query Prisons { prisons { id name kind address { city } } }`,
	"benchcard": benchops.PersonCard,
	"page50":    benchops.SearchPage,
	"status50":  benchops.DetentionStatus,
}

// variables are the variables of the operations that take any.
var variables = map[string]map[string]any{
	"benchcard": {"id": "P-000001", "copy": true, "purpose": map[string]any{"caseReference": "4 T 123/2025", "reason": "CRIMINAL_PROCEEDINGS"}},
	"page50":    {"first": 50, "copy": true},
	"status50":  {"first": 50},
}

func main() {
	target := flag.String("url", "http://localhost:8080/query", "GraphQL endpoint (loopback only)")
	token := flag.String("token", os.Getenv("TOKEN"), "bearer token (go run . token -role COURT)")
	op := flag.String("op", "card", "operation: card, search, status, prisons, benchcard, page50 or status50")
	metricsURL := flag.String("metrics", "", "the server's Prometheus endpoint (default: /metrics on -url's host; \"none\" to skip)")
	levels := flag.String("c", "1,8,32", "concurrency levels")
	n := flag.Int("n", 400, "requests per level (at most 100000)")
	idle := flag.Duration("idle", 5*time.Second, "how long to measure the server's idle CPU before the first level (0: do not subtract it)")
	flag.Parse()
	if err := run(*target, *metricsURL, *token, *op, *levels, *n, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(target, metricsURL, token, op, levels string, n int, idle time.Duration) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("refusing %s: load is only sent to this machine (localhost, 127.0.0.0/8, ::1)", u.Host)
	}
	query, ok := operations[op]
	if !ok || token == "" || n < 1 || n > 100000 {
		return fmt.Errorf("need -token, -op (card, search, status, prisons, benchcard, page50, status50) and 1 ≤ -n ≤ 100000")
	}
	switch metricsURL {
	case "":
		metricsURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/metrics"}).String()
	case "none":
		metricsURL = ""
	default:
		m, err := url.Parse(metricsURL)
		if err != nil || m.Host != u.Host {
			return fmt.Errorf("-metrics must be on the same host as -url (%s)", u.Host)
		}
	}
	body, _ := json.Marshal(map[string]any{"query": query, "variables": variables[op]})
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	if !once(client, target, token, body) { // warms the server's caches; must succeed
		return fmt.Errorf("the first %s request failed (token's role, register, server?)", op)
	}
	idlePerSec := 0.0 // the server's CPU seconds per second when it serves nothing
	if idle > 0 {
		if c0, err := serverCPU(client, metricsURL); err == nil {
			t0 := time.Now()
			time.Sleep(idle)
			if c1, err := serverCPU(client, metricsURL); err == nil {
				idlePerSec = (c1 - c0) / time.Since(t0).Seconds()
			}
		}
	}
	fmt.Printf("operation %s, %d requests per level; server idle CPU %.1f ms/s (subtracted)\n", op, n, idlePerSec*1000)
	fmt.Printf("%-11s %12s %10s %10s %10s %8s %14s\n", "concurrency", "requests/s", "p50", "p99", "max", "errors", "server-cpu/req")
	for _, l := range strings.Split(levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || c < 1 || c > 256 {
			return fmt.Errorf("bad concurrency %q", l)
		}
		cpu0, cpuErr := serverCPU(client, metricsURL)
		lat, errs, elapsed := level(client, target, token, body, c, n)
		cpu1, cpuErr1 := serverCPU(client, metricsURL)
		perReq := "–"
		if cpuErr == nil && cpuErr1 == nil {
			busy := cpu1 - cpu0 - idlePerSec*elapsed.Seconds()
			perReq = (time.Duration(busy*float64(time.Second)) / time.Duration(n)).Round(time.Microsecond).String()
		}
		slices.Sort(lat)
		pct := func(p float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[min(len(lat)-1, int(float64(len(lat))*p))]
		}
		fmt.Printf("%-11d %12.1f %10s %10s %10s %8d %14s\n", c, float64(n)/elapsed.Seconds(),
			pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond), errs, perReq)
	}
	return nil
}

func level(client *http.Client, target, token string, body []byte, c, n int) ([]time.Duration, int, time.Duration) {
	jobs := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				t0 := time.Now()
				ok := once(client, target, token, body)
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				if !ok {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat, errs, time.Since(start)
}

func once(client *http.Client, target, token string, body []byte) bool {
	req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && !bytes.Contains(raw, []byte(`"errors"`))
}

// serverCPU reads the server's process_cpu_seconds_total (user and system CPU of the server
// process, from the Prometheus process collector) from its metrics endpoint.
func serverCPU(client *http.Client, metricsURL string) (float64, error) {
	if metricsURL == "" {
		return 0, fmt.Errorf("no metrics endpoint")
	}
	resp, err := client.Get(metricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "process_cpu_seconds_total "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s has no process_cpu_seconds_total", metricsURL)
}
