package store

import "testing"

// startEmbedded starts an embedded FerretDB in a temporary directory for the test and stops
// it when the test ends.
func startEmbedded(t testing.TB) *Embedded {
	t.Helper()
	e, err := StartEmbedded(t.TempDir(), "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	return e
}
