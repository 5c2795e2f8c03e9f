package milter_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"outguard/milter"
	"outguard/policy"
)

// pipeListener hands the server the far ends of in-memory connections.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

var (
	fuzzOnce sync.Once
	fuzzLn   *pipeListener
)

// fuzzServer is one milter server for the whole fuzzing process, as
// milterd has one for all its connections: what one input leaves behind
// meets the next.
func fuzzServer(t testing.TB) *pipeListener {
	fuzzOnce.Do(func() {
		lg := slog.New(slog.DiscardHandler)
		srv := milter.New(lg, &milter.State{
			Pipeline:         policy.NewPipeline(lg, policy.Entry{Check: &policy.Unauthenticated{Action: policy.Accept}, OnError: policy.Tempfail}),
			HeaderName:       "X-Outguard",
			Version:          "fuzz",
			SpoolDir:         t.TempDir(),
			SpoolLimit:       4 << 10,
			ProgressInterval: time.Second,
			MaxConnections:   64,
			ReadTimeout:      time.Second,
			IdleTimeout:      time.Second,
		})
		fuzzLn = &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
		go srv.Serve(fuzzLn)
	})
	return fuzzLn
}

// streamConn is a connection from a client that sends stream and then
// ends its side; closed tells when the server is done with it.
type streamConn struct {
	r      io.Reader
	once   sync.Once
	closed chan struct{}
}

func (c *streamConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *streamConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *streamConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *streamConn) LocalAddr() net.Addr              { return pipeAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return pipeAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

func stacks() string {
	b := make([]byte, 1<<20)
	return string(b[:runtime.Stack(b, true)])
}

// FuzzWire drives the server with arbitrary byte streams, as any client of
// the socket can: nothing may panic (a panic in the library's goroutine
// would end the fuzzing process, as it ended milterd), the server is done
// with each stream once it ends, and the heap stays bounded whatever
// lengths the stream announces. negotiate puts a valid negotiation first,
// so that mutations reach the commands after it.
func FuzzWire(f *testing.F) {
	ln := fuzzServer(f)
	f.Fuzz(func(t *testing.T, negotiate bool, stream []byte) {
		if negotiate {
			stream = append([]byte{0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff}, stream...)
		}
		c := &streamConn{r: bytes.NewReader(stream), closed: make(chan struct{})}
		select {
		case ln.conns <- c:
		case <-time.After(10 * time.Second):
			t.Fatalf("the server accepts no more connections\n%s", stacks())
		}
		select {
		case <-c.closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("the server is not done with a stream that ended\n%s", stacks())
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if m.HeapAlloc > 256<<20 {
			t.Fatalf("heap at %d MiB after a %d-byte stream", m.HeapAlloc>>20, len(stream))
		}
	})
}
