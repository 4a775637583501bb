package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"omnisocial/providers"
	"omnisocial/setupcheck"
	"omnisocial/store"
	"omnisocial/vault"
	"omnisocial/views"
)

// setupInput is what the setup check looks at, the same for the owners'
// page and `omnisocial doctor`.
func setupInput(cfg config, st *store.Store, storeErr error, onSandbox []string) setupcheck.Input {
	in := setupcheck.Input{BaseURL: cfg.BaseURL, Store: st, StoreErr: storeErr, DBPath: cfg.DBPath,
		RefreshEvery: cfg.RefreshEvery, SMTP: cfg.SMTP != nil, Now: time.Now()}
	for _, p := range providers.Platforms() {
		sp := setupcheck.Platform{Name: providers.Describe(p).Title(), Slug: string(p), OnSandbox: slices.Contains(onSandbox, string(p))}
		sp.Configured, sp.Vars = appConfig(cfg, p)
		sp.Configured = sp.Configured || sp.OnSandbox
		in.Platforms = append(in.Platforms, sp)
	}
	return in
}

// setupLines adapts the check to the page's view model.
func setupLines(lines []setupcheck.Line) []views.SetupLine {
	out := make([]views.SetupLine, len(lines))
	for i, l := range lines {
		out[i] = views.SetupLine{OK: l.OK, Title: l.Title, Detail: l.Detail, Fix: l.Fix, Copy: l.Copy}
	}
	return out
}

// doctor prints the setup check. A database the key cannot open is a
// finding, not a reason to stop; it fails (exit 1) when any line is bad.
func doctor(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	if dev := strings.TrimSpace(getenv("OMNISOCIAL_DEV")); strings.EqualFold(dev, "true") || dev == "1" {
		// Development mode keeps its secrets in a file beside the database.
		var err error
		if getenv, _, err = devSecrets(getenv); err != nil {
			return fmt.Errorf("development secrets: %w", err)
		}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration:\n  %v", err)
	}
	var st *store.Store
	box, storeErr := vault.NewBox(cfg.EncryptionKey)
	if storeErr == nil {
		st, storeErr = store.Open(ctx, store.Options{Path: cfg.DBPath, Schema: schemaSQL, SchemaPostgres: schemaPostgres, Box: box})
	}
	if st != nil {
		defer st.Close()
	}
	var onSandbox []string
	if cfg.Sandbox {
		onSandbox = sandboxed(cfg)
	}
	lines := setupcheck.Run(ctx, setupInput(cfg, st, storeErr, onSandbox))
	fmt.Fprint(stdout, setupcheck.Text(lines))
	for _, l := range lines {
		if !l.OK {
			return errors.New("the setup check found problems (the lines marked FAIL)")
		}
	}
	return nil
}
