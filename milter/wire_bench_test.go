package milter_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/milter"
	"outguard/policy"
)

// packet appends one milter packet (length word, command, data) to dst.
func packet(dst []byte, code byte, data ...string) []byte {
	n := 1
	for _, d := range data {
		n += len(d)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, code)
	for _, d := range data {
		dst = append(dst, d...)
	}
	return dst
}

// postfixMessage is what Postfix 3.7 writes to a milter on a unix socket
// for one message once the stages without replies are negotiated (NR_HDR,
// NR_BODY, NODATA), cut at each stage it waits for an answer to: MAIL,
// RCPT, end of headers, end of message. body is sent in 64 KiB chunks.
func postfixMessage(body []byte) [][]byte {
	var mail, rcpt, eoh, eom []byte
	mail = packet(mail, 'D', "M", "{auth_authen}\x00alice@customer.test\x00", "{auth_type}\x00PLAIN\x00", "{mail_addr}\x00alice@customer.test\x00")
	mail = packet(mail, 'M', "<alice@customer.test>\x00", "SIZE=10240\x00")
	rcpt = packet(rcpt, 'D', "R", "{rcpt_mailer}\x00smtp\x00", "{rcpt_host}\x00remote.test\x00", "{rcpt_addr}\x00bob@remote.test\x00")
	rcpt = packet(rcpt, 'R', "<bob@remote.test>\x00")
	for _, h := range [][2]string{{"From", " <alice@customer.test>"}, {"To", " <bob@remote.test>"}, {"Subject", " bench"}, {"Message-ID", " <1@customer.test>"}, {"Date", " Mon, 30 Nov 2026 12:00:00 +0000"}} {
		eoh = packet(eoh, 'L', h[0]+"\x00", h[1]+"\x00")
	}
	eoh = packet(eoh, 'D', "N", "i\x004XyZ1\x00")
	eoh = packet(eoh, 'N')
	for b := body; len(b) > 0; {
		n := min(len(b), 65535) // Postfix's MILTER_CHUNK_SIZE
		eom = packet(eom, 'B', string(b[:n]))
		b = b[n:]
	}
	eom = packet(eom, 'D', "E", "i\x004XyZ1\x00")
	eom = packet(eom, 'E')
	return [][]byte{mail, rcpt, eoh, eom}
}

// BenchmarkWire is the milter packet layer alone (the wire guard, go-milter
// and the session callbacks, a pipeline without checks) under a client
// that writes what Postfix writes, on a unix socket, one message after the
// other on one connection: per message, its allocations (-benchmem) and
// time. 10KiB is the clean small message of bench/compare, 2MiB its
// attachment; stamp adds the accepted message's header, a modification
// before the final reply.
func BenchmarkWire(b *testing.B) {
	for _, c := range []struct {
		name  string
		size  int
		stamp bool
	}{{"10KiB", 10 << 10, false}, {"10KiB-stamp", 10 << 10, true}, {"2MiB", 2 << 20, false}} {
		b.Run(c.name, func(b *testing.B) {
			lg := slog.New(slog.DiscardHandler)
			st := &milter.State{
				Pipeline:         policy.NewPipeline(lg),
				Version:          "bench",
				SpoolDir:         b.TempDir(),
				SpoolLimit:       1 << 20,
				ProgressInterval: time.Second,
				ReadTimeout:      10 * time.Second,
				IdleTimeout:      10 * time.Second,
			}
			if c.stamp {
				st.HeaderName = "X-Outguard"
			}
			srv := milter.New(lg, st)
			sock := filepath.Join(b.TempDir(), "m.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				b.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			conn, err := net.Dial("unix", sock)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			r := bufio.NewReaderSize(conn, 64<<10)
			// Postfix 3.7 offers version 6, every action and protocol bit.
			if _, err := conn.Write(packet(nil, 'O', "\x00\x00\x00\x06", "\x00\x00\x01\xff", "\x00\x1f\xff\xff")); err != nil {
				b.Fatal(err)
			}
			if code, _ := readReply(b, r); code != 'O' {
				b.Fatalf("negotiation answered with %q", code)
			}
			body := []byte(strings.Repeat("A clean line of a clean and ordinary message body.\r\n", c.size/52+1))[:c.size]
			stages := postfixMessage(body)
			b.SetBytes(int64(c.size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for i, stage := range stages {
					if _, err := conn.Write(stage); err != nil {
						b.Fatal(err)
					}
					want := byte('c') // continue
					if i == len(stages)-1 {
						want = 'a' // accept
					}
					code, _ := readReply(b, r)
					for code == 'h' { // the stamp, before the reply
						code, _ = readReply(b, r)
					}
					if code != want {
						b.Fatalf("stage %d answered with %q, want %q", i, code, want)
					}
				}
			}
		})
	}
}

// readReply reads one packet from the milter.
func readReply(b *testing.B, r *bufio.Reader) (byte, []byte) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(r, data); err != nil || len(data) == 0 {
		b.Fatalf("reply: %v (%d bytes)", err, len(data))
	}
	return data[0], data[1:]
}
