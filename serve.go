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
	"omnisocial/mail"
	"omnisocial/metrics"
	"omnisocial/providers"
	"omnisocial/refresh"
	"omnisocial/sandbox"
	"omnisocial/setupcheck"
	"omnisocial/store"
	"omnisocial/vault"
	"omnisocial/views"
	"omnisocial/webhook"
)

// setup loads configuration (development mode filling in missing secrets)
// and opens the store: what every command that touches data needs.
func setup(ctx context.Context, getenv func(string) string, logw io.Writer) (config, *slog.Logger, *store.Store, error) {
	dev := strings.EqualFold(strings.TrimSpace(getenv("OMNISOCIAL_DEV")), "true") || strings.TrimSpace(getenv("OMNISOCIAL_DEV")) == "1"
	generated := false
	if dev {
		if errs := devConflicts(getenv); len(errs) > 0 {
			return config{}, nil, nil, fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(errors.Join(errs...).Error(), "\n", "\n  "))
		}
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
			filepath.Join(cfg.dataDir(), "dev-secrets.env") + ". Never run production like this: set OMNISOCIAL_ENCRYPTION_KEY and OMNISOCIAL_SESSION_SECRET.")
	}
	var older [][]byte
	if cfg.OldEncryptionKey != nil {
		older = append(older, cfg.OldEncryptionKey)
	}
	box, err := vault.NewBox(cfg.EncryptionKey, older...)
	if err != nil {
		return cfg, nil, nil, err
	}
	st, err := store.Open(ctx, store.Options{Path: cfg.DBPath, Schema: schemaSQL, SchemaPostgres: schemaPostgres, Box: box})
	if errors.Is(err, store.ErrWrongKey) {
		return cfg, nil, nil, fmt.Errorf("OMNISOCIAL_ENCRYPTION_KEY is not the key %s was written with; nothing was changed", store.Shown(cfg.DBPath))
	}
	if err != nil {
		return cfg, nil, nil, err
	}
	if dir, open := store.WorldReadable(cfg.DBPath); open && !store.IsPostgres(cfg.DBPath) {
		log.Warn("the database folder "+dir+" is readable by others than its owner: the database files are 0600, but "+
			"anything else put there is not; chmod 700 it", "folder", dir)
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

// webhookDays is how long delivered and given-up webhook messages stay
// listed on their webhook's page; pending ones stay until sent.
const webhookDays = 30

// housekeeping ends what has run out: sessions, OAuth flows, choices never
// made (their tokens owed a revocation) and routine history past its days.
func housekeeping(ctx context.Context, st *store.Store, cfg config, log *slog.Logger) {
	now := time.Now()
	if err := st.DeleteExpired(ctx, now.Add(-cfg.SessionIdle), now.Add(-cfg.SessionMax)); err != nil {
		log.Warn("housekeeping: sessions and flows", "err", err)
	}
	if err := st.DeleteExpiredInvitations(ctx); err != nil {
		log.Warn("housekeeping: invitations", "err", err)
	}
	if err := st.PruneOwnerLinks(ctx); err != nil {
		log.Warn("housekeeping: owner links", "err", err)
	}
	if _, err := st.ExpirePendingGrants(ctx, func(p string) []string { return providers.SignInPlatforms(providers.Platform(p)) }); err != nil {
		log.Warn("housekeeping: expired choices", "err", err)
	}
	if _, err := st.PruneDeliveries(ctx, now.AddDate(0, 0, -webhookDays)); err != nil {
		log.Warn("housekeeping: webhook deliveries", "err", err)
	}
	n, err := st.PruneHistory(ctx, now.AddDate(0, 0, -cfg.HistoryDays))
	if err != nil {
		log.Warn("housekeeping: history", "err", err)
	} else if n > 0 {
		log.Info("housekeeping: routine history pruned", "events", n, "days_kept", cfg.HistoryDays)
	}
}

// sandboxOptions: in development mode the sandbox is the developer's, with
// the published Dev* credentials and an open control API. On a demo install
// (OMNISOCIAL_SANDBOX=true) it faces the internet: its app secrets are
// fresh for each start (the adapters and the sandbox share the process), so
// nobody can sign a Meta data-deletion callback with the published one,
// and its control API opens only to OMNISOCIAL_SANDBOX_CONTROL_TOKEN.
func sandboxOptions(cfg config, log *slog.Logger) sandbox.Options {
	o := sandbox.Options{
		StatePath:          filepath.Join(cfg.dataDir(), "sandbox.json"),
		MetaAppID:          sandbox.DevMetaAppID,
		MetaAppSecret:      sandbox.DevMetaAppSecret,
		TikTokClientKey:    sandbox.DevTikTokClientKey,
		TikTokClientSecret: sandbox.DevTikTokClientSecret,
		Logger:             log.With("component", "sandbox"),
		ControlToken:       cfg.SandboxControlToken.Reveal(),
	}
	if !cfg.Dev {
		o.MetaAppSecret, o.TikTokClientSecret = vault.NewKey(), vault.NewKey()
		o.ControlOff = o.ControlToken == ""
	}
	return o
}

// schedule puts the background jobs on a new scheduler (not started): the
// refresh queue, revocations, the webhook and mail outboxes, housekeeping.
// It sets the hooks in deps that wake them.
func schedule(ctx context.Context, cfg config, st *store.Store, log *slog.Logger, refresher *refresh.Refresher, deps *handlers.Deps) (gocron.Scheduler, error) {
	// The stop timeout outlasts a platform call (30 s), so refreshes in
	// flight at shutdown still store what they got.
	opts := []gocron.SchedulerOption{gocron.WithStopTimeout(45 * time.Second)}
	if st.Postgres() {
		// Replicas share the outboxes and the housekeeping: each of those
		// jobs runs on one replica at a time. The refresh job opts out; its
		// claims skip the rows another replica holds.
		opts = append(opts, gocron.WithDistributedLocker(jobLocker{st}))
	}
	sched, err := gocron.NewScheduler(opts...)
	if err != nil {
		return nil, err
	}
	if _, err := refresh.Register(sched, refresher, cfg.RefreshEvery); err != nil {
		return nil, err
	}
	revocations, err := refresh.RegisterRevocations(sched, refresher, cfg.RefreshEvery)
	if err != nil {
		return nil, err
	}
	deps.RevokeSoon = func() { revocations.RunNow() }
	// The webhook outbox: sent every few seconds (retries are due no sooner
	// than 30 s after a failure) and at once after a commit queued a message.
	// Outside development mode only public addresses are reached.
	sender := webhook.New(webhook.Options{Store: st, Guard: &webhook.Guard{AllowPrivate: cfg.Dev}, Log: log.With("component", "webhooks"),
		PauseAfter: cfg.WebhookPauseAfter})
	webhooks, err := webhook.Register(sched, sender, 10*time.Second)
	if err != nil {
		return nil, err
	}
	// Waking never blocks the committer (a refresh worker, a request): a
	// wake-up arriving while one is pending is the same wake-up.
	wake := make(chan struct{}, 1)
	wakeWebhooks := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	st.OnWebhookQueued(wakeWebhooks)
	deps.WebhooksSoon = wakeWebhooks
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				webhooks.RunNow()
			}
		}
	}()
	// E-mail alerts, from the durable mail outbox.
	if cfg.SMTP != nil {
		mailer := mail.New(mail.Options{Store: st, SMTP: cfg.SMTP, From: cfg.MailFrom, BaseURL: cfg.BaseURL,
			Warning: cfg.ExpiryWarning, Log: log.With("component", "mail")})
		if _, err := mail.Register(sched, mailer, 5*time.Second); err != nil {
			return nil, err
		}
		deps.SendMail = mailer.SendNow
	}
	deps.MailOn = cfg.SMTP != nil
	if _, err := sched.NewJob(gocron.DurationJob(10*time.Minute), gocron.NewTask(func(ctx context.Context) {
		housekeeping(ctx, st, cfg, log)
	}), gocron.WithName("housekeeping"), gocron.WithSingletonMode(gocron.LimitModeReschedule)); err != nil {
		return nil, err
	}
	return sched, nil
}

