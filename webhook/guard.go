package webhook

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// RefusedError is a connection the guard would not open: the address is
// not public.
type RefusedError struct{ Addr netip.Addr }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: not a public address", e.Addr)
}

// notPublic are ranges that are not on the public internet beyond what
// netip's own predicates (loopback, private, link-local, multicast,
// unspecified) already cover.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may reach private IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed private IPv4
}

// Public reports whether ip is an address on the public internet.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// Guard decides where deliveries may connect.
type Guard struct {
	// AllowPrivate lets deliveries reach loopback and private addresses
	// (development mode, where the receiver runs on the same machine).
	AllowPrivate bool
	// Resolver resolves endpoint names; nil is the system's.
	Resolver *net.Resolver
	// Connecting, if set, is told of each connection about to be opened
	// (after the check passed): tests assert it is never told of a refused one.
	Connecting func(address string)
}

// control runs after DNS resolution, on the address about to be connected
// to, before the connect system call: the check cannot be raced by a name
// that resolves differently the second time (DNS rebinding).
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: not an IP address and port", address)
	}
	if !g.AllowPrivate && !Public(ap.Addr()) {
		return &RefusedError{Addr: ap.Addr().Unmap()}
	}
	if g.Connecting != nil {
		g.Connecting(address)
	}
	return nil
}

// Dialer returns a dialer that refuses non-public addresses (unless
// AllowPrivate).
func (g *Guard) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: g.control, Resolver: g.Resolver}
}

// Client returns the HTTP client deliveries use: the guarded dialer, no
// proxy (a proxy would connect on our behalf, unchecked), no redirects (an
// answer is the endpoint's; a redirect counts as a failure), and a deadline
// on the whole exchange.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           g.Dialer(timeout).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          20,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
