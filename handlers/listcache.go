package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/a-h/templ"

	"omnisocial/store"
	"omnisocial/views"
)

// The accounts page and the API keep each workspace's list, read and
// rendered, under the workspace's AccountsVersion. Every change to its accounts moves that
// number in the change's own transaction (schema.sql's triggers), and a
// request reads it with its viewer at no extra cost, so a change made in
// one request, on any replica, is seen by the very next; while the number
// holds, the accounts are neither read nor rendered again. A row whose
// words move with the clock ("checked 5 minutes ago", expiring soon) is
// shaped and rendered again from the kept account when its words would
// change.

// accountList is one workspace's list as a manager, a member or the API
// sees it. It is never changed once shared: a newer one replaces it.
type accountList struct {
	version int64
	accts   []store.Account
	views   []views.AccountView
	rows    []keptRow
	size    int          // bytes of rendered rows
	used    atomic.Int64 // last use, for eviction
}

// keptRow is a rendered row (HTML split where the CSRF token goes: rows
// are shared between people, tokens are not; or the API's JSON).
type keptRow struct {
	parts [][]byte
	until time.Time // when the clock changes its words
}

type listKey struct {
	workspace int64
	kind      listKind
}

type listKind uint8

const (
	listMember  listKind = iota // the page as a member sees it
	listManager                 // with the actions of owners and admins
	listAPI                     // the API's JSON
)

func pageKind(manage bool) listKind {
	if manage {
		return listManager
	}
	return listMember
}

// listCache holds the lists of the workspaces used lately, up to max bytes
// of rendered rows.
type listCache struct {
	mu    sync.Mutex
	lists map[listKey]*accountList
	size  int
	max   int
	mark  string // stands for the CSRF token in kept rows
}

// listCacheBytes bounds the rendered rows kept: about 3 kB a row, so some
// 5,000 rows of the workspaces used lately.
const listCacheBytes = 16 << 20

func newListCache(max int) *listCache {
	b := make([]byte, 16)
	rand.Read(b)
	return &listCache{lists: map[listKey]*accountList{}, max: max, mark: "csrf-mark-" + hex.EncodeToString(b)}
}

// accountList returns the current workspace's list as the viewer sees it,
// read and rendered only when its accounts changed since it was last kept.
func (s *server) accountList(ctx context.Context, m store.Membership, kind listKind) (*accountList, error) {
	key, now := listKey{m.ID, kind}, s.Now()
	l := s.lists.get(key)
	if l == nil || l.version != m.AccountsVersion {
		read := s.Store.AccountList // the columns the page shows
		if kind == listAPI {
			read = s.Store.Accounts
		}
		accts, err := read(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		l = &accountList{version: m.AccountsVersion, accts: accts,
			views: make([]views.AccountView, len(accts)), rows: make([]keptRow, len(accts))}
		for i := range accts {
			s.renderRow(l, i, kind, now)
		}
		s.lists.put(key, l)
	} else if n := s.rerender(l, kind, now); n != nil {
		l = n
		s.lists.put(key, l)
	}
	l.used.Store(now.UnixNano())
	return l, nil
}

// rerender returns a copy of l with the rows the clock has changed
// rendered anew, or nil when none has.
func (s *server) rerender(l *accountList, kind listKind, now time.Time) *accountList {
	var n *accountList
	for i, r := range l.rows {
		if now.Before(r.until) {
			continue
		}
		if n == nil {
			n = &accountList{version: l.version, accts: l.accts, size: l.size,
				views: append([]views.AccountView(nil), l.views...), rows: append([]keptRow(nil), l.rows...)}
		}
		s.renderRow(n, i, kind, now)
	}
	return n
}

func (s *server) renderRow(l *accountList, i int, kind listKind, now time.Time) {
	a := l.accts[i]
	v := s.accountView(a, kind == listManager)
	var b bytes.Buffer
	// Neither can fail: a buffer, and a struct of strings and times.
	if kind == listAPI {
		js, _ := json.Marshal(s.apiAccount(a, v))
		b.Write(js)
	} else {
		_ = views.AccountRow(views.Chrome{CSRF: s.lists.mark, Asset: s.Asset}, v).Render(context.Background(), &b)
	}
	old := 0
	for _, p := range l.rows[i].parts {
		old += len(p)
	}
	l.size += b.Len() - old
	l.views[i] = v
	l.rows[i] = keptRow{parts: bytes.Split(b.Bytes(), []byte(s.lists.mark)), until: s.viewUntil(a, now)}
}

// row writes a kept row with the viewer's CSRF token in its forms.
func (r keptRow) with(token string) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		for i, p := range r.parts {
			if i > 0 {
				if _, err := io.WriteString(w, token); err != nil {
					return err
				}
			}
			if _, err := w.Write(p); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *listCache) get(k listKey) *accountList {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists[k]
}

// put keeps l, then drops the lists used longest ago until the rows fit.
// A request that read an older number and finishes late replaces a newer
// list: the next request reads again, which costs a read, never a stale
// list: each is used only under the number read before its rows.
func (c *listCache) put(k listKey, l *accountList) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.lists[k]; old != nil {
		c.size -= old.size
	}
	c.lists[k] = l
	c.size += l.size
	for c.size > c.max && len(c.lists) > 1 {
		var oldest listKey
		first := true
		for k2, l2 := range c.lists {
			if k2 != k && (first || l2.used.Load() < c.lists[oldest].used.Load()) {
				oldest, first = k2, false
			}
		}
		c.size -= c.lists[oldest].size
		delete(c.lists, oldest)
	}
}
