package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// verify is the receiver's check, written from the documented scheme
// (not with Sign): the signature over "t.body" under the key, and t
// recent.
func verify(key, body []byte, header string, now time.Time) bool {
	var ts, sig string
	for _, kv := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "." + string(body)))
	want, _ := hex.DecodeString(sig)
	return hmac.Equal(m.Sum(nil), want)
}

// TestWebhookSigned: with a key file, a post carries a signature the
// receiver verifies; a body altered in transit, or checked with another
// key, fails; a key file that cannot be read, or is empty, fails the
// post rather than sending it unsigned; without one, no header.
func TestWebhookSigned(t *testing.T) {
	type post struct {
		body []byte
		sig  string
	}
	got := make(chan post, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- post{b, r.Header.Get(SignatureHeader)}
	}))
	defer srv.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("s3cret\n"), 0o600)
	body := []byte(`{"event":"suspended","account":"alice"}`)
	s := &Sender{Webhook: srv.URL, SecretFile: keyFile, Timeout: 5 * time.Second}
	if err := s.Send(context.Background(), body); err != nil {
		t.Fatal(err)
	}
	p := <-got
	if !verify([]byte("s3cret"), p.body, p.sig, time.Now()) {
		t.Errorf("signature %q does not verify", p.sig)
	}
	if verify([]byte("s3cret"), append(p.body, ' '), p.sig, time.Now()) || verify([]byte("other"), p.body, p.sig, time.Now()) {
		t.Error("an altered body or another key verified")
	}
	if verify([]byte("s3cret"), p.body, p.sig, time.Now().Add(time.Hour)) {
		t.Error("an hour-old signature verified: replayable")
	}
	for _, bad := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "empty")} {
		os.WriteFile(filepath.Join(dir, "empty"), []byte(" \n"), 0o600)
		s.SecretFile = bad
		if err := s.Send(context.Background(), body); err == nil || !strings.Contains(err.Error(), "signing key") {
			t.Errorf("key %s: %v", bad, err)
		}
	}
	select {
	case p := <-got:
		t.Errorf("posted without a readable key: %q", p.sig)
	default:
	}
	s.SecretFile = ""
	if err := s.Send(context.Background(), body); err != nil {
		t.Fatal(err)
	}
	if p := <-got; p.sig != "" {
		t.Errorf("unsigned sender sent %q", p.sig)
	}
}
