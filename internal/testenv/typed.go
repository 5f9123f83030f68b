package testenv

import (
	"encoding/json"
	"net/http"
	"testing"
)

// DataAs decodes a response's data into a typed value, failing the test on any GraphQL error
// or non-200 status.
func DataAs[T any](t testing.TB, r Response) T {
	t.Helper()
	var out T
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		t.Fatalf("unexpected errors (HTTP %d): %s", r.Status, r.Raw)
	}
	var envelope struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &envelope); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	if err := json.Unmarshal(envelope.Data, &out); err != nil {
		t.Fatalf("data does not decode into %T: %v\n%s", out, err, r.Raw)
	}
	return out
}
