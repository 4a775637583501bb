package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"omnisocial/handlers"
	"omnisocial/providers"
	"omnisocial/refresh"
	"omnisocial/sandbox"
	"omnisocial/store"
	"omnisocial/vault"
)

// setup loads configuration (development mode filling in missing secrets)
// and opens the store: what every command that touches data needs.
func setup(ctx context.Context, getenv func(string) string, logw io.Writer) (config, *slog.Logger, *store.Store, error) {
	dev := strings.EqualFold(strings.TrimSpace(getenv("OMNISOCIAL_DEV")), "true") || strings.TrimSpace(getenv("OMNISOCIAL_DEV")) == "1"
	generated := false
	if dev {
		var err error
		if getenv, generated, err = devSecrets(getenv); err != nil {
			return config{}, nil, nil, fmt.Errorf("development secrets: %w", err)
		}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return cfg, nil, nil, fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	log := newLogger(cfg, logw)
	if generated {
		log.Warn("DEVELOPMENT MODE: generated an encryption key and session secret into " +
			filepath.Join(filepath.Dir(cfg.DBPath), "dev-secrets.env") + ". Never run production like this: set OMNISOCIAL_ENCRYPTION_KEY and OMNISOCIAL_SESSION_SECRET.")
	}
	var older [][]byte
	if cfg.OldEncryptionKey != nil {
		older = append(older, cfg.OldEncryptionKey)
	}
	box, err := vault.NewBox(cfg.EncryptionKey, older...)
	if err != nil {
		return cfg, nil, nil, err
	}
	st, err := store.Open(ctx, store.Options{Path: cfg.DBPath, Schema: schemaSQL, Box: box})
	if errors.Is(err, store.ErrWrongKey) {
		return cfg, nil, nil, fmt.Errorf("OMNISOCIAL_ENCRYPTION_KEY is not the key %s was written with; nothing was changed", cfg.DBPath)
	}
	if err != nil {
		return cfg, nil, nil, err
	}
	for plan, max := range cfg.PlanLimits {
		if err := st.SetPlanLimit(ctx, plan, max); err != nil {
			st.Close()
			return cfg, nil, nil, err
		}
	}
	return cfg, log, st, nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// housekeeping ends what has run out: sessions, OAuth flows, choices never
// made (their tokens owed a revocation) and routine history past its days.
func housekeeping(ctx context.Context, st *store.Store, cfg config, log *slog.Logger) {
	now := time.Now()
	if err := st.DeleteExpired(ctx, now.Add(-cfg.SessionIdle), now.Add(-cfg.SessionMax)); err != nil {
		log.Warn("housekeeping: sessions and flows", "err", err)
	}
	if _, err := st.ExpirePendingGrants(ctx, func(p string) []string { return providers.SignInPlatforms(providers.Platform(p)) }); err != nil {
		log.Warn("housekeeping: expired choices", "err", err)
	}
	n, err := st.PruneHistory(ctx, now.AddDate(0, 0, -cfg.HistoryDays))
	if err != nil {
		log.Warn("housekeeping: history", "err", err)
	} else if n > 0 {
		log.Info("housekeeping: routine history pruned", "events", n, "days_kept", cfg.HistoryDays)
	}
}

// serve runs the web server until ctx ends. ready, if not nil, is told the
// address once it listens (tests listen on port 0).
func serve(ctx context.Context, getenv func(string) string, logw io.Writer, ready func(addr string)) error {
	cfg, log, st, err := setup(ctx, getenv, logw)
	if err != nil {
		return err
	}
	defer st.Close()

	var sb *sandbox.Sandbox
	if cfg.Sandbox {
		sb, err = sandbox.New(sandbox.Options{
			StatePath:          filepath.Join(filepath.Dir(cfg.DBPath), "sandbox.json"),
			MetaAppID:          sandbox.DevMetaAppID,
			MetaAppSecret:      sandbox.DevMetaAppSecret,
			TikTokClientKey:    sandbox.DevTikTokClientKey,
			TikTokClientSecret: sandbox.DevTikTokClientSecret,
			Logger:             log.With("component", "sandbox"),
		})
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		defer sb.Close()
	}

	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return err
	}
	var sbHandler http.Handler
	if sb != nil {
		sbHandler = sb
	}
	provs, onSandbox, formActions, metaSecret := platforms(cfg, sb)
	deps := handlers.Deps{
		Providers:     provs,
		FormActions:   formActions,
		ExpiryWarning: cfg.ExpiryWarning,
		HistoryDays:   cfg.HistoryDays,
		MetaAppSecret: metaSecret,
		Store:         st,
		Log:           log,
		Static:        static,
		Asset:         version + "-" + assetHash(static),
		BaseURL:       cfg.BaseURL,
		SessionKey:    vault.Derive(cfg.SessionSecret, "session-cookie v1"),
		SessionIdle:   cfg.SessionIdle,
		SessionMax:    cfg.SessionMax,
		SignupClosed:  cfg.Signup == "closed",
		Proxies:       cfg.Proxies,
	}
	deps.Sandbox = sbHandler
	refresher := refresh.New(refresh.Options{
		Store: st, Providers: provs, Log: log.With("component", "refresh"),
		Batch: cfg.RefreshBatch, Workers: cfg.RefreshWorkers, Rate: cfg.RefreshRate, ExpiryWarning: cfg.ExpiryWarning,
	})
	deps.Checker = refresher

	// The stop timeout outlasts a platform call (30 s), so refreshes in
	// flight at shutdown still store what they got.
	sched, err := gocron.NewScheduler(gocron.WithStopTimeout(45 * time.Second))
	if err != nil {
		return err
	}
	if _, err := refresh.Register(sched, refresher, cfg.RefreshEvery); err != nil {
		return err
	}
	revocations, err := refresh.RegisterRevocations(sched, refresher, cfg.RefreshEvery)
	if err != nil {
		return err
	}
	deps.RevokeSoon = func() { revocations.RunNow() }
	if _, err := sched.NewJob(gocron.DurationJob(10*time.Minute), gocron.NewTask(func(ctx context.Context) {
		housekeeping(ctx, st, cfg, log)
	}), gocron.WithName("housekeeping"), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
		return err
	}
	e := handlers.New(deps)
	sched.Start()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("OMNISOCIAL_ADDR %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL.String(), "dev", cfg.Dev, "version", version)
	if cfg.Sandbox {
		log.Warn("the platform sandbox is mounted at "+cfg.BaseURL.String()+"/sandbox/", "platforms_on_sandbox", strings.Join(onSandbox, ","))
	}
	if users, err := st.CountUsers(ctx); err == nil && users == 0 {
		log.Info("no one has signed up yet: open " + cfg.BaseURL.String() + "/signup (the first person to sign up owns the first workspace)")
	} else {
		log.Info("open " + cfg.BaseURL.String() + "/login to log in")
	}
	if ready != nil {
		ready(ln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		sched.Shutdown()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	// Stop claiming; wait for refreshes in flight to store their outcome.
	if err := sched.Shutdown(); err != nil {
		log.Warn("scheduler shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}
