package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Embedded is an in-process FerretDB v1 (SQLite handler) that speaks the MongoDB wire protocol
// on a loopback address, so the server and the tests use the same driver code path as against
// MongoDB (DESIGN §8).
type Embedded struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartEmbedded starts FerretDB keeping its data under dir (created if needed) and listening on
// addr (e.g. "127.0.0.1:0" for any free port). It returns once the listener accepts connections.
func StartEmbedded(dir, addr string, log *slog.Logger) (*Embedded, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("start embedded FerretDB: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		_ = f.Run(ctx)
	}()
	uriReady := make(chan string, 1)
	go func() { uriReady <- f.MongoDBURI() }()
	select {
	case e.uri = <-uriReady:
	case <-time.After(30 * time.Second):
		cancel()
		return nil, fmt.Errorf("embedded FerretDB did not start listening on %s", addr)
	}
	return e, nil
}

// URI is the MongoDB connection string of the embedded server.
func (e *Embedded) URI() string { return e.uri }

// Stop closes the listener and every connection and waits until the data files are closed.
func (e *Embedded) Stop() {
	e.cancel()
	<-e.done
}
