package clamd_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"outguard/clamd"
	"outguard/internal/harness"
	"outguard/policy"
	"outguard/spool"
)

// spooled is a transaction whose message is spooled as milterd spools it:
// in memory up to memLimit, then in an unlinked file.
func spooled(t *testing.T, memLimit int64, parts ...[]byte) *policy.Transaction {
	t.Helper()
	sp := spool.New(t.TempDir(), memLimit)
	t.Cleanup(func() { sp.Close() })
	for _, p := range parts {
		if _, err := sp.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	return &policy.Transaction{Message: sp}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// With fd passing no stream is opened; at end-of-message clamd reads the
// spool's own file, or a memory file holding an in-memory message, through
// FILDES (its reply names the descriptor). A message over the limit is
// streamed, its first Limit bytes, so it is oversize as when streamed.
func TestCheckPassesDescriptors(t *testing.T) {
	cd := harness.StartClamd(t, "1M") // StreamMaxLength does not bound FILDES
	var logs harness.LogBuffer
	chk := &clamd.Check{Client: client(cd.Socket, clamd.Options{FdPassing: true}), Limit: 4 << 20, OnVirus: policy.Reject, Oversize: policy.Accept, Log: harness.Logger(t, &logs)}
	small := &clamd.Check{Client: chk.Client, Limit: 512 << 10, OnVirus: policy.Reject, Oversize: policy.Accept, Log: chk.Log}
	ctx := context.Background()
	if s, err := chk.OpenStream(ctx, &policy.Transaction{}); s != nil || err != nil {
		t.Fatalf("OpenStream with fd passing: %v %v, want no stream", s, err)
	}
	virus := []byte("Subject: x\r\n\r\n" + eicar + "\r\n")
	for _, c := range []struct {
		name      string
		chk       *clamd.Check
		tx        *policy.Transaction
		action    policy.Action
		raw       string // prefix of clamd's reply
		unscanned bool
	}{
		{"virus in memory", chk, spooled(t, 1<<20, virus), policy.Reject, "fd[", false},
		{"virus on disk past clamd's StreamMaxLength", chk, spooled(t, 64<<10, random(2<<20), virus), policy.Reject, "fd[", false},
		{"clean in memory", chk, spooled(t, 1<<20, random(10<<10)), policy.Accept, "", false},
		{"clean on disk", chk, spooled(t, 64<<10, random(3<<20)), policy.Accept, "", false},
		{"virus before the limit, message over it", small, spooled(t, 64<<10, virus, random(1<<20)), policy.Reject, "stream: ", false},
		{"clean, over the limit", small, spooled(t, 64<<10, random(1<<20)), policy.Accept, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := c.chk.CheckMessage(ctx, c.tx)
			if err != nil || v.Action != c.action {
				t.Fatalf("%+v %v, want %v", v, err, c.action)
			}
			if c.action == policy.Reject && (len(v.Findings) != 1 || !strings.HasPrefix(v.Findings[0].Detail, c.raw) || v.Findings[0].Name != "Eicar-Test-Signature") {
				t.Errorf("findings %+v, want clamd's reply starting %q", v.Findings, c.raw)
			}
			if c.tx.FullyChecked() == c.unscanned {
				t.Errorf("fully checked: %v, want %v (stamps %q)", c.tx.FullyChecked(), !c.unscanned, c.tx.Stamps())
			}
		})
	}
	if !chk.Client.PassesFds() || logs.String() != "" {
		t.Errorf("fd passing switched off: %s", logs.String())
	}
	tcp := clamd.New([]clamd.Addr{{Network: "unix", Address: cd.Socket}, {Network: "tcp", Address: "127.0.0.1:3310"}}, clamd.Options{FdPassing: true})
	if tcp.PassesFds() {
		t.Error("fd passing with a clamd over TCP")
	}
}

// The command and the descriptor go to clamd in one message (one
// system call): a session's replies stay in step with its requests,
// scan after scan, on the real clamd (a byte clamd took for a command of
// its own would answer it, and every later scan would read the reply of
// the one before).
func TestFildesOneWriteStaysInStep(t *testing.T) {
	cd := harness.StartClamd(t, "1M")
	chk := &clamd.Check{Client: client(cd.Socket, clamd.Options{FdPassing: true}), Limit: 4 << 20, OnVirus: policy.Reject, Oversize: policy.Accept}
	virus := []byte("Subject: x\r\n\r\n" + eicar + "\r\n")
	for i := range 12 {
		msg, want := random(4<<10), policy.Accept
		if i%3 == 1 {
			msg, want = virus, policy.Reject
		}
		if v, err := chk.CheckMessage(context.Background(), spooled(t, 1<<20, msg)); err != nil || v.Action != want {
			t.Fatalf("scan %d: %+v %v, want %v", i, v, err, want)
		}
	}
	if !chk.Client.PassesFds() {
		t.Error("fd passing switched off")
	}
}

// fake is a clamd that answers FILDES with fildes and INSTREAM, once it
// has read the whole stream, with instream, in sessions (IDSESSION) too;
// it counts connections and FILDES commands. With hangUp it closes every
// connection after one reply, as clamd does to a session idle past its
// IdleTimeout.
type fake struct {
	fildes, instream string
	hangUp           bool
	conns, fds       atomic.Int32
}

func (f *fake) start(t *testing.T) string {
	return listen(t, func(c net.Conn) {
		f.conns.Add(1)
		f.serve(c)
	})
}

func (f *fake) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	prefix := func(int) string { return "" }
	for n := 1; ; n++ {
		cmd, err := r.ReadString(0)
		if err != nil {
			return
		}
		switch cmd {
		case "zIDSESSION\x00":
			prefix = func(n int) string { return fmt.Sprintf("%d: ", n-1) }
			continue
		case "zFILDES\x00":
			f.fds.Add(1)
			r.ReadByte()
			io.WriteString(c, prefix(n)+f.fildes+"\x00")
		case "zINSTREAM\x00":
			for {
				var size uint32
				if binary.Read(r, binary.BigEndian, &size) != nil {
					return
				}
				if size == 0 {
					break
				}
				io.CopyN(io.Discard, r, int64(size))
			}
			io.WriteString(c, prefix(n)+f.instream+"\x00")
		default:
			return
		}
		if f.hangUp {
			return
		}
	}
}

