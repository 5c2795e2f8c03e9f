package alert

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReviewSignatureOpenSSL checks a real post's signature with a tool
// nobody here wrote: openssl dgst -hmac over "t." and the body as
// received, under the key file's trimmed contents (docs/suspension.md).
func TestReviewSignatureOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed:", err)
	}
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("  s3cret-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var hdr string
	var body []byte
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Get(SignatureHeader)
		body, _ = io.ReadAll(r.Body)
	}))
	defer recv.Close()
	s := Sender{Webhook: recv.URL, SecretFile: key, Timeout: 5 * time.Second}
	if err := s.Send(context.Background(), []byte("{\"id\":\"1\",\"account\":\"a\\r\\nb\"}\n")); err != nil {
		t.Fatal(err)
	}
	ts, sig, ok := strings.Cut(strings.TrimPrefix(hdr, "t="), ",v1=")
	if !ok {
		t.Fatalf("header %q", hdr)
	}
	cmd := exec.Command("openssl", "dgst", "-sha256", "-hmac", "s3cret-key", "-r")
	cmd.Stdin = strings.NewReader(ts + "." + string(body))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want, _, _ := strings.Cut(string(out), " "); want != sig {
		t.Fatalf("openssl says %s, the header %s", want, sig)
	}
}
