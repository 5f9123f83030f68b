// Command custodia serves the register API.
//
//	go run .                      start the server (development mode: embedded FerretDB, demo data)
//	go run . token -role POLICE   print a development token for the demo official of a role
//	go run . audit keygen         make an audit log signing key (AUDIT_SIGNING_KEY_FILE)
//	go run . audit key            print the audit log's public key, for auditors
//	go run . audit export -o f [-url u -token t]
//	                              export the audit log with its signed checkpoints
//	go run . audit verify -key k -checkpoint c -export f
//	                              verify an export offline against kept checkpoints
//	go run . db                   serve the embedded FerretDB on its own (point MONGODB_URI at it)
//	go run . schema -role POLICE  print the role's schema as SDL (for code generators)
//	custodia healthcheck          exit 0 when the server on LISTEN_ADDR is ready (container HEALTHCHECK)
//
// Configuration is read from the environment; see README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"custodia/app"
	"custodia/auth"
	"custodia/graph"
	"custodia/model"
	"custodia/policy"
	"custodia/seed"
	"custodia/store"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	command := ""
	if len(os.Args) > 1 {
		command = os.Args[1]
	}
	switch command {
	case "token":
		err = tokenCommand(os.Args[2:])
	case "audit":
		err = auditCommand(os.Args[2:], os.Stdout, log)
	case "db":
		err = dbCommand(os.Args[2:], log)
	case "schema":
		err = schemaCommand(os.Stdout, os.Args[2:])
	case "healthcheck":
		err = healthcheck(os.Getenv("LISTEN_ADDR"), 3*time.Second)
	default:
		err = serve(log)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "custodia:", err)
		os.Exit(1)
	}
}

func serve(log *slog.Logger) error {
	cfg, err := app.FromEnv()
	if err != nil {
		return err
	}
	if err := runtimeSetup(log); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	return srv.Run(ctx)
}

// dbCommand serves the embedded FerretDB (the development engine) in a process of its own, so
// that the API can be measured without the database on its CPU and several API instances can
// share one database: start it, then run the server with MONGODB_URI set to the URI it logs.
// It keeps its data under DATA_DIR/db, like the embedded default, and stops on SIGINT/SIGTERM.
func dbCommand(args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("db", flag.ContinueOnError)
	listen := fs.String("listen", envOr("DB_LISTEN_ADDR", "127.0.0.1:27017"), "address to serve the MongoDB wire protocol on (DB_LISTEN_ADDR)")
	dataDir := fs.String("data", envOr("DATA_DIR", "./data"), "data directory; the database lives in its db subdirectory (DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir := filepath.Join(*dataDir, "db")
	e, err := store.StartEmbedded(dir, *listen, nil)
	if err != nil {
		return err
	}
	log.Info("embedded FerretDB serving", "data_dir", dir, "uri", e.URI())
	<-ctx.Done()
	e.Stop()
	log.Info("embedded FerretDB stopped")
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// tokenCommand prints a development token for the demo official of a role.
func tokenCommand(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	role := fs.String("role", "", "role of the demo official: "+roleList())
	subject := fs.String("subject", "", "token subject (default: the demo official of the role, e.g. demo-police)")
	ttl := fs.Duration("ttl", 8*time.Hour, "token lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := app.FromEnv()
	if err != nil {
		return err
	}
	if cfg.Mode != app.Development {
		return fmt.Errorf("tokens can only be minted in development mode")
	}
	official, ok := seed.OfficialFor(model.Role(strings.ToUpper(*role)))
	if !ok {
		return fmt.Errorf("-role must be one of %s", roleList())
	}
	key, err := auth.LoadOrCreateDevKey(cfg.DataDir)
	if err != nil {
		return err
	}
	id := official.Identity
	if *subject != "" {
		id.Subject = *subject
	}
	token, err := key.Sign(id, *ttl)
	if err != nil {
		return err
	}
	fmt.Println(token)
	return nil
}

// schemaCommand prints the SDL of the schema a role may see (policy.SDLFor): the input for a
// frontend's code generator. It needs no database or configuration.
func schemaCommand(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	role := fs.String("role", "", "role whose schema to print: "+roleList())
	if err := fs.Parse(args); err != nil {
		return err
	}
	r := model.Role(strings.ToUpper(*role))
	if !r.IsValid() {
		return fmt.Errorf("-role must be one of %s", roleList())
	}
	pol, err := policy.New(graph.NewExecutableSchema(graph.Config{}).Schema())
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, pol.SDLFor(r))
	return err
}

// healthcheck asks the server listening on listenAddr (LISTEN_ADDR, default :8080) whether it is
// ready (GET /readyz) and fails unless it answers 200 within the timeout. It is the container's
// HEALTHCHECK: the distroless image has no shell or curl.
func healthcheck(listenAddr string, timeout time.Duration) error {
	url, err := readyURL(listenAddr)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: GET %s answered %s", url, resp.Status)
	}
	return nil
}

// readyURL is the /readyz URL of a server listening on addr; a wildcard or empty host (":8080",
// "0.0.0.0:8080", "[::]:8080") is reached over the loopback interface.
func readyURL(addr string) (string, error) {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("LISTEN_ADDR %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

func roleList() string {
	names := make([]string, len(model.AllRole))
	for i, r := range model.AllRole {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