// Descriptors go over one IDSESSION connection, scan after scan; when
// clamd has closed it meanwhile, a fresh one is opened and the scan goes
// through.
func TestScanFdReusesSessions(t *testing.T) {
	ctx := context.Background()
	msg := spooled(t, 1<<20, []byte("Subject: x\r\n\r\nhello\r\n"))
	for _, f := range []*fake{{fildes: "fd[10]: OK"}, {fildes: "fd[10]: OK", hangUp: true}} {
		chk := &clamd.Check{Client: client(f.start(t), clamd.Options{FdPassing: true}), Limit: 25 << 20}
		for i := range 5 {
			if v, err := chk.CheckMessage(ctx, msg); err != nil || v.Action != policy.Accept {
				t.Fatalf("hang up %v, scan %d: %+v %v", f.hangUp, i, v, err)
			}
		}
		want := map[bool]int32{false: 1, true: 5}[f.hangUp]
		if n := f.conns.Load(); n != want || f.fds.Load() != 5 {
			t.Errorf("hang up %v: %d connections, %d FILDES for 5 scans; want %d connections", f.hangUp, n, f.fds.Load(), want)
		}
	}
}

// A clamd that cannot read a passed descriptor (as under an AppArmor
// profile that denies it) but scans streams: the message is streamed, the
// log says so once, and later messages are streamed at once. A clamd that
// fails both ways gets on_error (the error), and fd passing stays on.
func TestCheckFallsBackToStreaming(t *testing.T) {
	ctx := context.Background()
	check := func(sock string) (*clamd.Check, *harness.LogBuffer) {
		var logs harness.LogBuffer
		return &clamd.Check{Client: client(sock, clamd.Options{FdPassing: true}), Limit: 25 << 20, OnVirus: policy.Reject, Oversize: policy.Accept, Log: harness.Logger(t, &logs)}, &logs
	}

	refusing := &fake{fildes: "fd[10]: lstat() failed: Permission denied. ERROR", instream: "stream: OK"}
	chk, logs := check(refusing.start(t))
	for i := range 3 {
		v, err := chk.CheckMessage(ctx, spooled(t, 1<<20, []byte("Subject: x\r\n\r\nhello\r\n")))
		if err != nil || v.Action != policy.Accept {
			t.Fatalf("message %d: %+v %v", i, v, err)
		}
	}
	if n := refusing.fds.Load(); n != 1 || chk.Client.PassesFds() {
		t.Errorf("%d FILDES tried, passing %v: want 1, then streams", n, chk.Client.PassesFds())
	}
	if n := strings.Count(logs.String(), "clamd refused a passed descriptor"); n != 1 || !strings.Contains(logs.String(), "Permission denied") {
		t.Errorf("%d warnings:\n%s", n, logs.String())
	}

	failing := &fake{fildes: "fd[10]: Can't allocate memory ERROR", instream: "stream: Can't allocate memory ERROR"}
	chk, _ = check(failing.start(t))
	if v, err := chk.CheckMessage(ctx, spooled(t, 1<<20, []byte("Subject: x\r\n\r\nhello\r\n"))); err == nil || !bytes.Contains([]byte(err.Error()), []byte("allocate")) {
		t.Fatalf("clamd failing both ways: %+v %v, want its error", v, err)
	}
	if !chk.Client.PassesFds() {
		t.Error("fd passing switched off by a clamd that fails streams too")
	}
}
