package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a user may do; each role may do what the ones before it may.
type Role int

const (
	Viewer   Role = iota + 1 // reads everything
	Reviewer                 // releases, deletes and resolves quarantine entries
	Admin                    // suspends, unsuspends and resets accounts
)

var roleNames = map[string]Role{"viewer": Viewer, "reviewer": Reviewer, "admin": Admin}

func (r Role) String() string {
	for name, v := range roleNames {
		if v == r {
			return name
		}
	}
	return "none"
}

// ParseRole parses viewer, reviewer or admin.
func ParseRole(s string) (Role, error) {
	if r, ok := roleNames[s]; ok {
		return r, nil
	}
	return 0, fmt.Errorf("unknown role %q (want viewer, reviewer or admin)", s)
}

type account struct {
	hash   []byte // as in the file: bcrypt, or argon2id's PHC string
	argon2 *argon2idHash
	role   Role
}

// verify reports whether password is the account's.
func (a account) verify(password string) bool {
	if a.argon2 != nil {
		return a.argon2.verify(password)
	}
	return bcrypt.CompareHashAndPassword(a.hash, []byte(password)) == nil
}

// users is the users file, read again when it changes: adding a user,
// changing a role or removing one takes effect on the next request, also
// for sessions already open.
type users struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	ino     uint64 // a file replaced by rename (AddUser) is a new inode
	byName  map[string]account
	// decoys are one account of each kind of hash (algorithm and
	// parameters) the file has: every check computes one hash of each
	// kind, so that a wrong name, and a user of any kind, cost the same.
	decoys []account
	// verified remembers a password that matched, as a SHA-256 of it with
	// its hash, so that a script's Basic-authenticated calls do not each
	// cost a bcrypt or argon2id computation; emptied when the file changes.
	verified map[string][32]byte
}

// lookup returns name's account; false when the file has no such user or
// cannot be read (the console then lets nobody in).
func (u *users) lookup(name string) (account, bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := u.reload(); err != nil {
		return account{}, false, err
	}
	a, ok := u.byName[name]
	return a, ok, nil
}

func (u *users) reload() error {
	fi, err := os.Stat(u.path)
	if err != nil {
		u.byName = nil
		return fmt.Errorf("users file: %w", err)
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	if u.byName != nil && fi.ModTime().Equal(u.modTime) && fi.Size() == u.size && ino == u.ino {
		return nil
	}
	data, err := os.ReadFile(u.path)
	if err != nil {
		u.byName = nil
		return fmt.Errorf("users file: %w", err)
	}
	byName, err := parseUsers(data)
	if err != nil {
		u.byName = nil
		return fmt.Errorf("%s: %w", u.path, err)
	}
	u.byName, u.modTime, u.size, u.ino, u.verified = byName, fi.ModTime(), fi.Size(), ino, map[string][32]byte{}
	byKind := map[string]string{} // kind: the first name (sorted) with it
	for name, a := range byName {
		if first, ok := byKind[a.kind()]; !ok || name < first {
			byKind[a.kind()] = name
		}
	}
	u.decoys = nil // a new slice: a check in flight keeps the old one
	for _, name := range byKind {
		u.decoys = append(u.decoys, byName[name])
	}
	return nil
}

// kind is what a hash costs to check: bcrypt and its cost, or argon2id
// and its parameters.
func (a account) kind() string {
	if h := a.argon2; h != nil {
		return fmt.Sprintf("argon2id m=%d,t=%d,p=%d,%d", h.memory, h.time, h.threads, len(h.key))
	}
	cost, _ := bcrypt.Cost(a.hash) // checked at load
	return fmt.Sprintf("bcrypt %d", cost)
}

// parseUsers reads lines name:hash:role, the hash bcrypt or argon2id; blank lines and lines starting
// with # are skipped. A bad line is an error: a console that silently
// dropped a user would be confusing, one that guessed a role dangerous.
func parseUsers(data []byte) (map[string]account, error) {
	out := map[string]account{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok1 := strings.Cut(line, ":")
		i := strings.LastIndexByte(rest, ':')
		if !ok1 || i < 0 {
			return nil, fmt.Errorf("line %d: want name:hash:role", n)
		}
		hash, roleName := rest[:i], rest[i+1:]
		role, err := ParseRole(roleName)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		a := account{hash: []byte(hash), role: role}
		switch {
		case strings.HasPrefix(hash, "$argon2"):
			if a.argon2, err = parseArgon2id(hash); err != nil {
				return nil, fmt.Errorf("line %d: %s: argon2id hash: %w", n, name, err)
			}
		case !isBcrypt(hash):
			return nil, fmt.Errorf("line %d: %s: not a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$) hash", n, name)
		default:
			if _, err := bcrypt.Cost([]byte(hash)); err != nil {
				return nil, fmt.Errorf("line %d: %s: bcrypt hash: %w", n, name, err)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("line %d: %s is listed twice", n, name)
		}
		out[name] = a
	}
	return out, sc.Err()
}

func isBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// checkName accepts names that fit a users-file line and an audit line.
func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("a user name has 1 to 64 characters")
	}
	for _, r := range name {
		if r <= ' ' || r == ':' || r == 0x7f || r >= 0x80 {
			return fmt.Errorf("user name %q: printable ASCII without spaces or colons only", name)
		}
	}
	return nil
}

