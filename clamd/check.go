package clamd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"outguard/policy"
)

// Check is the pipeline check that has clamd scan each message: streamed
// while it arrives (INSTREAM), or, with a local clamd, handed over whole
// as a descriptor at end-of-message (FILDES).
type Check struct {
	Client   *Client
	Limit    int64         // bytes scanned at most (keep it within clamd's StreamMaxLength, MaxFileSize and MaxScanSize)
	OnVirus  policy.Action // default reject
	Oversize policy.Action // a message over Limit: default accept, stamped "not scanned"
	Log      *slog.Logger

	mu       sync.Mutex
	version  string
	checked  time.Time
	fetching bool
}

// versionTTL is how long a zVERSION answer is reused: the signature
// version changes a few times a day.
const versionTTL = 5 * time.Minute

func (c *Check) Name() string { return "clamd" }

// OpenStream starts the INSTREAM scan at end-of-headers, or opens none
// when clamd will be handed the whole message (CheckMessage).
func (c *Check) OpenStream(ctx context.Context, t *policy.Transaction) (policy.Stream, error) {
	c.refreshVersion()
	if c.Client.PassesFds() {
		return nil, nil
	}
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
	res, err := s.s.Result()
	return s.check.verdict(s.t, res, err)
}

// CheckMessage scans the whole message at end-of-message, where no stream
// was opened: clamd gets the spool's descriptor. A message over Limit is
// streamed instead, its first Limit bytes, so that it is oversize exactly
// as a streamed one is (clamd does not apply StreamMaxLength to FILDES,
// and passes a file over its MaxFileSize as clean).
func (c *Check) CheckMessage(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	m, ok := t.Message.(Message)
	if !ok || !c.Client.PassesFds() || c.Limit > 0 && t.Message.Size() > c.Limit {
		return c.stream(ctx, t)
	}
	fd, done, err := messageFd(m)
	if err != nil {
		return policy.Verdict{}, err
	}
	res, err := c.Client.ScanFd(ctx, fd)
	done()
	var refused ReplyError
	if errors.As(err, &refused) {
		// clamd could not read the descriptor (an AppArmor profile, say) or
		// failed to scan: the stream tells which. If it scans, stream from
		// now on rather than try every message twice.
		v, serr := c.stream(ctx, t)
		if serr == nil && c.Client.PassesFds() {
			c.Client.StopFdPassing()
			c.Log.Warn("clamd refused a passed descriptor but scans streams: streaming every message until reload (clamd.fd_passing)", "reply", string(refused))
		}
		return v, serr
	}
	return c.verdict(t, res, err)
}

// stream scans the spooled message with INSTREAM.
func (c *Check) stream(ctx context.Context, t *policy.Transaction) (policy.Verdict, error) {
	s, err := c.Client.Stream(ctx, c.Limit)
	if err != nil {
		return policy.Verdict{}, err
	}
	defer s.Close()
	r := t.Reader()
	if c.Limit > 0 && r.Size() > c.Limit {
		r = io.NewSectionReader(r, 0, c.Limit+1) // one byte over tells the stream
	}
	if _, err := io.CopyBuffer(s, r, make([]byte, ChunkSize)); err != nil {
		return policy.Verdict{}, fmt.Errorf("reading the spool: %w", err)
	}
	res, err := s.Result()
	return c.verdict(t, res, err)
}

// verdict turns clamd's answer into the check's verdict.
func (c *Check) verdict(t *policy.Transaction, res Result, err error) (policy.Verdict, error) {
	if v := c.VersionNote(); v != "" { // in the stamp's detail, too
		t.Stamp(v)
	}
	switch {
	case errors.Is(err, ErrOversize):
		reason := fmt.Sprintf("clamd: not scanned: message over the scan limit of %d bytes", c.Limit)
		if c.Oversize == policy.Accept {
			t.Unchecked(fmt.Sprintf("clamd: not scanned (over %d bytes)", c.Limit))
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

// VersionNote is the version for every verdict line (policy.Versioned).
func (c *Check) VersionNote() string {
	if v := c.Version(); v != "" {
		return "clamd " + v
	}
	return ""
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
