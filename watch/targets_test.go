package watch

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestDeliveriesConnectToNoRefusedAddress: the delivery client checks the address it
// connects to after name resolution, so a registered name later pointed at the server's own
// host (localhost here) is refused when a delivery connects — unless loopback is allowed.
func TestDeliveriesConnectToNoRefusedAddress(t *testing.T) {
	hits := 0
	ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer ts.Close()
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	url := "http://localhost:" + port
	for _, c := range []struct {
		loopback bool
		refused  bool
	}{{false, true}, {true, false}} {
		resp, err := callbackClient(nil, c.loopback).Post(url, "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
		if refused := errors.Is(err, errRefusedTarget); refused != c.refused {
			t.Errorf("loopback allowed %v: refused %v (%v), want %v", c.loopback, refused, err, c.refused)
		}
	}
	if hits != 1 {
		t.Errorf("the receiver was reached %d times, want once (with loopback allowed)", hits)
	}
}
