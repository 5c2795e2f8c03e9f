// Command compare measures outguard against its peers on the same Postfix
// and the same clamd, in one run, interleaved A B C D A B C D …:
//
//	A  Postfix without a milter
//	B  Postfix + milterd without checks (a pass-through milter)
//	C  Postfix + Debian's clamav-milter (OnInfected Reject), inet and unix
//	D  Postfix + milterd with clamd, the shipped YARA rules, limits
//	   (real limits, counted for the one sending account: not unlimited)
//	   quarantine, campaigns across accounts and complaint references,
//	   inet and unix; with -baseline DIR also DIR's milterd
//	   (an earlier build) over unix, to measure a change in the same run
//	D spam: D over unix with `spam:` on against rspamd (Debian's, its
//	   stock rules), rspamd's CPU shown separately like clamd's
//
// Postfix's own CPU per message is shown per variant too (its master's
// process group: smtpd, cleanup, qmgr, smtp, …, and the processes the
// master has reaped): what a milter costs the MTA besides itself.
//
// Each variant with a clamd has a clamd of its own (same config, same
// signatures), so that clamd's CPU per message is measured per variant.
// Every message comes from the same account, batch after batch, so a cost
// that grows with an account's volume shows. It prints a Markdown table:
// messages/s (median of the rounds), CPU ms per message of the whole
// machine, the milter process's own CPU ms per message in each batch, its
// clamd's and rspamd's (median), the ratios D/C and D/A (each at its best transport)
// and peak RSS. Run with
// `make bench` as root.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"outguard/internal/harness"
)

type variant struct {
	name   string
	pf     *harness.Postfix
	pid    int // the milter's process, for RSS; 0 for none
	clamd  int // its clamd's process; 0 for none
	rspamd int // its rspamd's process group (main and workers); 0 for none
}

