package alert

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestReviewWebhookRedirectNotFollowed: a webhook that answers with a
// redirect has not taken the alert. Followed, a 302 turns the POST into
// a body-less GET whose 200 would count as delivered (the alert lost),
// and a 307 re-posts the signed alert to whatever address the receiver
// names (an internal one: SSRF). The post must fail (and be retried) and
// nothing must reach the redirect's target.
func TestReviewWebhookRedirectNotFollowed(t *testing.T) {
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		reached.Add(1)
	}))
	defer target.Close()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			http.Redirect(w, r, target.URL+"/internal", code)
		}))
		s := Sender{Webhook: recv.URL, Timeout: 5 * time.Second}
		err := s.Send(context.Background(), []byte(`{"id":"x"}`))
		recv.Close()
		if err == nil {
			t.Errorf("%d: a redirect counted as delivered", code)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests", n)
	}
}
