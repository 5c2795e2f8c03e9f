package milter_test

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"outguard/internal/harness"
)

// rawPacket is one milter packet: length word, command, data.
func rawPacket(code byte, data string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(data)))
	return append(append(b, code), data...)
}

// rawNegotiate connects to the milter and negotiates as Postfix does.
func rawNegotiate(t *testing.T, socket string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(rawPacket('O', "\x00\x00\x00\x06\x00\x00\x01\xff\x00\x1f\xff\xff")); err != nil {
		t.Fatal(err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
		t.Fatal(err)
	}
	return c
}

// Issue #32 review: the packet path reads into a buffer of the
// connection's and the progress comes from a timer. Clients that vanish
// mid-packet (a length word announcing more than comes, a packet cut
// inside its data, an oversized length) and MTAs that hang up while the
// checks run (the progress timer armed, its write failing) must leave no
// goroutine and no timer behind.
func TestReviewVanishingClientsLeakNothing(t *testing.T) {
	rec := &recorder{sleep: time.Hour} // a check that ends only with its context
	socket := startMilter(t, rec, &harness.LogBuffer{})
	settle := func() int {
		n := 0
		for range 100 {
			runtime.GC()
			if n = runtime.NumGoroutine(); n <= 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return n
	}
	// Warm up: one full connection, so that lazily started goroutines exist.
	rawNegotiate(t, socket).Close()
	time.Sleep(100 * time.Millisecond)
	before := settle()

	cuts := [][]byte{
		binary.BigEndian.AppendUint32(nil, 100),                     // a length word, nothing else
		append(binary.BigEndian.AppendUint32(nil, 100), "M<a@b"...), // a packet cut in its data
		append(binary.BigEndian.AppendUint32(nil, 1<<30), 'B'),      // oversized
		{0, 0}, // half a length word
	}
	for i := range 400 {
		c := rawNegotiate(t, socket)
		c.Write(cuts[i%len(cuts)])
		c.Close()
	}
	// MTAs that hang up while the message is being checked: the progress
	// timer fires into a closed connection and must cancel the checks.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := rawNegotiate(t, socket)
			msg := append(rawPacket('D', "M{auth_authen}\x00alice\x00"), rawPacket('M', "<alice@customer.test>\x00")...)
			c.Write(msg)
			var reply [5]byte
			io.ReadFull(c, reply[:])
			c.Write(rawPacket('R', "<bob@remote.test>\x00"))
			io.ReadFull(c, reply[:])
			c.Write(append(append(rawPacket('L', "Subject\x00 x\x00"), rawPacket('N', "")...), append(rawPacket('B', "Hi.\r\n"), rawPacket('E', "")...)...))
			time.Sleep(200 * time.Millisecond) // inside the check
			c.Close()
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	after := settle()
	for after > before+2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		after = settle()
	}
	if after > before+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after the clients left:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
	if n := len(rec.seen()); n != 20 {
		t.Errorf("%d messages reached the check, want 20", n)
	}
}
