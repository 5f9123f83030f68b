package watch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// An agency callback is a URL the register office enters and the server then posts to: it
// must not make the server reach what only the server can reach (server-side request
// forgery). A callback target is refused when it is the server itself or its host's own
// network — loopback, link-local (cloud metadata endpoints live there), unspecified or
// multicast addresses, and the name localhost — checked on the URL at registration and again
// on every address the name resolves to when a delivery connects (a name may be re-pointed
// after registration). Agencies' receivers on private networks (10/8, 192.168/16, …) are
// allowed: agency networks are closed. Redirects are never followed (a 3xx is a failed
// delivery), so a receiver cannot send the server on elsewhere.
//
// Config.CallbackLoopback lifts the loopback rule for tests and a receiver on the same host.

// refusedAddr reports why a callback may not connect to addr ("" when it may).
func refusedAddr(addr netip.Addr, loopback bool) string {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback() && !loopback:
		return "a loopback address"
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return "a link-local address"
	case addr.IsUnspecified():
		return "an unspecified address"
	case addr.IsMulticast():
		return "a multicast address"
	}
	return ""
}

// refusedHost reports why a callback URL's host may not be a target ("" when it may): an IP
// literal refusedAddr refuses, or the name localhost.
func refusedHost(host string, loopback bool) string {
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return refusedAddr(addr, loopback)
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if !loopback && (name == "localhost" || strings.HasSuffix(name, ".localhost")) {
		return "the local host"
	}
	return ""
}

// errRefusedTarget is the delivery error of a connection to a refused address.
var errRefusedTarget = errors.New("callback target refused")

// guardDial refuses, as a dialer's Control, connections to addresses refusedAddr refuses:
// after name resolution, so a name pointed at the server's own network later is refused too.
func guardDial(loopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", errRefusedTarget, address)
		}
		if why := refusedAddr(ap.Addr(), loopback); why != "" {
			return fmt.Errorf("%w: %s is %s", errRefusedTarget, address, why)
		}
		return nil
	}
}

// callbackClient is the client deliveries use: client (nil: one with a 10 s timeout) with
// redirects not followed and, where its transport is an *http.Transport, every connection
// guarded (guardDial).
func callbackClient(client *http.Client, loopback bool) *http.Client {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t, ok := c.Transport.(*http.Transport)
	if c.Transport == nil {
		t, ok = http.DefaultTransport.(*http.Transport)
	}
	if ok {
		t = t.Clone()
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: guardDial(loopback)}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		}
		t.Proxy = nil // a proxy would connect for us, unguarded
		c.Transport = t
	}
	return &c
}
