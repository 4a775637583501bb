package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// rotateKey re-encrypts every token under OMNISOCIAL_ENCRYPTION_KEY while
// OMNISOCIAL_ENCRYPTION_KEY_OLD still opens what it sealed. It is safe while
// servers run (configured with both keys) and resumes where it stopped.
func rotateKey(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	if strings.TrimSpace(getenv("OMNISOCIAL_ENCRYPTION_KEY_OLD")) == "" {
		return errors.New("rotate-key: set OMNISOCIAL_ENCRYPTION_KEY to the new key and OMNISOCIAL_ENCRYPTION_KEY_OLD to the current one (see the README)")
	}
	_, _, st, err := setup(ctx, getenv, io.Discard)
	if err != nil {
		return err
	}
	defer st.Close()
	total, err := st.RotationRemaining(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Re-encrypting the tokens of %d accounts under the new key.\n", total)
	done := 0
	for {
		if ctx.Err() != nil {
			fmt.Fprintln(stdout)
			return fmt.Errorf("rotate-key: interrupted after %d of %d accounts; run it again to resume", done, total)
		}
		n, err := st.RotateBatch(ctx, 100)
		if err != nil {
			fmt.Fprintln(stdout)
			return fmt.Errorf("rotate-key: %w (after %d of %d accounts; run it again to resume)", err, done, total)
		}
		done += n
		progress(stdout, done, total)
		if n == 0 {
			break
		}
	}
	fmt.Fprintln(stdout)
	left, err := st.RotationRemaining(ctx)
	if err != nil {
		return err
	}
	if left > 0 {
		return fmt.Errorf("rotate-key: %d accounts are still being written under the old key. Is a server running with only the old key? Restart servers with both keys, then run rotate-key again", left)
	}
	if err := st.RotateRest(ctx); err != nil {
		return fmt.Errorf("rotate-key: %w", err)
	}
	st.Checkpoint(ctx)
	fmt.Fprintf(stdout, "Done: %d accounts re-encrypted, 0 left under the old key.\nNow remove OMNISOCIAL_ENCRYPTION_KEY_OLD and restart the servers.\n", done)
	return nil
}

// progress draws one line: [#########-----------]  45%  90/200
func progress(w io.Writer, done, total int) {
	fmt.Fprintf(w, "\r  %s", bar(done, total))
}
