package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"omnisocial/store"
)

const migrateUsage = "usage: omnisocial migrate --to postgres://USER@HOST/DATABASE (copies the SQLite database OMNISOCIAL_DB names into an empty PostgreSQL database)"

// migrateCmd: omnisocial migrate --to postgres://… copies the SQLite
// database the configuration names into an empty PostgreSQL database,
// checks every table on both sides, and says done. Run again after a stop,
// it resumes. The source is only read (and migrated to this build's
// schema, as any command does); the target's password is never printed.
func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	to, err := migrateTarget(args)
	if err != nil {
		return err
	}
	cfg, _, src, err := setup(ctx, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer src.Close()
	if store.IsPostgres(cfg.DBPath) {
		return fmt.Errorf("migrate: OMNISOCIAL_DB already names a PostgreSQL database (%s); migrate copies from a SQLite file", store.Shown(cfg.DBPath))
	}
	shown := store.Shown(to)
	// No key for the target: the source's key canary is copied instead of
	// a new one being stamped.
	dst, err := store.Open(ctx, store.Options{Path: to, Schema: schemaSQL, SchemaPostgres: schemaPostgres})
	if err != nil {
		return fmt.Errorf("migrate: opening %s: %w", shown, err)
	}
	defer dst.Close()
	fmt.Fprintf(stdout, "Copying %s into %s.\n", cfg.DBPath, shown)
	err = store.CopyTo(ctx, src, dst, newCopyProgress(stderr).update)
	switch {
	case errors.Is(err, store.ErrNotEmpty), errors.Is(err, store.ErrOtherCopy):
		return fmt.Errorf("migrate: %w; nothing was written to %s", err, shown)
	case ctx.Err() != nil:
		return errors.New("migrate: interrupted; run the same command again to resume where it stopped")
	case err != nil:
		return fmt.Errorf("migrate: %w\nFix the cause and run the same command again: it resumes where it stopped", err)
	}
	fmt.Fprintln(stdout, "Verifying every table (rows and a SHA-256 of them in key order):")
	checks, err := store.FinishCopy(ctx, src, dst)
	printChecks(stdout, checks)
	if errors.Is(err, store.ErrMismatch) {
		return fmt.Errorf("migrate: %w. Do not use %s: the copy stays marked unfinished. Find what wrote to either database, empty the target (or use a new one), and run migrate again", err, shown)
	}
	if err != nil {
		return fmt.Errorf("migrate: verifying: %w", err)
	}
	withPassword := ""
	if u, err := url.Parse(to); err == nil {
		if _, ok := u.User.Password(); ok || u.Query().Has("password") {
			withPassword = " (with its password)"
		}
	}
	fmt.Fprintf(stdout, "done. Set OMNISOCIAL_DB=%s%s and start the server; keep %s as a backup.\n", shown, withPassword, cfg.DBPath)
	return nil
}

// migrateTarget reads --to from args: a postgres:// URL and nothing else.
func migrateTarget(args []string) (string, error) {
	fl := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	to := fl.String("to", "", "")
	if err := fl.Parse(args); err != nil {
		return "", fmt.Errorf("migrate: %w\n%s", err, migrateUsage)
	}
	switch {
	case fl.NArg() > 0:
		return "", fmt.Errorf("migrate: unexpected %q\n%s", fl.Arg(0), migrateUsage)
	case *to == "":
		return "", fmt.Errorf("migrate: --to is required: the URL of an empty PostgreSQL database\n%s", migrateUsage)
	case !store.IsPostgres(*to):
		// Not echoed: it may hold a password in a form we cannot redact.
		return "", fmt.Errorf("migrate: --to must be a postgres:// or postgresql:// URL\n%s", migrateUsage)
	}
	return *to, nil
}

// printChecks prints the verification as a table, the checksums shortened
// unless they differ.
func printChecks(w io.Writer, checks []store.TableCheck) {
	if len(checks) == 0 {
		return
	}
	fmt.Fprintf(w, "  %-20s %12s %12s  %s\n", "table", "source rows", "target rows", "sha-256")
	for _, c := range checks {
		sum, verdict := c.SourceSum[:12], "ok"
		if !c.OK() {
			verdict = "DIFFERS"
			if c.SourceSum != c.TargetSum {
				sum = c.SourceSum[:12] + " ≠ " + c.TargetSum[:12]
			}
		}
		fmt.Fprintf(w, "  %-20s %12d %12d  %-12s  %s\n", c.Table, c.SourceRows, c.TargetRows, sum, verdict)
	}
}

// bigTable is how many rows make a table worth a line every tenth when
// stderr is a file or a pipe.
const bigTable = 10_000

// copyProgress draws the copy on stderr: on a terminal, a bar per table
// redrawn in place; elsewhere (a log, CI) plain lines, one per table and
// one every tenth of a big table.
type copyProgress struct {
	w     io.Writer
	tty   bool
	tenth int64
}

func newCopyProgress(w io.Writer) *copyProgress {
	return &copyProgress{w: w, tty: isTerminal(w)}
}

func (c *copyProgress) update(p store.Progress) {
	name := fmt.Sprintf("  %-20s ", p.Table)
	if c.tty {
		fmt.Fprintf(c.w, "\r%s%s", name, bar(int(p.Done), int(p.Total)))
		if p.Finished {
			fmt.Fprintln(c.w)
		}
		return
	}
	switch {
	case p.Finished:
		fmt.Fprintf(c.w, "%s%d/%d rows\n", name, p.Done, p.Total)
		c.tenth = 0
	case p.Total >= bigTable && p.Done*10/p.Total > c.tenth:
		c.tenth = p.Done * 10 / p.Total
		fmt.Fprintf(c.w, "%s%d/%d rows (%d%%)\n", name, p.Done, p.Total, p.Done*100/p.Total)
	}
}

// isTerminal reports whether w is a terminal, where redrawing a line works.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// bar is [#########-----------]  45%  90/200
func bar(done, total int) string {
	const width = 30
	filled, pct := width, 100
	if total > 0 {
		filled, pct = min(done*width/total, width), min(done*100/total, 100)
	}
	return fmt.Sprintf("[%s%s] %3d%%  %d/%d", strings.Repeat("#", filled), strings.Repeat("-", width-filled), pct, done, total)
}