// jobLocker lends gocron the database's job locks (store.JobLock).
type jobLocker struct{ st *store.Store }

var errJobElsewhere = errors.New("the job is running on another replica")

func (l jobLocker) Lock(ctx context.Context, key string) (gocron.Lock, error) {
	unlock, ok, err := l.st.JobLock(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errJobElsewhere
	}
	return unlockFunc(unlock), nil
}

type unlockFunc func()

func (f unlockFunc) Unlock(context.Context) error { f(); return nil }

// logStartup says where the server listens, whether the sandbox is
// mounted, and where to begin.
func logStartup(ctx context.Context, cfg config, st *store.Store, log *slog.Logger, addr string, onSandbox []string) {
	log.Info("listening", "addr", addr, "base_url", cfg.BaseURL.String(), "dev", cfg.Dev, "version", version)
	if cfg.Sandbox {
		control := "open (development mode)"
		switch {
		case !cfg.SandboxControlToken.IsZero():
			control = "needs OMNISOCIAL_SANDBOX_CONTROL_TOKEN"
		case !cfg.Dev:
			control = "off (set OMNISOCIAL_SANDBOX_CONTROL_TOKEN to use it)"
		}
		log.Warn("the platform sandbox is mounted at "+cfg.BaseURL.String()+"/sandbox/", "platforms_on_sandbox", strings.Join(onSandbox, ","), "control_api", control)
	}
	if users, err := st.CountUsers(ctx); err == nil && users == 0 {
		log.Info("no one has signed up yet: open " + cfg.BaseURL.String() + "/signup (the first person to sign up owns the first workspace)")
	} else {
		log.Info("open " + cfg.BaseURL.String() + "/login to log in")
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
		sb, err = sandbox.New(sandboxOptions(cfg, log))
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
		APIRate:       cfg.APIRate,
		APIBurst:      cfg.APIBurst,
		// Development mode: webhooks may go to http:// and to this machine.
		WebhookAllowHTTP: cfg.Dev,
	}
	deps.Sandbox = sbHandler
	deps.SetupCheck = func(ctx context.Context, reached string) []views.SetupLine {
		in := setupInput(cfg, st, nil, onSandbox)
		in.Reached = reached
		return setupLines(setupcheck.Run(ctx, in))
	}
	var observer refresh.Observer
	if !cfg.MetricsToken.IsZero() {
		// Overdue: due for longer than three intervals (the job has missed some).
		deps.Metrics, deps.MetricsToken = metrics.New(st, 3*cfg.RefreshEvery), cfg.MetricsToken
		observer = deps.Metrics
	}
	refresher := refresh.New(refresh.Options{
		Store: st, Providers: provs, Log: log.With("component", "refresh"),
		Batch: cfg.RefreshBatch, Workers: cfg.RefreshWorkers, Rate: cfg.RefreshRate, ExpiryWarning: cfg.ExpiryWarning,
		Observer: observer,
	})
	deps.Checker = refresher

	sched, err := schedule(ctx, cfg, st, log, refresher, &deps)
	if err != nil {
		return err
	}
	e := handlers.New(deps)
	sched.Start()

	return listen(ctx, cfg, st, log, e, sched, onSandbox, ready)
}

// listen serves e on OMNISOCIAL_ADDR until ctx ends, then shuts the server
// and the started scheduler down, letting work in flight finish.
func listen(ctx context.Context, cfg config, st *store.Store, log *slog.Logger, e http.Handler, sched gocron.Scheduler,
	onSandbox []string, ready func(addr string)) error {
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
	logStartup(ctx, cfg, st, log, ln.Addr().String(), onSandbox)
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
