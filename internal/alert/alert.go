// Package alert tells people about an event, as JSON: a command that gets
// it on stdin (never as arguments: no shell interpolation of customer data)
// and/or a POST to a webhook. milterd's limits and relayprobe share it.
package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Sender delivers events. The zero Sender delivers nothing.
type Sender struct {
	Command []string // argv; empty: none
	Webhook string   // URL; empty: none
	// SecretFile holds the key webhook posts are signed with, read at
	// each post (a rotated key is used at once); "": unsigned. A key that
	// cannot be read fails the post: never unsigned when one is set.
	SecretFile string
	Timeout    time.Duration
}

// SignatureHeader carries "t=UNIX_SECONDS,v1=HEX": HMAC-SHA256 under the
// secret of the seconds, a ".", and the body (Stripe's scheme): the
// receiver checks the signature and refuses an old t, so a captured post
// can be neither forged nor replayed later.
const SignatureHeader = "X-Outguard-Signature"

// Sign returns the SignatureHeader value for body posted at t.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Enabled reports whether the sender delivers anywhere.
func (s *Sender) Enabled() bool { return s != nil && (len(s.Command) > 0 || s.Webhook != "") }

// Send delivers body (JSON) to the command and the webhook, within Timeout.
func (s *Sender) Send(ctx context.Context, body []byte) error {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	if len(s.Command) > 0 {
		if err := s.Run(ctx, body); err != nil {
			return err
		}
	}
	if s.Webhook != "" {
		return s.Post(ctx, body)
	}
	return nil
}

// Run runs the command with body on its stdin (ctx bounds it).
func (s *Sender) Run(ctx context.Context, body []byte) error {
	cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	// At ctx's end the command's whole process group is killed, and its
	// output waited for 2 s at most: a child keeping the output open (a
	// pipeline, a helper in the background) would otherwise hold the
	// delivery past the outbox's lease, and another courier would send
	// the alert again.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("alert command: %v: %s", err, out)
	}
	return nil
}

// noRedirects is the webhook's client: a redirect is the receiver's
// answer, not a delivery. Followed, a 302 would turn the post into a
// body-less GET whose 200 counts as delivered (the alert lost), and a 307
// would re-post the signed alert wherever the receiver points (an
// internal address). The 3xx fails the post, which is retried.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Post posts body to the webhook, signed with the key in SecretFile if
// set (ctx bounds it: a receiver that hangs or drips its answer is given
// up at ctx's deadline).
func (s *Sender) Post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.SecretFile != "" {
		secret, err := os.ReadFile(s.SecretFile)
		if secret = bytes.TrimSpace(secret); err == nil && len(secret) == 0 {
			err = errors.New("empty")
		}
		if err != nil {
			return fmt.Errorf("alert webhook: signing key %s: %w", s.SecretFile, err)
		}
		req.Header.Set(SignatureHeader, Sign(secret, body, time.Now()))
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return fmt.Errorf("alert webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alert webhook: %s", resp.Status)
	}
	return nil
}