// dummyHash is compared against when the file has no user to be a decoy.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("outguard dummy password"), bcrypt.DefaultCost)

// hashing bounds the password hashes computed at once: a bcrypt takes a
// core for some 50 ms, an argon2id up to argonMaxMemory; a sign-in flood
// from many addresses (each within its rate limit) waits here instead of
// taking every core, or the memory of a hundred argon2id runs.
var hashing = make(chan struct{}, maxHashing)

const maxHashing = 2

// check verifies name's password and returns the user's role.
func (u *users) check(name, password string) (Role, bool, error) {
	a, ok, err := u.lookup(name)
	if err != nil {
		return 0, false, err
	}
	sum := sha256.Sum256(append(append([]byte(nil), a.hash...), password...))
	u.mu.Lock()
	known, cached := u.verified[name]
	decoys := u.decoys
	u.mu.Unlock()
	if ok && cached && subtle.ConstantTimeCompare(known[:], sum[:]) == 1 {
		return a.role, true, nil
	}
	// One hash of each kind the file has, the account's own for its kind
	// and a decoy's for the others: the time a check takes tells neither
	// whether the name exists nor what hash its user has.
	good := false
	hashing <- struct{}{}
	for _, d := range decoys {
		if ok && d.kind() == a.kind() {
			good = a.verify(password)
		} else {
			d.verify(password)
		}
	}
	if len(decoys) == 0 {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
	}
	<-hashing
	if !ok || !good {
		return 0, false, nil
	}
	u.mu.Lock()
	if u.verified != nil {
		u.verified[name] = sum
	}
	u.mu.Unlock()
	return a.role, true, nil
}

// MinPassword is the shortest password AddUser takes.
const MinPassword = 12

// AddUser sets name's password and role in the users file at path,
// creating it (mode 0640) or replacing name's line; the file is replaced
// atomically, so a console reading it sees the old or the new one.
func AddUser(path, name string, role Role, password string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if len(password) < MinPassword {
		return fmt.Errorf("the password must have at least %d characters", MinPassword)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	mode, uid, gid := os.FileMode(0o640), -1, -1
	if err == nil {
		if _, err := parseUsers(old); err != nil {
			return fmt.Errorf("%s: %w: fix it first", path, err)
		}
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				uid, gid = int(st.Uid), int(st.Gid) // e.g. root:outguard, for the console to read
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(old), "\n") {
		if n, _, _ := strings.Cut(strings.TrimSpace(line), ":"); n == name || line == "" {
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	fmt.Fprintf(&out, "%s:%s:%s\n", name, hash, role)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".web-users-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out.Bytes()); err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil && uid >= 0 {
		err = tmp.Chown(uid, gid)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
