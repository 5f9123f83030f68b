package store

import (
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"custodia/apperr"
)

// clearedPool stands for the driver's unexported error of a connection pool cleared because
// another command on it failed: it is known by its Retryable method (driver.RetryablePoolError).
type clearedPool struct{}

func (clearedPool) Error() string   { return "connection pool for 127.0.0.1:27017 was cleared" }
func (clearedPool) Retryable() bool { return true }

// TestClassify checks which driver errors say the database cannot serve now
// (SERVICE_UNAVAILABLE) and that other errors pass through unchanged (INTERNAL at the API).
func TestClassify(t *testing.T) {
	other := errors.New("decoding went wrong")
	cases := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"a cleared connection pool", fmt.Errorf("find: %w", clearedPool{}), true},
		{"a closed connection", fmt.Errorf("find: %w", topology.ConnectionError{ConnectionID: "c1"}), true},
		{"no server selected", topology.ServerSelectionError{Wrapped: other}, true},
		{"the client disconnected", mongo.ErrClientDisconnected, true},
		{"FerretDB's internal error while it stops", mongo.CommandError{Code: 1, Message: "sql: database is closed"}, true},
		{"a shutdown in progress", mongo.CommandError{Code: 91}, true},
		{"a duplicate key", mongo.CommandError{Code: 11000}, false},
		{"anything else", other, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := classify(c.err)
			var e *apperr.Error
			isUnavailable := errors.As(got, &e) && e.Code == apperr.ServiceUnavailable
			if isUnavailable != c.unavailable {
				t.Errorf("classify(%v) = %v, SERVICE_UNAVAILABLE %v, want %v", c.err, got, isUnavailable, c.unavailable)
			}
			if !c.unavailable && (e != nil || got.Error() != c.err.Error()) {
				t.Errorf("classify(%v) = %v, want the error unchanged", c.err, got)
			}
		})
	}
}
