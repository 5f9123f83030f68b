package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // the embedded engine's SQLite files, for indexIDs
)

// Embedded is an in-process FerretDB v1 (SQLite handler) that speaks the MongoDB wire protocol
// on a loopback address, so the server and the tests use the same driver code path as against
// MongoDB (DESIGN §8).
type Embedded struct {
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
	dir    string
	log    *slog.Logger
}

// newFerretDB serialises ferretdb.New, which writes a package-level variable of FerretDB's
// (a data race when tests start engines in parallel).
var newFerretDB sync.Mutex

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
	log = slog.New(withoutAttrs{log.Handler()})
	newFerretDB.Lock() // ferretdb.New sets a package-level version field: one at a time
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		Logger:    log,
	})
	newFerretDB.Unlock()
	if err != nil {
		return nil, fmt.Errorf("start embedded FerretDB: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{cancel: cancel, done: make(chan struct{}), dir: abs, log: log}
	run := make(chan struct{})
	go func() {
		defer close(run)
		_ = f.Run(ctx)
	}()
	go func() {
		defer close(e.done)
		e.indexIDs(ctx)
		<-run
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

// idIndexInterval is how often the embedded engine looks for new collections to give an _id
// index that SQLite can use (see indexIDs).
const idIndexInterval = 2 * time.Second

// indexIDs gives every collection of the embedded engine an index that serves its _id
// lookups, until ctx ends. FerretDB v1's SQLite backend looks documents up by _id with
// `_ferretdb_sjson->'$._id' = ?` but indexes `_ferretdb_sjson->"_id"`; SQLite uses an
// expression index only for the very same expression, so without this every _id lookup scans
// and parses the whole table (≈1.4 ms per lookup at 1,000 persons, growing with the register).
// The index is created in the engine's own SQLite files, next to FerretDB's (which drops it
// with the collection's table); new collections get it within idIndexInterval.
func (e *Embedded) indexIDs(ctx context.Context) {
	indexed := map[string]bool{}
	checked := map[string]time.Time{} // file → its last change when last checked
	tick := time.NewTicker(idIndexInterval)
	defer tick.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(e.dir, "*.sqlite"))
		for _, f := range files {
			changed := lastChange(f)
			if changed.Equal(checked[f]) {
				continue // no new table since the last look
			}
			if err := indexIDsIn(ctx, f, indexed); err != nil {
				if ctx.Err() == nil {
					e.log.Error("embedded FerretDB: _id index", "file", filepath.Base(f), "error", err.Error())
				}
				continue
			}
			checked[f] = changed
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// lastChange is the latest modification time of a SQLite database file and its write-ahead log.
func lastChange(file string) time.Time {
	var latest time.Time
	for _, f := range []string{file, file + "-wal"} {
		if fi, err := os.Stat(f); err == nil && fi.ModTime().After(latest) {
			latest = fi.ModTime()
		}
	}
	return latest
}

// indexIDsIn creates the _id path index of every collection table in one database file that
// does not have it yet (indexed remembers the tables done).
func indexIDsIn(ctx context.Context, file string, indexed map[string]bool) error {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%_ferretdb_sjson%'`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		if !indexed[file+"\x00"+name] {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_custodia_id_path", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
		indexed[file+"\x00"+t] = true
	}
	return nil
}

// withoutAttrs drops the attributes FerretDB attaches to its loggers. FerretDB v1 adds every
// SQL statement's arguments — whole documents, personal data — to a logger (Logger.With) for
// each statement it runs, which a text handler formats eagerly whatever the level: that cost
// about a sixth of the engine's CPU, and the attributes must not reach a log anyway. Records
// (errors only, by default) keep their message and their own attributes.
type withoutAttrs struct{ slog.Handler }

func (h withoutAttrs) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h withoutAttrs) WithGroup(string) slog.Handler { return h }

// URI is the MongoDB connection string of the embedded server.
func (e *Embedded) URI() string { return e.uri }

// Stop closes the listener and every connection and waits until the data files are closed.
func (e *Embedded) Stop() {
	e.cancel()
	<-e.done
}
