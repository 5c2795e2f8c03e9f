package harness

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Postgres is a PostgreSQL server of the test's own: initdb into a
// temporary directory, the unix socket there too, started and stopped by
// PID as user postgres (the server refuses to run as root).
type Postgres struct {
	Dir  string
	Port int
	DSN  string // libpq key=value, for the superuser
	bin  string
	cred *syscall.Credential
	done <-chan struct{}
	cmd  *exec.Cmd
	t    T
	hold func() // releases the port reserved while it is stopped (Stop)
	// settings are the server's -c options: the tests' defaults (fsync
	// off: nothing here outlives the test), then StartPostgres's own.
	settings []string
}

// postgresBin finds Debian's server binaries (/usr/lib/postgresql/N/bin).
func postgresBin(t T) string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(dirs) == 0 {
		t.Fatalf("PostgreSQL is not installed: run .ci/run (or apt-get install postgresql); these tests never skip")
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	return filepath.Dir(dirs[0])
}

func version(p string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return v
}

// StartPostgres initialises and starts a server; it stops at cleanup.
// settings are more -c options, e.g. "fsync=on" for a benchmark that
// compares durable writes.
func StartPostgres(t T, settings ...string) *Postgres {
	t.Helper()
	Require(t)
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("no postgres user: %v (apt-get install postgresql)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	p := &Postgres{Dir: Dir(t, "pg"), bin: postgresBin(t), t: t,
		settings: append([]string{"fsync=off", "max_connections=200", "log_min_messages=warning"}, settings...),
		cred:     &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	data := filepath.Join(p.Dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatalf("%v", err)
	}
	for _, d := range []string{p.Dir, data} {
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatalf("%v", err)
		}
	}
	initdb := exec.Command(filepath.Join(p.bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	onFreePort(t, "postgres", func(port int) daemon {
		p.Port = port
		p.launch()
		return daemon{pid: func() int { return p.cmd.Process.Pid }, done: p.done, log: readLog(p.log())}
	})
	p.DSN = fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", p.Dir, p.Port)
	p.answers()
	return p
}

// Start starts the server again after Stop, on its port, and waits until
// it answers.
func (p *Postgres) Start() {
	p.t.Helper()
	p.launch()
	relisten(p.t, "postgres", p.Port, daemon{pid: func() int { return p.cmd.Process.Pid }, done: p.done, log: readLog(p.log()), within: 30 * time.Second}, p.hold)
	p.answers()
}

// launch starts the server process on p.Port.
func (p *Postgres) launch() {
	p.t.Helper()
	args := []string{"-D", filepath.Join(p.Dir, "data"), "-k", p.Dir, "-p", strconv.Itoa(p.Port), "-c", "listen_addresses=127.0.0.1"}
	for _, s := range p.settings {
		args = append(args, "-c", s)
	}
	p.cmd = exec.Command(filepath.Join(p.bin, "postgres"), args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	f, err := os.OpenFile(p.log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatalf("%v", err)
	}
	defer f.Close() // the server has its own copy
	p.cmd.Stderr = f
	p.done = Start(p.t, p.cmd)
}

// log is where the server writes its log (stderr).
func (p *Postgres) log() string { return filepath.Join(p.Dir, "postgres.log") }

// answers waits until the server takes a query: its port opens before
// recovery ends.
func (p *Postgres) answers() {
	p.t.Helper()
	for i := 0; ; i++ {
		out, err := exec.Command(filepath.Join(p.bin, "psql"), "-h", p.Dir, "-p", strconv.Itoa(p.Port), "-U", "postgres", "-Atc", "SELECT 1").CombinedOutput()
		if err == nil && string(out) == "1\n" {
			return
		}
		if i > 300 {
			p.t.Fatalf("postgres does not answer: %v %s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server by PID with a fast shutdown (SIGINT: connections
// are cut, as in a restart), and waits for it. Its port stays reserved
// until Start (reserve): no other test's daemon is given it meanwhile.
func (p *Postgres) Stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	<-p.done
	p.holdPort()
}

// Database creates database db owned by a new login role owner, and the
// login roles others, as docs/postgres.md sets them up; it returns the
// owner's DSN.
func (p *Postgres) Database(db, owner string, others ...string) string {
	p.t.Helper()
	for _, r := range append([]string{owner}, others...) {
		p.SQL("postgres", "CREATE ROLE "+r+" LOGIN")
	}
	p.SQL("postgres", "CREATE DATABASE "+db+" OWNER "+owner)
	return p.DSNFor(owner, db)
}

// DSNFor is the DSN for role on database db (roles made with SQL; the
// server trusts every local connection).
func (p *Postgres) DSNFor(role, db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", p.Dir, p.Port, role, db)
}

// SQL runs statements as the superuser with psql, on database db.
func (p *Postgres) SQL(db, statements string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, "psql"), "-h", p.Dir, "-p", strconv.Itoa(p.Port), "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qc", statements)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("psql: %v\n%s", err, out)
	}
}

// Pause stops the server and every backend (SIGSTOP to the postmaster and
// its children): connections stay open and nothing answers, as with a
// server that hangs or a network that drops packets. Resume undoes it; a
// paused server is resumed at cleanup.
func (p *Postgres) Pause() {
	p.t.Helper()
	p.signalAll(syscall.SIGSTOP)
	p.t.Cleanup(p.Resume)
}

// Kill ends the server and every backend at once with SIGKILL, as a
// crash of PostgreSQL's processes would (nothing flushed, shared memory
// and its WAL buffers lost), and waits for the postmaster; Start recovers
// it.
//
// It also waits for the backends to be gone: one still exiting holds the
// old shared memory, and a postmaster started meanwhile refuses to run
// ("pre-existing shared memory block is still in use"), so Start then
// waited for a port that never opened. Its port stays reserved until
// Start (holdPort).
func (p *Postgres) Kill() {
	kids := p.signalAll(syscall.SIGKILL)
	<-p.done
	p.holdPort() // the postmaster's listener is gone; backends have none
	deadline := time.Now().Add(30 * time.Second)
	for _, k := range kids {
		for alive(k) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// holdPort reserves the stopped server's port until Start (reserve): no
// other test's daemon is given it meanwhile, and Start's server binds it.
func (p *Postgres) holdPort() {
	p.t.Helper()
	_, p.hold = reserve(p.t, p.Port)
	p.t.Cleanup(p.hold)
}

// alive reports whether process pid exists and is not a zombie (a
// zombie has released its memory).
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// Resume lets a paused server go on (SIGCONT).
func (p *Postgres) Resume() { p.signalAll(syscall.SIGCONT) }

// signalAll signals the postmaster and its children, found first (a
// child of a postmaster that has died is some other process's), and
// returns the children.
func (p *Postgres) signalAll(sig syscall.Signal) []int {
	pid := p.cmd.Process.Pid
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so after its ')'.
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(pid) {
				kids = append(kids, child)
			}
		}
	}
	syscall.Kill(pid, sig)
	for _, k := range kids {
		syscall.Kill(k, sig)
	}
	return kids
}
