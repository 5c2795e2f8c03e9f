package clamd

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"
)

// Stream is one INSTREAM scan in progress. Write the message as it arrives,
// then call Result. Close always.
type Stream struct {
	c       *Client
	cn      *conn
	limit   int64 // bytes we send at most; beyond it the scan is oversize
	sent    int64
	over    bool
	werr    error
	stopCtx func() bool
	hdr     [4]byte
}

// Stream opens an INSTREAM scan. limit is the most bytes sent to clamd
// (clamd's StreamMaxLength); 0 means no limit of ours.
func (c *Client) Stream(ctx context.Context, limit int64) (*Stream, error) {
	cn, err := c.dial(ctx, false)
	if err != nil {
		return nil, err
	}
	s := &Stream{c: c, cn: cn, limit: limit}
	// Cancelling ctx (transaction aborted, shutdown) interrupts any I/O.
	s.stopCtx = context.AfterFunc(ctx, func() { cn.SetDeadline(time.Now()) })
	cn.SetWriteDeadline(time.Now().Add(c.opt.IOTimeout))
	if _, err := cn.Write([]byte("zINSTREAM\x00")); err != nil {
		s.Close()
		return nil, fmt.Errorf("clamd %s: INSTREAM: %w", cn.b.addr, err)
	}
	return s, nil
}

// Write sends p as length-prefixed chunks. After a write error or past the
// limit it sends nothing more but does not fail: Result reports it, after
// reading clamd's reply, which clamd sends even when it closed the stream.
func (s *Stream) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && s.werr == nil && !s.over {
		chunk := p[:min(len(p), ChunkSize)]
		if s.limit > 0 && s.sent+int64(len(chunk)) > s.limit {
			chunk = chunk[:s.limit-s.sent]
			s.over = true
		}
		if len(chunk) > 0 {
			s.werr = s.chunk(chunk)
		}
		p = p[len(chunk):]
	}
	return n, nil
}

// chunk writes one chunk: 4-byte big-endian length, then the bytes, in
// one writev (net.Buffers on the socket itself: the wrapper would hide it).
func (s *Stream) chunk(b []byte) error {
	binary.BigEndian.PutUint32(s.hdr[:], uint32(len(b)))
	s.cn.SetWriteDeadline(time.Now().Add(s.c.opt.IOTimeout))
	bufs := net.Buffers{s.hdr[:], b}
	_, err := bufs.WriteTo(s.cn.Conn)
	s.sent += int64(len(b))
	return err
}

// Result ends the stream and waits for the verdict.
func (s *Stream) Result() (Result, error) {
	if s.werr == nil {
		s.cn.SetWriteDeadline(time.Now().Add(s.c.opt.IOTimeout))
		_, s.werr = s.cn.Write([]byte{0, 0, 0, 0}) // zero-length chunk: end
	}
	s.cn.SetReadDeadline(time.Now().Add(s.c.opt.ReplyTimeout))
	reply, rerr := readReply(s.cn)
	if rerr != nil {
		if s.werr != nil {
			return Result{}, fmt.Errorf("clamd %s: write: %v; %w", s.cn.b.addr, s.werr, rerr)
		}
		return Result{}, rerr
	}
	s.cn.b.answer.Store(time.Now().UnixNano())
	res, err := ParseReply(reply)
	if err == nil && s.over && !res.Infected {
		// clamd saw only the first limit bytes: clean so far is not clean.
		err = ErrOversize
	}
	return res, err
}

// Close releases the connection and its slot.
func (s *Stream) Close() {
	s.stopCtx()
	s.cn.Close()
}
