package handlers

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"omnisocial/sandbox"
)

// TestHeadAnswersEveryGetRoute walks the real route table: every path that
// answers GET answers HEAD with the same status, Location and (for
// non-errors) Content-Type, and sends no body on the wire. It runs logged
// in and logged out, so pages behind log-in send HEAD to /login as GET is.
func TestHeadAnswersEveryGetRoute(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	k, ctl := newFlowKit(t, func(d *Deps) { d.Sandbox = sb })
	owner := k.browser()
	owner.signup("dana@example.com", "Harbor")
	ctl.consent("bloom")
	owner.authorize("tiktok", nil)
	ctl.consent("dana")
	grantPath := owner.authorize("facebook", nil).Header.Get("Location") // left pending: the chooser answers 200
	accts, err := k.st.Accounts(t.Context(), 1)
	if err != nil || len(accts) != 1 {
		t.Fatalf("accounts: %v %v", accts, err)
	}
	grantID := grantPath[strings.LastIndex(grantPath, "/")+1:]

	// Path parameters get values that exist where one can; a missing one
	// must give the same 404 either way.
	params := map[string]string{":id": accts[0].ID, ":platform": "tiktok", ":code": "no-such-code", ":token": "no-such-token", ":grant": "no-such-grant"}
	wildcards := map[string]string{"/static*": "/app.css", "/sandbox/*": "control/personas"}

	paths := getRoutePaths(t, k, params, wildcards)
	// The chooser with a real grant, and paths no route serves.
	paths = append(paths, "/settings/accounts/choose/"+grantID, "/no/such/page", "/static/no-such.css")
	sort.Strings(paths)
	if len(paths) < 20 {
		t.Fatalf("only %d GET routes found: %v", len(paths), paths)
	}

	anon := k.browser()
	for _, who := range []struct {
		name string
		b    *browser
	}{{"logged in", owner}, {"logged out", anon}} {
		for _, p := range paths {
			t.Run(who.name+" "+p, func(t *testing.T) {
				headMatchesGet(t, who.b, k.srv.URL, p)
			})
		}
	}
}

// getRoutePaths is every GET route of the kit's table as a path to request,
// with params for its path parameters and wildcards for its wildcards.
func getRoutePaths(t *testing.T, k *kit, params, wildcards map[string]string) []string {
	t.Helper()
	var paths []string
	for _, r := range k.echo.Routes() {
		if r.Method != http.MethodGet {
			continue
		}
		p := r.Path
		if w, ok := wildcards[p]; ok {
			p = strings.TrimSuffix(p, "*") + w
		} else if strings.HasSuffix(p, "*") {
			t.Fatalf("route %s has a wildcard without a value in this test", r.Path)
		}
		var segs []string
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				v, ok := params[seg]
				if !ok {
					t.Fatalf("route %s: no value for %s in this test", r.Path, seg)
				}
				seg = v
			}
			segs = append(segs, seg)
		}
		paths = append(paths, strings.Join(segs, "/"))
	}
	return paths
}

// headMatchesGet sends GET and then HEAD for p: the same status, Location
// and (for non-errors) Content-Type, a Content-Security-Policy, and no
// body on the wire.
func headMatchesGet(t *testing.T, b *browser, base, p string) {
	t.Helper()
	get := b.get(p)
	io.Copy(io.Discard, get.Body)
	status, header, body := rawHead(t, b, base+p)
	if status != get.StatusCode {
		t.Fatalf("HEAD %s = %d, GET = %d", p, status, get.StatusCode)
	}
	if got, want := header.Get("Location"), get.Header.Get("Location"); got != want {
		t.Errorf("HEAD Location %q, GET %q", got, want)
	}
	if got, want := header.Get("Content-Type"), get.Header.Get("Content-Type"); status < 400 && got != want {
		t.Errorf("HEAD Content-Type %q, GET %q", got, want)
	}
	if got := header.Get("Content-Security-Policy"); got == "" {
		t.Error("HEAD has no Content-Security-Policy")
	}
	if len(body) != 0 {
		t.Errorf("HEAD sent a body of %d bytes: %.80q", len(body), body)
	}
}

// rawHead sends HEAD on its own connection and reads to the end, so a body
// sent after the headers would show (Go's client never reads one for HEAD).
func rawHead(t *testing.T, b *browser, target string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodHead, target, nil)
	req.Close = true
	for _, c := range b.c.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	conn, err := net.Dial("tcp", req.URL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no end of headers in %q", raw)
	}
	res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))), req)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, body
}
