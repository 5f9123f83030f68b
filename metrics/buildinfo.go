package metrics

import (
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo says which build is running: the module version ("(devel)" when built from a
// checkout), the Go version, and the VCS revision the binary was built from ("-dirty" when the
// checkout had uncommitted changes; "unknown" when the build recorded none, as under go test).
type BuildInfo struct {
	Version, GoVersion, Revision string
}

// Build reads the running binary's build information once.
var Build = sync.OnceValue(func() BuildInfo {
	b := BuildInfo{Version: "unknown", GoVersion: runtime.Version(), Revision: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if info.Main.Version != "" {
		b.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		b.GoVersion = info.GoVersion
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Revision != "unknown" {
		b.Revision += "-dirty"
	}
	return b
})

// buildInfoGauge is custodia_build_info: always 1, the build in its labels.
func buildInfoGauge() prometheus.Collector {
	b := Build()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "custodia_build_info",
		Help:        "The running build: version, Go version and VCS revision in the labels; always 1.",
		ConstLabels: prometheus.Labels{"version": b.Version, "goversion": b.GoVersion, "revision": b.Revision},
	})
	g.Set(1)
	return g
}
