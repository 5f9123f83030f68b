package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"custodia/app"
	"custodia/internal/testenv"
	"custodia/model"
)

// collector is a local OTLP trace collector: it remembers the names of the spans it receives.
type collector struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (c *collector) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	c.record(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (c *collector) record(req *coltrace.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.names = append(c.names, s.GetName())
			}
		}
	}
}

func (c *collector) waitFor(t *testing.T, name string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c.mu.Lock()
		names := strings.Join(c.names, ",")
		c.mu.Unlock()
		if strings.Contains(","+names+",", ","+name+",") {
			return
		}
	}
	t.Fatalf("the collector never received a %q span", name)
}

// TestOTLPProtocols: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach a local collector over
// the protocol OTEL_EXPORTER_OTLP_PROTOCOL names; an unsupported protocol refuses to start.
// (Not parallel: the exporter is configured by environment variables.)
func TestOTLPProtocols(t *testing.T) {
	t.Run("grpc", func(t *testing.T) {
		c := &collector{}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		coltrace.RegisterTraceServiceServer(gs, c)
		go func() { _ = gs.Serve(ln) }()
		t.Cleanup(gs.Stop)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
		t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
		t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
		env := testenv.New(t, testenv.Options{Persons: 10})
		env.MustData(model.RolePolice, `query Prisons { prisons { id } }`, nil)
		c.waitFor(t, "graphql Prisons")
	})
	t.Run("http/protobuf", func(t *testing.T) {
		c := &collector{}
		var contentType string
		var mu sync.Mutex
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			req := &coltrace.ExportTraceServiceRequest{}
			if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
				http.Error(w, "bad export", http.StatusBadRequest)
				return
			}
			mu.Lock()
			contentType = r.Header.Get("Content-Type")
			mu.Unlock()
			c.record(req)
			w.Header().Set("Content-Type", "application/x-protobuf")
			out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
			_, _ = w.Write(out)
		}))
		t.Cleanup(hs.Close)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", hs.URL)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
		t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
		env := testenv.New(t, testenv.Options{Persons: 10})
		env.MustData(model.RolePolice, `query Prisons { prisons { id } }`, nil)
		c.waitFor(t, "graphql Prisons")
		mu.Lock()
		defer mu.Unlock()
		if contentType != "application/x-protobuf" {
			t.Errorf("exported with Content-Type %q", contentType)
		}
	})
	t.Run("unsupported protocol", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
		srv, err := app.New(context.Background(), app.Config{Mode: app.Development, DataDir: t.TempDir()}, slog.New(slog.DiscardHandler))
		if err == nil {
			srv.Close()
			t.Fatal("started with an unsupported OTLP protocol")
		}
		if !strings.Contains(err.Error(), "http/json") {
			t.Errorf("the error does not name the protocol: %v", err)
		}
	})
}
