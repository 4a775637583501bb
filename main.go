// Command omnisocial connects Facebook Pages, Instagram Business accounts and
// TikTok Business accounts to a workspace and keeps their tokens fresh.
package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

//go:embed static
var staticFS embed.FS

//go:embed schema.sql
var schemaSQL string

//go:embed schema_postgres.sql
var schemaPostgres string

var version = "dev"

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "omnisocial:", err)
		os.Exit(1)
	}
}

const usage = `usage: omnisocial <command> [flags]

commands:
  serve        run the web server (the default)
  keygen       print a new 64-hex-character key for OMNISOCIAL_ENCRYPTION_KEY or OMNISOCIAL_SESSION_SECRET
  user add     add a user to a workspace: --email, --workspace, --role, --plan, --password-stdin
  plan set     change a workspace's plan: --workspace NAME --plan free|pro|business
  migrate      copy the SQLite database into an empty PostgreSQL one: --to postgres://…; resumes when run again
  rotate-key   re-encrypt every token under OMNISOCIAL_ENCRYPTION_KEY (the old key in OMNISOCIAL_ENCRYPTION_KEY_OLD)
  sandbox      run the platform sandbox on its own: --addr, --state
  doctor       check the install (platforms, callback URLs, base URL, key, database, refresh job); exit 1 on a problem
  version      print the version

Configuration comes from environment variables; see the README.`

// run is the whole program with its dependencies passed in, so tests can
// call it with their own environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", []string(nil)
	if len(args) > 1 {
		cmd, rest = args[1], args[2:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stderr, nil)
	case "keygen":
		return keygen(stdout)
	case "user":
		return userCmd(ctx, rest, getenv, stdin, stdout)
	case "plan":
		return planCmd(ctx, rest, getenv, stdout)
	case "sandbox":
		return sandboxCmd(ctx, rest, stderr)
	case "migrate":
		return migrateCmd(ctx, rest, getenv, stdout, stderr)
	case "rotate-key":
		return rotateKey(ctx, getenv, stdout)
	case "doctor":
		return doctor(ctx, getenv, stdout)
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// tuneGC trades a little memory for speed: the live heap of a serving
// process is a few MiB, so the default GOGC=100 collects after every few
// dozen pages. 200, not the 300 it was: with kept account rows and no gob
// sessions a page leaves far less garbage, so 300 bought no measurable
// speed (the server's CPU per request at 16 clients was the same) and cost
// 6 MiB of resident memory at 64 clients (make bench). A soft limit keeps
// the heap bounded anyway. GOGC and GOMEMLIMIT, when set, win.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
}
