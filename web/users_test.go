package web

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/internal/harness"
)

// argon2idTool hashes password with the reference implementation's tool
// (Debian's argon2), not with the code under test.
func argon2idTool(t *testing.T, password, salt string, m, tc, p string) string {
	t.Helper()
	harness.Require(t, "argon2")
	cmd := exec.Command("argon2", salt, "-id", "-e", "-m", m, "-t", tc, "-p", p)
	cmd.Stdin = strings.NewReader(password)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("argon2: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// A users file with argon2id hashes from the reference tool: the right
// password signs in (with Basic and the form, again from the cache), a
// wrong one, the empty one and another user's do not.
func TestArgon2idUsers(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	ann := argon2idTool(t, "ann's long password", "saltsaltsalt", "12", "3", "1") // 4 MiB, as the tool's default
	bob := argon2idTool(t, "bob's long password", "0123456789abcdef", "16", "2", "4")
	if err := AddUser(users, "carl", Reviewer, "carl's long password"); err != nil { // bcrypt, besides
		t.Fatal(err)
	}
	data, _ := os.ReadFile(users)
	os.WriteFile(users, append(data, "ann:"+ann+":admin\nbob:"+bob+":viewer\n"...), 0o640)
	s, err := New(Options{UsersFile: users})
	if err != nil {
		t.Fatal(err)
	}
	call := func(name, pass string) int {
		r := httptest.NewRequest("GET", "/api/nothing", nil)
		r.SetBasicAuth(name, pass)
		_, err := s.authenticate(r)
		if err != nil {
			return 401
		}
		return 200
	}
	for _, c := range []struct {
		name, pass string
		want       int
	}{
		{"ann", "ann's long password", 200}, {"ann", "ann's long password", 200}, // the second from the cache
		{"bob", "bob's long password", 200}, {"carl", "carl's long password", 200},
		{"ann", "ann's long passwore", 401}, {"ann", "", 401}, {"ann", "bob's long password", 401},
		{"bob", "ann's long password", 401}, {"ann", "ann's long password\x00", 401},
	} {
		if got := call(c.name, c.pass); got != c.want {
			t.Errorf("%s with %q: %d, want %d", c.name, c.pass, got, c.want)
		}
	}
	if role, ok, err := s.users.check("ann", "ann's long password"); !ok || err != nil || role != Admin {
		t.Errorf("ann: %v %v %v", role, ok, err)
	}
}

// A malformed or out-of-bounds argon2id hash is an error naming its line
// and user when the file is read: nobody signs in with any password (the
// console does not guess), and nothing panics (x/crypto/argon2 panics on
// t=0 and p=0; an empty hash would match every password).
func TestArgon2idMalformed(t *testing.T) {
	good := "$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHRzYWx0$fMj1nwNmrnVwJuCZbgXs3uNLgNqAwGt5Zt1VIgGis0I"
	if _, err := parseUsers([]byte("eve:" + good + ":admin\n")); err != nil {
		t.Fatalf("the reference tool's hash: %v", err)
	}
	for _, c := range []struct{ hash, why string }{
		{strings.Replace(good, "$fMj1nwNmrnVwJuCZbgXs3uNLgNqAwGt5Zt1VIgGis0I", "$", 1), "hash: want"}, // empty: matches anything
		{strings.Replace(good, "$fMj1nwNmrnVwJuCZbgXs3uNLgNqAwGt5Zt1VIgGis0I", "$fMj1nwNmrnVw", 1), "hash: want"},
		{strings.Replace(good, "t=3", "t=0", 1), "t=0"},
		{strings.Replace(good, "p=1", "p=0", 1), "p=0"},
		{strings.Replace(good, "p=1", "p=300", 1), "p=300"},
		{strings.Replace(good, "m=4096", "m=4194304", 1), "m=4194304"},
		{strings.Replace(good, "m=4096", "m=4", 1), "m=4"},
		{strings.Replace(good, "m=4096", "m=04096", 1), "parameters"},
		{strings.Replace(good, "m=4096", "m=-1", 1), "parameters"},
		{strings.Replace(good, "t=3", "t=99999999999", 1), "parameters"},
		{strings.Replace(good, ",p=1", ",p=1,keyid=x", 1), "parameters"},
		{strings.Replace(good, "v=19", "v=16", 1), "version"},
		{strings.Replace(good, "$v=19", "", 1), "want $argon2id$"},
		{strings.Replace(good, "argon2id", "argon2i", 1), "want $argon2id$"},
		{strings.Replace(good, "argon2id", "argon2d", 1), "want $argon2id$"},
		{strings.Replace(good, "c29tZXNhbHRzYWx0", "c29tZXNhbHRzYWx0==", 1), "salt"},
		{strings.Replace(good, "c29tZXNhbHRzYWx0", "c2!tZXNhbHRzYWx0", 1), "salt"},
		{strings.Replace(good, "c29tZXNhbHRzYWx0", "c29t", 1), "salt"},
		{good + "$", "want $argon2id$"},
		{"$argon2id$", "want $argon2id$"},
	} {
		file := "# the web console's users\nann:" + c.hash + ":admin\n"
		_, err := parseUsers([]byte(file))
		if err == nil || !strings.Contains(err.Error(), "line 2: ann: argon2id hash: ") || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v, want an error on line 2 naming ann and %q", c.hash, err, c.why)
		}
	}
	// The console with such a file lets nobody in, with any password.
	users := filepath.Join(t.TempDir(), "users")
	os.WriteFile(users, []byte("ann:"+strings.Replace(good, "$fMj1nwNmrnVwJuCZbgXs3uNLgNqAwGt5Zt1VIgGis0I", "$", 1)+":admin\n"), 0o640)
	s, err := New(Options{UsersFile: users})
	if err != nil {
		t.Fatal(err)
	}
	for _, pass := range []string{"", "x", "anything"} {
		if _, ok, err := s.users.check("ann", pass); ok || err == nil || !strings.Contains(err.Error(), "line 1: ann") {
			t.Errorf("password %q with an empty argon2id hash: ok %v, err %v", pass, ok, err)
		}
	}
}

// Whatever a users file holds, reading it does not panic, and an argon2id
// hash it accepts has parameters argon2 can run within the bounds.
func FuzzParseUsers(f *testing.F) {
	f.Add([]byte("ann:$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHRzYWx0$fMj1nwNmrnVwJuCZbgXs3uNLgNqAwGt5Zt1VIgGis0I:admin\n"))
	f.Add([]byte("bob:$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy:viewer\n# c\n\n"))
	f.Add([]byte("eve:$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA:reviewer\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := parseUsers(data)
		if err != nil {
			return
		}
		for name, a := range out {
			if checkName(name) != nil || a.role < Viewer || a.role > Admin {
				t.Fatalf("accepted %q as %v", name, a.role)
			}
			if h := a.argon2; h != nil && (h.time < 1 || h.threads < 1 || h.memory > argonMaxMemory || len(h.key) < argonMinKey || len(h.salt) < argonMinSalt) {
				t.Fatalf("accepted %+v", h)
			}
		}
	})
}

// At most maxHashing password hashes run at once: with the slots taken,
// a sign-in waits, and goes on when one is free.
func TestHashingBound(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	if err := AddUser(file, "ann", Viewer, "ann's long password"); err != nil {
		t.Fatal(err)
	}
	u := &users{path: file}
	for range maxHashing {
		hashing <- struct{}{}
	}
	done := make(chan bool)
	go func() {
		_, ok, _ := u.check("ann", "ann's long password")
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("a hash ran with every slot taken")
	case <-time.After(300 * time.Millisecond):
	}
	<-hashing
	if !<-done {
		t.Error("the sign-in failed once a slot was free")
	}
	for range maxHashing - 1 {
		<-hashing
	}
}
