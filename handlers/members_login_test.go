package handlers

import (
	"context"
	"net/url"
	"testing"
)

// Log-in opens the workspace the person used last, not the oldest.
func TestLogInOpensLastWorkspace(t *testing.T) {
	k := newKit(t)
	b, _ := owned(t, k)
	other, _ := k.st.CreateWorkspace(context.Background(), 1, "Beta", "pro")
	b.form("/settings/accounts", "/workspaces/switch", url.Values{"workspace": {idStr(other.ID)}})
	b.form("/settings/accounts", "/logout", url.Values{})
	b.login("owner@example.com")
	if got := parse(t, b.get("/settings/accounts")).Find("[data-testid=workspace-switch] option[selected]").Text(); got != "Beta" {
		t.Fatalf("after log-in: %q, want Beta", got)
	}
}
