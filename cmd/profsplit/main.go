// Command profsplit divides a CPU profile of the custodia server into the parts that
// docs/performance.md ("Where each operation's CPU goes") compares with issue 14's CPU goals:
// the database commands (driver, BSON decoding, package store), gqlgen's execution and the
// JSON of the result, parsing, validation and the policy, the audit entry, the Go scheduler, the
// garbage collector's mark workers, and the rest (HTTP, token, middleware).
//
//	curl -s 'http://127.0.0.1:18105/debug/pprof/profile?seconds=30' -o card.prof   # while loadtest runs
//	go run ./cmd/profsplit -cpu-per-request 2.84ms card.prof
//
// Every sample goes to exactly one part: the first part, in the order above, that one of the
// sample's stack frames belongs to (a resolver waiting on a lookup counts as a database
// command, not as gqlgen). With -cpu-per-request (the server's CPU per request that loadtest
// reported for the same run) each share is also given in milliseconds per request.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/google/pprof/profile"
)

// parts are matched in this order against every function of a sample's stack.
var parts = []struct {
	name  string
	match *regexp.Regexp
}{
	{"database commands (driver, BSON, store)", regexp.MustCompile(`mongo-driver|^custodia/store\.`)},
	{"GC mark workers", regexp.MustCompile(`^runtime\.gcBgMarkWorker`)},
	{"gqlgen execution and JSON of the result", regexp.MustCompile(`^github\.com/99designs/gqlgen/graphql\.|^custodia/graph\.`)},
	{"scheduler (idle threads, wake-ups)", regexp.MustCompile(`^runtime\.(schedule|mcall|findRunnable|park_m|goexit0)$`)},
	{"parse, validate, policy", regexp.MustCompile(`gqlparser|^custodia/selection\.|^custodia/policy\.|CreateOperationContext`)},
	{"audit entry", regexp.MustCompile(`^custodia/audit\.`)},
}

const other = "other (HTTP, token, middleware, allocation outside the above)"

func main() {
	perRequest := flag.Duration("cpu-per-request", 0, "the server's CPU per request in the profiled run, to give each part in ms per request")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: profsplit [-cpu-per-request 2.8ms] cpu.prof")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profsplit:", err)
		os.Exit(1)
	}
	cpu := slices.IndexFunc(p.SampleType, func(t *profile.ValueType) bool { return t.Type == "cpu" && t.Unit == "nanoseconds" })
	if cpu < 0 {
		fmt.Fprintln(os.Stderr, "profsplit: not a CPU profile")
		os.Exit(1)
	}
	byPart := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[cpu]
		byPart[partOf(s)] += v
		total += v
	}
	if total == 0 {
		fmt.Fprintln(os.Stderr, "profsplit: the profile has no samples")
		os.Exit(1)
	}
	names := []string{other}
	for _, part := range parts {
		names = append(names, part.name)
	}
	slices.SortStableFunc(names, func(a, b string) int { return int(byPart[b] - byPart[a]) })
	fmt.Printf("%-62s %6s", "part", "share")
	if *perRequest > 0 {
		fmt.Printf(" %10s", "ms/request")
	}
	fmt.Println()
	for _, name := range names {
		share := float64(byPart[name]) / float64(total)
		fmt.Printf("%-62s %5.1f%%", name, 100*share)
		if *perRequest > 0 {
			fmt.Printf(" %10.2f", share*float64(*perRequest)/float64(time.Millisecond))
		}
		fmt.Println()
	}
	fmt.Printf("%d ms of samples\n", time.Duration(total).Milliseconds())
}

// partOf is the first part one of the sample's functions belongs to, or other.
func partOf(s *profile.Sample) string {
	for _, part := range parts {
		for _, loc := range s.Location {
			for _, line := range loc.Line {
				if line.Function != nil && part.match.MatchString(line.Function.Name) {
					return part.name
				}
			}
		}
	}
	return other
}
