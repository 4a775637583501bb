package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Every file of the database (the main file, its -wal and -shm, which
// hold ciphertexts, password hashes and e-mails) is readable by its owner
// alone, even in a folder of mode 0755 under umask 022, and also when an
// older build left them 0644 (issue 11, finding 5).
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, path string)
	}{
		{"fresh", func(*testing.T, string) {}},
		{"left 0644 by an older build", func(t *testing.T, path string) {
			s := openSQLite(t, path)
			s.CreateWorkspace(context.Background(), 0, "x", "free")
			s.Close()
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				if _, err := os.Stat(f); err == nil {
					os.Chmod(f, 0o644)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "omnisocial.db")
			tc.prepare(t, path)
			s := openSQLite(t, path)
			// A write and a read through the pools, so SQLite has made its
			// side files (it creates them lazily).
			ctx := context.Background()
			if _, _, err := s.SignUp(ctx, User{Email: "dana@example.com", PasswordHash: "h"}, "W", "free", false); err != nil {
				t.Fatal(err)
			}
			if _, err := s.UserByEmail(ctx, "dana@example.com"); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				info, err := os.Stat(f)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(f), err)
				}
				if perm := info.Mode().Perm(); perm != 0o600 {
					t.Errorf("%s is %v, want -rw-------", filepath.Base(f), perm)
				}
			}
		})
	}
}
