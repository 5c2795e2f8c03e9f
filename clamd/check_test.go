package clamd_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
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

// fakeClamd answers FILDES with fildes and INSTREAM, once it has read the
// whole stream, with instream; it counts the FILDES commands.
func fakeClamd(t *testing.T, fildes, instream string) (string, *atomic.Int32) {
	path := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				cmd, _ := r.ReadString(0)
				switch cmd {
				case "zFILDES\x00":
					n.Add(1)
					r.ReadByte()
					io.WriteString(c, fildes+"\x00")
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
					io.WriteString(c, instream+"\x00")
				}
			}()
		}
	}()
	return path, &n
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

	sock, fildes := fakeClamd(t, "fd[10]: lstat() failed: Permission denied. ERROR", "stream: OK")
	chk, logs := check(sock)
	for i := range 3 {
		v, err := chk.CheckMessage(ctx, spooled(t, 1<<20, []byte("Subject: x\r\n\r\nhello\r\n")))
		if err != nil || v.Action != policy.Accept {
			t.Fatalf("message %d: %+v %v", i, v, err)
		}
	}
	if n := fildes.Load(); n != 1 || chk.Client.PassesFds() {
		t.Errorf("%d FILDES tried, passing %v: want 1, then streams", n, chk.Client.PassesFds())
	}
	if n := strings.Count(logs.String(), "clamd refused a passed descriptor"); n != 1 || !strings.Contains(logs.String(), "Permission denied") {
		t.Errorf("%d warnings:\n%s", n, logs.String())
	}

	sock, _ = fakeClamd(t, "fd[10]: Can't allocate memory ERROR", "stream: Can't allocate memory ERROR")
	chk, _ = check(sock)
	if v, err := chk.CheckMessage(ctx, spooled(t, 1<<20, []byte("Subject: x\r\n\r\nhello\r\n"))); err == nil || !bytes.Contains([]byte(err.Error()), []byte("allocate")) {
		t.Fatalf("clamd failing both ways: %+v %v, want its error", v, err)
	}
	if !chk.Client.PassesFds() {
		t.Error("fd passing switched off by a clamd that fails streams too")
	}
}
