package quarantine_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"outguard/internal/harness"
	"outguard/quarantine"
)

// A page of a shared quarantine (PostgreSQL) costs a page: List with a
// Limit stopped reading rows after Limit, but pgx's Close consumes the
// rest of the result, so the server still sent every matching row. The
// bytes PostgreSQL sends for one page, through a counting proxy, are
// compared with five times the entries (ratio, same run).
func TestListLimitReadsAPageFromPostgres(t *testing.T) {
	pg := harness.StartPostgres(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var sent atomic.Int64 // bytes from the server to the store
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", pg.Port))
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(counting{c, &sent}, s); c.Close() }()
		}
	}()
	ctx := context.Background()
	q, err := quarantine.OpenPostgres(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", ln.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	put := func(n int) {
		for i := range n {
			if _, err := q.Put(ctx, quarantine.Record{Time: time.Now().Add(time.Duration(i) * time.Millisecond), User: "u", From: "f@x.test", Rcpts: []string{"r@x.test"}, Reason: strings.Repeat("r", 200)}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	const limit = 50
	page := func() int64 {
		before := sent.Load()
		recs, err := q.List(ctx, quarantine.Filter{Limit: limit})
		if err != nil || len(recs) != limit {
			t.Fatalf("%d records, %v", len(recs), err)
		}
		return sent.Load() - before
	}
	put(2 * limit)
	small := page()
	put(8 * limit)
	if large := page(); float64(large) > 1.5*float64(small) {
		t.Errorf("a page of %d of %d entries: PostgreSQL sent %d bytes; of %d entries %d: it sent them all", limit, 2*limit, small, 10*limit, large)
	}
}

// counting is a writer that counts what goes through it.
type counting struct {
	w io.Writer
	n *atomic.Int64
}

// It counts before it writes: counted after, the bytes of a reply the
// client had already read could be missing from the count taken when
// the call returned (CI: a page of 50 counted as 117 bytes).
func (c counting) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	n, err := c.w.Write(p)
	if n < len(p) {
		c.n.Add(int64(n - len(p)))
	}
	return n, err
}
