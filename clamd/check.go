package clamd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"outguard/policy"
)

// Check is the pipeline check that streams each message through clamd.
type Check struct {
	Client   *Client
	Limit    int64         // bytes sent to clamd at most (clamd's StreamMaxLength)
	OnVirus  policy.Action // default reject
	Oversize policy.Action // a message over Limit: default accept, stamped "not scanned"

	mu       sync.Mutex
	version  string
	checked  time.Time
	fetching bool
}

// versionTTL is how long a zVERSION answer is reused: the signature
// version changes a few times a day.
const versionTTL = 5 * time.Minute

func (c *Check) Name() string { return "clamd" }

// OpenStream starts the INSTREAM scan at end-of-headers.
func (c *Check) OpenStream(ctx context.Context, t *policy.Transaction) (policy.Stream, error) {
	c.refreshVersion()
	s, err := c.Client.Stream(ctx, c.Limit)
	if err != nil {
		return nil, err
	}
	return &scan{check: c, s: s, t: t}, nil
}

type scan struct {
	check *Check
	s     *Stream
	t     *policy.Transaction
}

func (s *scan) Write(p []byte) (int, error) { return s.s.Write(p) }
func (s *scan) Close()                      { s.s.Close() }

func (s *scan) Verdict(ctx context.Context) (policy.Verdict, error) {
	c := s.check
	if v := c.Version(); v != "" { // in every verdict line, whatever the verdict
		s.t.Stamp("clamd " + v)
	}
	res, err := s.s.Result()
	switch {
	case errors.Is(err, ErrOversize):
		reason := fmt.Sprintf("clamd: not scanned: message over the scan limit of %d bytes", c.Limit)
		if c.Oversize == policy.Accept {
			s.t.Unchecked(fmt.Sprintf("clamd: not scanned (over %d bytes)", c.Limit))
			return policy.Verdict{Action: policy.Accept, Reason: reason}, nil
		}
		v := policy.New(c.Oversize, reason)
		if c.Oversize == policy.Reject {
			v.Code, v.Status = 552, "5.3.4" // RFC 3463 5.3.4: message too big for system
		}
		return v.WithText("Message too large to be scanned for malware"), nil
	case err != nil:
		return policy.Verdict{}, err
	case res.Infected:
		v := policy.New(c.OnVirus, "clamd: "+res.Raw).WithText("Message contains malware (" + res.Name() + ")")
		v.Findings = []policy.Finding{{Engine: "clamd", Name: res.Name(), Action: c.OnVirus.String(), Version: c.Version(), Detail: res.Raw}}
		return v, nil
	}
	return policy.Verdict{Action: policy.Accept}, nil
}

// Version returns the cached clamd version ("" until the first answer).
func (c *Check) Version() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// Prime fetches the version once, before the first message: at start and
// reload, bounded by ctx.
func (c *Check) Prime(ctx context.Context) {
	if v, err := c.Client.Version(ctx); err == nil {
		c.mu.Lock()
		c.version, c.checked = v, time.Now()
		c.mu.Unlock()
	}
}

// refreshVersion fetches the version in the background when it is older
// than versionTTL: never on a message's path, and never while holding a
// message's connection (with max_connections: 1 that would wait for the
// slot its own stream holds). A failure to fetch it is not a scan failure.
func (c *Check) refreshVersion() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetching || time.Since(c.checked) < versionTTL {
		return
	}
	c.fetching = true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.Client.opt.ConnectTimeout+c.Client.opt.ReplyTimeout)
		defer cancel()
		v, err := c.Client.Version(ctx)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.fetching = false
		if err == nil {
			c.version, c.checked = v, time.Now()
		}
	}()
}
