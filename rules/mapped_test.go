package rules

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
)

// attachmentMessage is a message with one base64 attachment of n fresh
// random bytes.
func attachmentMessage(n int) []byte {
	att := make([]byte, n)
	rand.Read(att)
	var b bytes.Buffer
	b.WriteString("From: <a@customer.test>\r\nTo: <b@remote.test>\r\nSubject: figures\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n--bb\r\nContent-Type: text/plain\r\n\r\nattached\r\n--bb\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(att)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--bb--\r\n")
	return b.Bytes()
}

// mappedSpools is the bytes of this process's spool files (deleted, as
// spools are) mapped right now, from /proc/self/maps.
func mappedSpools() int64 {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "outguard-") || !strings.HasSuffix(line, "(deleted)") {
			continue
		}
		lo, hi, _ := strings.Cut(strings.Fields(line)[0], "-")
		a, _ := strconv.ParseUint(lo, 16, 64)
		z, _ := strconv.ParseUint(hi, 16, 64)
		total += int64(z - a)
	}
	return total
}

// Concurrent messages whose attachments are spooled to files, which
// libyara maps to scan: at most the bound's bytes are mapped at once,
// whatever the number of messages (fifty concurrent 25 MiB messages
// mapped theirs all at once: half of milterd's peak resident memory).
// Every item is still scanned.
func TestMappedBytesBounded(t *testing.T) {
	e := shipped(t)
	const item = 3 << 20
	e.setMaxMapped(item + item/2) // room for one item, not two
	msgs := make([][]byte, 6)
	for i := range msgs {
		msgs[i] = attachmentMessage(item)
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := mappedSpools(); n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, len(msgs))
	for _, m := range msgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.Scan(context.Background(), bytes.NewReader(m), int64(len(m)), "u", "a@customer.test")
			if err == nil && len(res.Items) < 3 {
				err = fmt.Errorf("%d items scanned, want the header block, the text and the attachment", len(res.Items))
			}
			for _, it := range res.Items {
				if it.Filename == "f.bin" && it.Size != item {
					err = fmt.Errorf("attachment scanned as %d bytes, want %d", it.Size, item)
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(stop)
	<-polled
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p == 0 || p > e.mappedMax {
		t.Fatalf("peak spool bytes mapped at once: %d, want 1..%d", p, e.mappedMax)
	}
}

// A scan that cannot get room to map its item before the message's
// deadline fails (the check's on_error applies): it never passes the item
// unscanned.
func TestMappedWaitEndsWithDeadline(t *testing.T) {
	e := shipped(t)
	e.setMaxMapped(1 << 20)
	if !e.mapped.TryAcquire(1 << 20) { // another message's scan holds it all
		t.Fatal("bound not free")
	}
	m := attachmentMessage(2 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := e.Scan(ctx, bytes.NewReader(m), int64(len(m)), "u", "a@customer.test")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("scan with no room to map: %v, want the deadline's error", err)
	}
	e.mapped.Release(1 << 20)
	if _, err := e.Scan(context.Background(), bytes.NewReader(m), int64(len(m)), "u", "a@customer.test"); err != nil {
		t.Fatalf("once released: %v", err)
	}
}

func (e *Engine) setMaxMapped(n int64) {
	e.mapped, e.mappedMax = semaphore.NewWeighted(n), n
}
