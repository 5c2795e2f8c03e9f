// Package spam has rspamd judge each message: the spooled message is
// streamed to rspamd's /checkv2 with the envelope and the SASL login as
// request headers (rspamd's protocol, https://rspamd.com/doc/developers/protocol.html),
// so that rspamd's own settings for authenticated senders apply, and
// rspamd's action becomes the verdict. Messages rspamd classes as spam
// are counted toward the account's spam_per_hour (limits).
package spam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"outguard/policy"
)

// Counter counts a message classed as spam against its account (the
// limits engine), suspending the account when that crosses its limit.
type Counter interface {
	CountSpam(ctx context.Context, t *policy.Transaction, detail string) error
}

// Options tune a Check. Zero values take the defaults noted.
type Options struct {
	URL     string                   // rspamd's normal worker or proxy: http://127.0.0.1:11333
	Timeout time.Duration            // for rspamd's answer, within the message deadline; 20s
	Actions map[string]policy.Action // rspamd's action -> verdict; an action missing here is an error
	Counter Counter                  // nil: nothing counted
	Log     *slog.Logger
}

// Spam are rspamd's actions that class a message as spam: they count
// toward spam_per_hour whatever verdict they map to. "soft reject" is
// rspamd's rate limit or greylisting, "greylist" a delay: neither says
// the message is spam.
var Spam = map[string]bool{"reject": true, "rewrite subject": true, "add header": true}

// Check is the pipeline check.
type Check struct {
	opt    Options
	url    string
	client *http.Client
}

// New returns a Check for opt.
func New(opt Options) *Check {
	if opt.Timeout == 0 {
		opt.Timeout = 20 * time.Second
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: opt.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     50 * time.Second, // rspamd's keepalive is 65s: we close first
	}
	return &Check{opt: opt, url: strings.TrimRight(opt.URL, "/") + "/checkv2", client: &http.Client{Transport: tr}}
}

func (c *Check) Name() string { return "spam" }

// reply is the part of rspamd's /checkv2 answer used.
type reply struct {
	Action   string            `json:"action"`
	Score    float64           `json:"score"`
	Required float64           `json:"required_score"`
	Symbols  map[string]symbol `json:"symbols"`
}

type symbol struct {
	Score float64 `json:"score"`
}

// maxReply bounds what is read of rspamd's answer: a few KiB usually,
// more with many symbols; a server that sends more is not rspamd.
const maxReply = 4 << 20

// CheckMessage streams the spooled message to rspamd and maps its action
// to the verdict. Bounded by Timeout and by ctx (the message deadline).
func (c *Check) CheckMessage(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	r, err := c.ask(ctx, t)
	if err != nil {
		return policy.Verdict{}, err
	}
	action, ok := c.opt.Actions[r.Action]
	if !ok {
		return policy.Verdict{}, fmt.Errorf("rspamd answered an unknown action %q", r.Action)
	}
	what := fmt.Sprintf("rspamd %s %.2f/%.2f", r.Action, r.Score, r.Required)
	// The audit line has it always; the stamp only with header.detail: full.
	t.Stamp(what)
	reason := "spam: " + what + topSymbols(r.Symbols)
	var v policy.Verdict
	switch action {
	case policy.Reject:
		v = policy.New(action, reason).WithText("Message refused as spam by outbound policy")
	case policy.Tempfail:
		v = policy.New(action, reason).WithText("Message deferred by outbound spam policy, try again later")
	default:
		v = policy.Verdict{Action: action, Reason: reason}
	}
	if action != policy.Accept {
		v.Findings = []policy.Finding{{Engine: "spam", Name: r.Action, Action: action.String(), Detail: what + topSymbols(r.Symbols)}}
	}
	if Spam[r.Action] && c.opt.Counter != nil {
		if err := c.opt.Counter.CountSpam(ctx, t, what); err != nil {
			if action == policy.Accept {
				// Passing it uncounted would be a silent pass of the
				// limit: on_error decides.
				return policy.Verdict{}, fmt.Errorf("counting toward spam_per_hour: %w", err)
			}
			c.opt.Log.Error("a message classed as spam was not counted toward spam_per_hour", "qid", t.QueueID, "user", t.User, "err", err)
		}
	}
	return v, nil
}

// ask posts the message with its envelope and decodes the answer.
func (c *Check) ask(ctx context.Context, t *policy.Transaction) (*reply, error) {
	size := t.Message.Size()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, t.Reader())
	if err != nil {
		return nil, err
	}
	// A known length and a way to read the body again: the transport then
	// retries on a keepalive connection rspamd closed meanwhile.
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(t.Reader()), nil }
	h := req.Header
	if t.User != "" {
		h.Set("User", t.User)
	}
	if t.Conn.Addr.IsValid() {
		h.Set("IP", t.Conn.Addr.Unmap().String())
	}
	if t.Conn.Name != "" && t.Conn.Name != "unknown" {
		h.Set("Hostname", t.Conn.Name)
	}
	if t.Conn.Helo != "" {
		h.Set("Helo", t.Conn.Helo)
	}
	from := t.From
	if from == "" {
		from = "<>" // the null sender (RFC 5321 4.5.5)
	}
	h.Set("From", from)
	for _, rc := range t.Rcpts {
		h.Add("Rcpt", rc)
	}
	if t.QueueID != "" {
		h.Set("Queue-Id", t.QueueID)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rspamd: %w", unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("rspamd: reading the answer: %w", err)
	}
	if len(body) > maxReply {
		return nil, fmt.Errorf("rspamd: answer longer than %d bytes", maxReply)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rspamd: %s: %.200q", resp.Status, body)
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("rspamd: bad answer: %w", err)
	}
	if r.Action == "" {
		return nil, errors.New("rspamd: answer without an action")
	}
	return &r, nil
}

// unwrapURL drops net/http's "Post URL:" prefix; the error names rspamd.
func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// topSymbols names the symbols that weighed most, for the abuse desk.
func topSymbols(syms map[string]symbol) string {
	type kv struct {
		name  string
		score float64
	}
	var all []kv
	for n, s := range syms {
		if s.Score != 0 || n == "GTUBE" {
			all = append(all, kv{n, s.Score})
		}
	}
	if len(all) == 0 {
		return ""
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score > all[j].score
		}
		return all[i].name < all[j].name
	})
	var b strings.Builder
	b.WriteString(" (")
	for i, s := range all[:min(len(all), 5)] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.2f", s.name, s.score)
	}
	b.WriteString(")")
	return b.String()
}

// Ping asks rspamd whether it answers (/ping), for /readyz.
func (c *Check) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.url, "/checkv2")+"/ping", nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return unwrapURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("rspamd /ping: %s", resp.Status)
	}
	return nil
}
