package web

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// A flood of failed logins from maxLimiters addresses (a botnet, or one
// attacker's IPv6 /48: 65536 /64s) fills the table of login buckets. It
// must not lock everyone out: the reviewer at a new address still signs
// in, while an address that used up its bucket stays refused.
func TestReviewLoginTableFullLocksNoOneOut(t *testing.T) {
	s, _ := newFull(t)
	s.o.LoginEvery = time.Hour // nothing refills while the test runs
	login := func(addr netip.Addr, password string) int {
		r := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"user": {"admin"}, "password": {password}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = netip.AddrPortFrom(addr, 1234).String()
		return serve(s, r).Code
	}
	// The flood: each failed guess takes a token from its address's bucket,
	// as password() counts it (a real bcrypt per guess would take minutes
	// here). One attacker's address guessed until refused; the others
	// failed once each.
	exhausted := netip.MustParseAddr("198.51.100.7")
	for range loginBurst {
		s.limiter(exhausted).Allow()
	}
	flood := func(i int) { s.limiter(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})).Allow() }
	for i := 1; len(s.limiters) < maxLimiters; i++ {
		flood(i)
	}
	if code := login(netip.MustParseAddr("192.0.2.10"), pass); code != 303 {
		t.Errorf("the right password from a new address with the table full: %d, want 303 (signed in)", code)
	}
	for i := range 100 { // the flood goes on from new addresses
		flood(1<<20 + i)
	}
	if code := login(exhausted, pass); code != 429 {
		t.Errorf("the exhausted address after the table churned: %d, want 429", code)
	}
	if len(s.limiters) > maxLimiters {
		t.Errorf("%d buckets, bound %d", len(s.limiters), maxLimiters)
	}
}

// The login limit holds against concurrent guesses: LoginBurst wrong
// passwords sent at once from one address, and then as many more, get
// at most LoginBurst checks; the rest are answered 429. Checking the
// bucket and taking from it after the (slow) hash let every request in
// flight through.
func TestReviewLoginRateLimitConcurrent(t *testing.T) {
	s, _ := newFull(t)
	s.o.LoginEvery = time.Hour
	const n = 4 * loginBurst
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", "/api/quarantine", nil)
			r.SetBasicAuth("admin", fmt.Sprint("guess", i))
			r.RemoteAddr = "198.51.100.9:4000"
			codes <- serve(s, r).Code
		}()
	}
	wg.Wait()
	close(codes)
	checked := 0
	for c := range codes {
		switch c {
		case 401:
			checked++
		case 429:
		default:
			t.Errorf("a wrong password: %d", c)
		}
	}
	if checked > loginBurst {
		t.Errorf("%d of %d concurrent guesses were checked, limit %d", checked, n, loginBurst)
	}
}

// A script's parallel calls with the right password are not refused by
// the login limit: only failures count, and the checks in flight are
// waited for, not taken as failures.
func TestReviewLoginParallelRightPasswords(t *testing.T) {
	s, _ := newFull(t)
	s.o.LoginEvery = time.Hour
	const n = 4 * loginBurst
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", "/api/quarantine", nil)
			r.SetBasicAuth("admin", pass)
			r.RemoteAddr = "198.51.100.10:4000"
			codes <- serve(s, r).Code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a parallel call with the right password: %d", c)
		}
	}
}