// mta is the process group of v's Postfix: its master's PID.
func (v *variant) mta() int {
	b, _ := os.ReadFile(filepath.Join(v.pf.Dir, "queue/pid/master.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

type workload struct {
	name     string
	messages int
	sessions int
	size     int // attachment bytes before base64
}

func main() {
	rounds := flag.Int("rounds", 3, "rounds of every variant")
	small := flag.Int("small", 2000, "messages of the 10 KiB workload")
	big := flag.Int("big", 100, "messages of the 2 MiB workload")
	bin := flag.String("bin", "bin", "directory with milterd")
	baseline := flag.String("baseline", "", "directory with an earlier milterd, run as a further D variant")
	spam := flag.Bool("spam", true, "run the D spam variant (milterd with rspamd)")
	memory := flag.Bool("memory", true, "measure milterd's peak RSS with 50 concurrent 25 MiB messages at the end")
	flag.Parse()
	p := &harness.Program{Name: "bench"}
	defer p.Close()
	harness.Require(p, "postfix", "clamd", "clamav-milter", filepath.Join(*bin, "milterd"))

	sink := harness.StartSink(p)
	dir := harness.Dir(p, "cmp")
	_, file, _, _ := runtime.Caller(0)
	rulesDir := filepath.Join(filepath.Dir(file), "../../rules")

	milterd := func(bin, name, listen, sections string) int {
		cfg := filepath.Join(dir, name+".yaml")
		state := filepath.Join(dir, name)
		os.MkdirAll(state, 0o700)
		os.WriteFile(cfg, []byte(fmt.Sprintf("listen: %s\nsocket_mode: \"0666\"\nstate_dir: %s\nheader: {enabled: false}\n%s", listen, state, sections)), 0o644)
		// The default log level, as deployed: a verdict line per message,
		// here into a file as into the journal.
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			p.Fatalf("%v", err)
		}
		return harness.StartMilterd(p, filepath.Join(bin, "milterd"), cfg, listen, logf).Process.Pid
	}
	// Limits a bulk sender's override would give: checked and counted on
	// every message, high enough that the benchmark's volume passes.
	// max_connections above the 50 concurrent sessions of the memory run:
	// past connect_timeout a session waiting for a clamd connection is
	// tempfailed, by design.
	// With campaign: and complaints: as a deployment would run them (the
	// example config's defaults): every accepted message fingerprinted and
	// counted in the limits store, and stamped with a sealed reference.
	// One account sends everything, so no campaign is ever reached.
	refKey := filepath.Join(dir, "ref.key")
	secret := make([]byte, 32)
	rand.Read(secret)
	if err := os.WriteFile(refKey, secret, 0o600); err != nil {
		p.Fatalf("%v", err)
	}
	full := func(clamdSock string) string {
		return fmt.Sprintf("clamd: {addresses: [\"unix:%s\"], max_stream: 40MiB, max_connections: 64}\nrules: {dir: %s, watch: false}\nquarantine: {}\nlimits:\n  users: {%s: {messages_per_hour: 100000, messages_per_day: 1000000, recipients_per_hour: 100000, recipients_per_day: 1000000}}\ncampaign: {shared_domains: [isp.test]}\ncomplaints: {keys: [%s]}\n", clamdSock, rulesDir, harness.User, refKey)
	}
	port := func() string { return strconv.Itoa(harness.FreePort(p)) }
	variants := []*variant{{name: "A postfix"}}
	add := func(name, milter string, pid, clamd int) {
		variants = append(variants, &variant{name: name, pid: pid, clamd: clamd, pf: postfix(p, sink, milter)})
	}
	variants[0].pf = postfix(p, sink, "")
	bSock := filepath.Join(dir, "b.sock")
	add("B pass-through", "unix:"+bSock, milterd(*bin, "b", "unix:"+bSock, ""), 0)
	cInet := "inet:127.0.0.1:" + port()
	cd := harness.StartClamd(p, "40M")
	add("C clamav-milter inet", cInet, clamavMilter(p, dir, "ci", cInet, cd.Socket), cd.PID())
	cSock := filepath.Join(dir, "c.sock")
	cd = harness.StartClamd(p, "40M")
	add("C clamav-milter unix", "unix:"+cSock, clamavMilter(p, dir, "cu", "unix:"+cSock, cd.Socket), cd.PID())
	dInet := "inet:127.0.0.1:" + port()
	cd = harness.StartClamd(p, "40M")
	add("D milterd inet", dInet, milterd(*bin, "di", dInet, full(cd.Socket)), cd.PID())
	dSock := filepath.Join(dir, "d.sock")
	cd = harness.StartClamd(p, "40M")
	add("D milterd unix", "unix:"+dSock, milterd(*bin, "du", "unix:"+dSock, full(cd.Socket)), cd.PID())
	dUnix := variants[len(variants)-1]
	if *baseline != "" {
		oSock := filepath.Join(dir, "o.sock")
		cd = harness.StartClamd(p, "40M")
		add("D baseline unix", "unix:"+oSock, milterd(*baseline, "do", "unix:"+oSock, full(cd.Socket)), cd.PID())
	}
	if *spam {
		// Stock rules and thresholds: the bench's clean messages get "no
		// action" or "add header", both accepted; every message is
		// classified, so the spam counter path runs too.
		rs := harness.StartRspamd(p, nil)
		sSock := filepath.Join(dir, "s.sock")
		cd = harness.StartClamd(p, "40M")
		add("D spam unix", "unix:"+sSock, milterd(*bin, "ds", "unix:"+sSock, full(cd.Socket)+fmt.Sprintf("spam: {url: %q}\n", rs.URL)), cd.PID())
		variants[len(variants)-1].rspamd = rs.PID()
	}

	workloads := []workload{{"10 KiB", *small, 10, 7 << 10}, {"2 MiB attachment", *big, 10, 1536 << 10}}
	type key struct{ w, v string }
	rates := map[key][]float64{}
	cpu := map[key][]float64{}
	own := map[key][]float64{}     // the milter's own CPU ms/msg, batch by batch
	scan := map[key][]float64{}    // its clamd's CPU ms/msg
	spamCPU := map[key][]float64{} // its rspamd's CPU ms/msg
	mtaCPU := map[key][]float64{}  // its Postfix's CPU ms/msg
	for _, w := range workloads {
		for r := 0; r < *rounds; r++ {
			for _, v := range variants {
				before, clamdBefore, rspamdBefore, mtaBefore := harness.ProcessCPU(v.pid), harness.ProcessCPU(v.clamd), groupCPU(v.rspamd), groupCPU(v.mta())
				rate, cpums := run(p, v.pf, w)
				k := key{w.name, v.name}
				rates[k] = append(rates[k], rate)
				cpu[k] = append(cpu[k], cpums)
				own[k] = append(own[k], (harness.ProcessCPU(v.pid)-before)/float64(w.messages))
				scan[k] = append(scan[k], (harness.ProcessCPU(v.clamd)-clamdBefore)/float64(w.messages))
				spamCPU[k] = append(spamCPU[k], (groupCPU(v.rspamd)-rspamdBefore)/float64(w.messages))
				mtaCPU[k] = append(mtaCPU[k], (groupCPU(v.mta())-mtaBefore)/float64(w.messages))
				fmt.Fprintf(os.Stderr, "%-16s round %d %-22s %7.1f msg/s %6.1f CPU ms/msg, milter %5.2f ms/msg, clamd %5.2f ms/msg, rspamd %5.2f ms/msg, postfix %5.2f ms/msg\n", w.name, r+1, v.name, rate, cpums, own[k][r], scan[k][r], spamCPU[k][r], mtaCPU[k][r])
			}
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "| workload | variant | msg/s (median of %d) | CPU ms/msg | milter CPU ms/msg, batch by batch | clamd CPU ms/msg | rspamd CPU ms/msg | postfix CPU ms/msg | peak RSS MiB |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", *rounds)
	for _, w := range workloads {
		for _, v := range variants {
			k := key{w.name, v.name}
			rss, batches, clamd, rspamd := "-", "-", "-", "-"
			if v.clamd != 0 {
				clamd = fmt.Sprintf("%.2f", median(scan[k]))
			}
			if v.rspamd != 0 {
				rspamd = fmt.Sprintf("%.2f", median(spamCPU[k]))
			}
			if v.pid != 0 {
				rss = fmt.Sprintf("%.0f", harness.PeakRSS(v.pid))
				var b []string
				for _, ms := range own[k] {
					b = append(b, fmt.Sprintf("%.2f", ms))
				}
				batches = strings.Join(b, " / ")
			}
			fmt.Fprintf(&out, "| %s | %s | %.1f | %.1f | %s | %s | %s | %.2f | %s |\n", w.name, v.name, median(rates[k]), median(cpu[k]), batches, clamd, rspamd, median(mtaCPU[k]), rss)
		}
	}
	best := func(w, prefix string) float64 {
		m := 0.0
		for _, v := range variants {
			// D at its best is D as in every earlier run: neither an
			// earlier build nor the variant that also asks rspamd.
			if strings.HasPrefix(v.name, prefix) && !strings.Contains(v.name, "baseline") && !strings.Contains(v.name, "spam") {
				m = max(m, median(rates[key{w, v.name}]))
			}
		}
		return m
	}
	fmt.Fprintln(&out)
	for _, w := range workloads {
		fmt.Fprintf(&out, "- %s: D/C = %.2f, D/A = %.2f (each at its best transport)\n", w.name, best(w.name, "D")/best(w.name, "C"), best(w.name, "D")/best(w.name, "A"))
	}
	fmt.Print(out.String()) // before the memory run, which may fail
	out.Reset()
	if !*memory {
		return
	}
	// milterd's memory with 50 concurrent 25 MiB messages.
	if failed := send(p, dUnix.pf, workload{"25 MiB", 50, 50, 18 << 20}); len(failed) > 0 {
		// Say which check failed: its log goes with the run's directory.
		log, _ := os.ReadFile(filepath.Join(dir, "du.log"))
		for _, line := range strings.Split(string(log), "\n") {
			if strings.Contains(line, "check failed") {
				fmt.Fprintln(os.Stderr, line)
			}
		}
		// The peak is still that of 50 messages received and walked at
		// once (a check's failure ends a message at its verdict), but it
		// is not the figure of a clean run: said so, and the run fails.
		fmt.Printf("- milterd (D unix) peak RSS after 50 concurrent 25 MiB messages, %d of them refused: %.0f MiB\n", len(failed), harness.PeakRSS(dUnix.pid))
		p.Fatalf("memory run: %d of 50 messages refused, e.g. %s", len(failed), failed[0])
	}
	fmt.Fprintf(&out, "- milterd (D unix) peak RSS after 50 concurrent 25 MiB messages: %.0f MiB\n", harness.PeakRSS(dUnix.pid))
	fmt.Print(out.String())
}

// postfix starts a Postfix relaying to the sink with milter (or none).
func postfix(p *harness.Program, sink *harness.Sink, milter string) *harness.Postfix {
	return harness.StartPostfix(p, harness.MTAConfig{
		Milter:    milter,
		RelayPort: sink.Port,
		Users:     map[string]string{harness.User: harness.Pass},
		Main:      map[string]string{"milter_content_timeout": "600s", "smtpd_client_connection_count_limit": "0", "default_destination_concurrency_limit": "50"},
	})
}

// clamavMilter starts Debian's clamav-milter in the foreground, rejecting
// infected mail, on listen; it returns the PID.
func clamavMilter(p *harness.Program, dir, name, listen, clamdSock string) int {
	sock := strings.TrimPrefix(strings.TrimPrefix(listen, "unix:"), "inet:")
	if strings.HasPrefix(listen, "inet:") {
		sock = "inet:" + strings.Split(sock, ":")[1] + "@127.0.0.1"
	}
	cfg := filepath.Join(dir, name+"-clamav-milter.conf")
	os.WriteFile(cfg, []byte(fmt.Sprintf("MilterSocket %s\nMilterSocketMode 666\nFixStaleSocket yes\nUser root\nForeground yes\nClamdSocket unix:%s\nOnClean Accept\nOnInfected Reject\nOnFail Defer\nAddHeader No\nMaxFileSize 40M\nLogFile %s/%s.log\nTemporaryDirectory %s\n", sock, clamdSock, dir, name, dir)), 0o644)
	cmd := exec.Command("clamav-milter", "--config-file="+cfg)
	done := harness.Start(p, cmd)
	time.Sleep(500 * time.Millisecond)
	select {
	case <-done:
		log, _ := os.ReadFile(filepath.Join(dir, name+".log"))
		p.Fatalf("clamav-milter exited:\n%s", log)
	default:
	}
	return cmd.Process.Pid
}

// run sends w and returns messages/s and the machine's CPU ms per
// message; a refused message ends the benchmark.
func run(p *harness.Program, pf *harness.Postfix, w workload) (float64, float64) {
	cpu0 := busyJiffies()
	start := time.Now()
	failed := send(p, pf, w)
	elapsed := time.Since(start)
	if len(failed) > 0 {
		p.Fatalf("%d of %d messages refused, e.g. %s", len(failed), w.messages, failed[0])
	}
	jiffies := busyJiffies() - cpu0
	return float64(w.messages) / elapsed.Seconds(), float64(jiffies) * 10 / float64(w.messages) // USER_HZ = 100
}

// send sends w.messages fresh messages over w.sessions parallel
// authenticated SMTP sessions; it returns the replies of those refused.
func send(p *harness.Program, pf *harness.Postfix, w workload) []string {
	msgs := make(chan []byte, w.sessions)
	go func() {
		for i := 0; i < w.messages; i++ {
			msgs <- message(i, w.size)
		}
		close(msgs)
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for s := 0; s < w.sessions; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := harness.Dial(p, pf.Addr(), harness.User, harness.Pass)
			defer c.Quit()
			for m := range msgs {
				if r := c.SendFrom("alice@customer.test", []string{"bob@remote.test"}, bytes.NewReader(m)); r.Err != nil {
					mu.Lock()
					failed = append(failed, harness.Reply(r.Err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

// message is a fresh message: text and a random attachment (clamd caches
// the results of payloads it has seen).
func message(i, size int) []byte {
	att := make([]byte, size)
	rand.Read(att)
	att[0] = 0xa5 // no format's magic number: gzip's (1 in 65 536) is held unopened
	enc := base64.StdEncoding.EncodeToString(att)
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <alice@customer.test>\r\nTo: <bob@remote.test>\r\nSubject: bench %d\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=bb\r\n\r\n--bb\r\nContent-Type: text/plain\r\n\r\nHello, the figures are attached.\r\n--bb\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=figures.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n", i)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--bb--\r\n")
	return b.Bytes()
}

// groupCPU is the CPU time in ms of every process in process group pgid
// (rspamd's main process and its workers, Postfix's master and its
// services; 0 for none), with the children the group's leader has
// reaped (a Postfix service ends after max_use requests; its time goes
// to the master's cutime). A process that ended between two readings and
// was not reaped by the leader takes its time with it.
func groupCPU(pgid int) float64 {
	if pgid == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	total := 0.0
	for _, stat := range procs {
		data, _ := os.ReadFile(stat)
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+2:]) // state, ppid, pgrp, …, utime (11), stime, cutime, cstime
		if len(f) < 15 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		n := 2 // utime, stime
		if filepath.Base(filepath.Dir(stat)) == f[2] {
			n = 4 // the leader: its reaped children too
		}
		for _, v := range f[11 : 11+n] {
			t, _ := strconv.ParseFloat(v, 64)
			total += t * 10 // USER_HZ = 100
		}
	}
	return total
}

// busyJiffies is the machine's non-idle CPU time from /proc/stat.
func busyJiffies() int64 {
	data, _ := os.ReadFile("/proc/stat")
	f := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
