package clamd_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/clamd"
	"outguard/internal/harness"
)

const eicar = harness.EICAR

func client(socket string, opt clamd.Options) *clamd.Client {
	return clamd.New([]clamd.Addr{{Network: "unix", Address: socket}}, opt)
}

func scan(t *testing.T, c *clamd.Client, limit int64, parts ...[]byte) (clamd.Result, error) {
	t.Helper()
	s, err := c.Stream(context.Background(), limit)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range parts {
		s.Write(p)
	}
	return s.Result()
}

func TestRealClamd(t *testing.T) {
	cd := harness.StartClamd(t, "2M")
	c := client(cd.Socket, clamd.Options{})
	ctx := context.Background()
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := c.Version(ctx)
	if err != nil || !strings.HasPrefix(v, "ClamAV ") {
		t.Fatalf("version %q %v", v, err)
	}

	t.Run("eicar in chunks", func(t *testing.T) {
		// Split across chunk boundaries: clamd sees one stream.
		res, err := scan(t, c, 0, []byte("Subject: x\r\n\r\n"+eicar[:10]), []byte(eicar[10:]+"\r\n"))
		if err != nil || !res.Infected || res.Name() != "Eicar-Test-Signature" || res.Signature != "Eicar-Test-Signature.UNOFFICIAL" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("clean random", func(t *testing.T) {
		b := make([]byte, 300<<10) // several 64 KiB chunks
		rand.Read(b)
		res, err := scan(t, c, 0, b)
		if err != nil || res.Infected || res.Raw != "stream: OK" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("clamd limit exceeded", func(t *testing.T) {
		b := make([]byte, 3<<20)
		rand.Read(b)
		_, err := scan(t, c, 0, b)
		if !errors.Is(err, clamd.ErrOversize) {
			t.Fatalf("over clamd's StreamMaxLength: %v, want ErrOversize", err)
		}
	})
	t.Run("our limit", func(t *testing.T) {
		b := make([]byte, 1<<20)
		rand.Read(b)
		_, err := scan(t, c, 512<<10, b)
		if !errors.Is(err, clamd.ErrOversize) {
			t.Fatalf("over our limit: %v, want ErrOversize", err)
		}
	})
	t.Run("infected before our limit", func(t *testing.T) {
		pad := make([]byte, 1<<20)
		res, err := scan(t, c, 512<<10, []byte(eicar+"\n"), pad)
		if err != nil || !res.Infected {
			t.Fatalf("virus in the scanned part: %+v %v", res, err)
		}
	})
}

func TestFailover(t *testing.T) {
	cd := harness.StartClamd(t, "2M")
	dead := filepath.Join(t.TempDir(), "none.sock")
	c := clamd.New([]clamd.Addr{{Network: "unix", Address: dead}, {Network: "unix", Address: cd.Socket}}, clamd.Options{})
	for range 4 { // round robin starts on each address in turn
		if _, err := c.Version(context.Background()); err != nil {
			t.Fatalf("with one clamd down: %v", err)
		}
	}
	none := clamd.New([]clamd.Addr{{Network: "unix", Address: dead}}, clamd.Options{})
	if _, err := none.Version(context.Background()); err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("all down: %v", err)
	}
}

// listen serves each connection to a unix socket with serve, in a
// goroutine of its own, until the test ends.
func listen(t *testing.T, serve func(net.Conn)) string {
	path := filepath.Join(t.TempDir(), "clamd.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return path
}

func TestHungClamdTimesOut(t *testing.T) {
	c := client(harness.SilentClamd(t), clamd.Options{ReplyTimeout: 300 * time.Millisecond})
	start := time.Now()
	_, err := scan(t, c, 0, []byte("hello"))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("hung clamd: %v after %v", err, time.Since(start))
	}
}

func TestContextCancelsStream(t *testing.T) {
	c := client(harness.SilentClamd(t), clamd.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.Stream(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Write([]byte("x"))
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := s.Result(); err == nil {
		t.Fatal("cancelled stream gave a result")
	}
}

// /readyz asks Health: with every connection busy scanning, clamd is up
// (the probe takes no slot and waits behind no scan); a clamd that
// stopped answering is down within the probe's deadline, busy or not.
// Before: the probe was a PING through a connection slot, which failed
// when every slot was busy, so outguard_up{clamd} fell to 0 when the node
// was busiest.
func TestHealthBusyIsNotDown(t *testing.T) {
	cd := harness.StartClamd(t, "2M")
	c := client(cd.Socket, clamd.Options{MaxConns: 1, ConnectTimeout: time.Second})
	s, err := c.Stream(context.Background(), 0) // the one slot, held by a scan
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Health(ctx); err != nil {
		t.Errorf("busy clamd reported down: %v", err)
	}
	cd.Pause()
	fresh := client(cd.Socket, clamd.Options{MaxConns: 1}) // no answer seen yet
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	if err := fresh.Health(ctx); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("stopped clamd: %v after %v", err, time.Since(start))
	}
}

func TestConnectionLimit(t *testing.T) {
	c := clamd.New([]clamd.Addr{{Network: "unix", Address: harness.SilentClamd(t)}}, clamd.Options{MaxConns: 1})
	s, err := c.Stream(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Stream(ctx, 0); err == nil {
		t.Fatal("second stream opened past MaxConns")
	}
	s.Close()
	if s2, err := c.Stream(context.Background(), 0); err != nil {
		t.Fatalf("slot not released: %v", err)
	} else {
		s2.Close()
	}
}

func TestParseReply(t *testing.T) {
	cases := map[string]struct {
		infected bool
		name     string
		err      bool
	}{
		"stream: OK":                                       {},
		"stream: Eicar-Test-Signature FOUND":               {infected: true, name: "Eicar-Test-Signature"},
		"stream: Win.Test.X.UNOFFICIAL FOUND":              {infected: true, name: "Win.Test.X"},
		"INSTREAM size limit exceeded. ERROR":              {err: true},
		"stream: Can't allocate memory ERROR":              {err: true},
		"fd[11]: OK":                                       {},
		"fd[11]: Eicar-Test-Signature.UNOFFICIAL FOUND":    {infected: true, name: "Eicar-Test-Signature"},
		"fd[11]: lstat() failed: Permission denied. ERROR": {err: true},
		"fdx: OK":        {err: true},
		"stream:  FOUND": {err: true},
		"":               {err: true},
	}
	for reply, want := range cases {
		res, err := clamd.ParseReply(reply)
		if (err != nil) != want.err || res.Infected != want.infected || res.Name() != want.name {
			t.Errorf("%q: %+v %v", reply, res, err)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK", "stream: Eicar FOUND", "INSTREAM size limit exceeded. ERROR", "stream: x ERROR", "fd[10]: OK", "fd[10]: Eicar FOUND"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		res, err := clamd.ParseReply(reply)
		if err == nil && res.Infected && res.Name() == "" {
			t.Fatalf("infected without a name: %q", reply)
		}
		if err != nil && res.Infected {
			t.Fatalf("error and infected: %q", reply)
		}
	})
}
