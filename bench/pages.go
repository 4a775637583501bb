package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"omnisocial/handlers"
	"omnisocial/store"
	"omnisocial/vault"
)

type pageRow struct {
	Name    string
	Clients int
	Page    loadResult
	Base    loadResult
}

// benchPages serves the real handler stack on loopback, with a workspace of
// 50 connected accounts, and loads the accounts page, the API list and a
// baseline route on the same stack that renders nothing.
// so names the database: an empty Path is a fresh SQLite file.
func benchPages(root string, so store.Options, static fs.FS, d time.Duration) ([]pageRow, error) {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "omnisocial-bench")
	defer os.RemoveAll(dir)
	key, _ := vault.ParseKey(strings.Repeat("ab", 32))
	so.Box, _ = vault.NewBox(key)
	if so.Path == "" {
		so.Path = filepath.Join(dir, "pages.db")
	}
	st, err := store.Open(ctx, so)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + ln.Addr().String()
	u, _ := url.Parse(base)
	e := handlers.New(handlers.Deps{Store: st, Log: slog.New(slog.DiscardHandler), Static: static, Asset: "bench", BaseURL: u,
		SessionKey: vault.Derive(key, "session"), SessionIdle: time.Hour, SessionMax: 12 * time.Hour, LoginBurst: 1000})
	// The floor of the stack: every middleware, no page.
	e.GET("/bench/baseline", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	srv := &http.Server{Handler: e}
	go srv.Serve(ln)
	defer srv.Close()

	client, err := loggedIn(base, "dana@example.com", "Harbor")
	if err != nil {
		return nil, err
	}
	if err := seedPageAccounts(ctx, st, 1, 50); err != nil {
		return nil, err
	}
	var rows []pageRow
	for _, target := range []struct{ name, path string }{{"accounts page", "/settings/accounts"}, {"API list", "/api/v1/accounts"}} {
		for _, n := range []int{1, 16, 64} {
			load(client, base+target.path, n, time.Second, 1_000_000) // warm up
			row := pageRow{Name: target.name, Clients: n}
			row.Page = load(client, base+target.path, n, d, 1_000_000)
			row.Base = load(client, base+"/bench/baseline", n, d, 1_000_000)
			rows = append(rows, row)
			fmt.Fprintf(os.Stderr, "  %s, %d clients: %.0f req/s (baseline %.0f)\n", target.name, n, row.Page.RPS, row.Base.RPS)
		}
	}
	return rows, nil
}

// loggedIn signs a person up through the real form, making a workspace,
// and returns a client carrying their session, with enough idle
// connections for 64 clients.
func loggedIn(base, email, workspace string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/signup")
	if err != nil {
		return nil, err
	}
	doc, _ := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	tok, _ := doc.Find(`input[name=_csrf]`).Attr("value")
	res, err = c.PostForm(base+"/signup", url.Values{"_csrf": {tok}, "name": {"Dana"}, "email": {email},
		"password": {"correct horse battery"}, "workspace": {workspace}})
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign-up answered %d", res.StatusCode)
	}
	return c, nil
}

// seedPageAccounts gives workspace ws n accounts across the platforms, with
// realistic names, metadata and a history.
func seedPageAccounts(ctx context.Context, st *store.Store, ws int64, n int) error {
	if err := st.SetPlan(ctx, ws, "business"); err != nil {
		return err
	}
	now := time.Now()
	for i, platform := range []string{"facebook", "instagram", "tiktok"} {
		var found []store.Discovered
		for j := i; j < n; j += 3 {
			found = append(found, store.Discovered{
				PlatformUserID: fmt.Sprint(1000 + j), Username: fmt.Sprintf("brand%d", j), DisplayName: fmt.Sprintf("Brand account %d", j),
				AvatarURL: "https://cdn.example/avatar.png", Scopes: []string{"pages_show_list", "pages_manage_posts"},
				Metadata: map[string]any{"category": "Coffee Shop", "followers_count": 1200 + j},
				Tokens: store.Tokens{Access: vault.NewToken(fmt.Sprint("tok-", j)), Refresh: vault.NewToken(fmt.Sprint("rft-", j)),
					Expiry: now.Add(2 * time.Hour), RefreshExpiry: now.Add(180 * 24 * time.Hour)},
				NextCheckAt: now.Add(time.Hour),
			})
		}
		// Each sign-up made one user and one workspace: ws is its user too.
		if _, err := st.Connect(ctx, store.Connect{WorkspaceID: ws, UserID: ws, Platform: platform, Accounts: found}); err != nil {
			return err
		}
	}
	return nil
}
