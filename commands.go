package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"

	"strings"
	"time"

	"omnisocial/auth"
	"omnisocial/sandbox"
	"omnisocial/store"
	"omnisocial/vault"
)

func keygen(w io.Writer) error {
	_, err := fmt.Fprintln(w, vault.NewKey())
	return err
}

// userCmd: omnisocial user add --email E --workspace W [--role R] [--plan P] [--password-stdin | --password PW]
func userCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return errors.New("usage: omnisocial user add --email EMAIL --workspace NAME [--role owner|admin|member] [--plan free|pro|business] [--name NAME] [--password-stdin]")
	}
	fl := flag.NewFlagSet("user add", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	email := fl.String("email", "", "")
	name := fl.String("name", "", "")
	wsName := fl.String("workspace", "", "")
	role := fl.String("role", string(store.RoleMember), "")
	plan := fl.String("plan", "free", "")
	pw := fl.String("password", "", "")
	pwStdin := fl.Bool("password-stdin", false, "")
	if err := fl.Parse(args[1:]); err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	if *email == "" || *wsName == "" {
		return errors.New("user add: --email and --workspace are required")
	}
	if !store.ValidRole(store.Role(*role)) {
		return fmt.Errorf("user add: --role must be owner, admin or member, got %q", *role)
	}
	if *pwStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		*pw = strings.TrimRight(line, "\r\n")
	}
	if msg := auth.CheckPolicy(*pw); msg != "" {
		return fmt.Errorf("user add: password: %s (give it with --password-stdin)", msg)
	}
	_, _, st, err := setup(ctx, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer st.Close()
	u := store.User{Email: *email, Name: *name, PasswordHash: auth.HashPassword(*pw)}
	ws, err := st.WorkspaceByName(ctx, *wsName)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u, ws, err = st.SignUp(ctx, u, *wsName, *plan, false)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user add: %s already exists; add them to an existing workspace", *email)
		}
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		fmt.Fprintf(stdout, "created workspace %q (plan %s) owned by %s\n", ws.Name, ws.Plan, u.Email)
		return nil
	case err != nil:
		return err
	}
	u, err = st.AddUser(ctx, u, ws.ID, store.Role(*role))
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("user add: %s is already in workspace %q", *email, ws.Name)
	}
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	fmt.Fprintf(stdout, "added %s to workspace %q as %s\n", u.Email, ws.Name, *role)
	return nil
}

// planCmd: omnisocial plan set --workspace W --plan P
func planCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "set" {
		return errors.New("usage: omnisocial plan set --workspace NAME --plan free|pro|business")
	}
	fl := flag.NewFlagSet("plan set", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	wsName := fl.String("workspace", "", "")
	plan := fl.String("plan", "", "")
	if err := fl.Parse(args[1:]); err != nil {
		return fmt.Errorf("plan set: %w", err)
	}
	if *wsName == "" || *plan == "" {
		return errors.New("plan set: --workspace and --plan are required")
	}
	_, _, st, err := setup(ctx, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer st.Close()
	ws, err := st.WorkspaceByName(ctx, *wsName)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("plan set: no workspace named %q", *wsName)
	}
	if err != nil {
		return err
	}
	if err := st.SetPlan(ctx, ws.ID, *plan); err != nil {
		return fmt.Errorf("plan set: %w", err)
	}
	fmt.Fprintf(stdout, "workspace %q is now on plan %s\n", ws.Name, *plan)
	return nil
}

// sandboxCmd runs the platform emulator alone, for tests that want it in a
// separate process.
func sandboxCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fl := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:8090", "address to listen on")
	state := fl.String("state", "", "file to keep the sandbox's state in (empty: memory only)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	sb, err := sandbox.New(sandbox.Options{
		StatePath: *state, MetaAppID: sandbox.DevMetaAppID, MetaAppSecret: sandbox.DevMetaAppSecret,
		TikTokClientKey: sandbox.DevTikTokClientKey, TikTokClientSecret: sandbox.DevTikTokClientSecret,
	})
	if err != nil {
		return err
	}
	defer sb.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sandbox listening on http://%s/sandbox/\n", ln.Addr())
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// assetHash fingerprints the static files, so a new build's URLs differ
// and browsers never keep a stale script or stylesheet.
func assetHash(static fs.FS) string {
	h := sha256.New()
	fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(static, path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:10]
}
