package complaint

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outguard/limits"
	"outguard/policy"
)

func testKeys(t testing.TB, seeds ...byte) Keys {
	var ks Keys
	for _, s := range seeds {
		k, err := NewKey(bytes.Repeat([]byte{s}, KeySize))
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	return ks
}

// ourMTA trusts what an inbound MTA of authserv-id mx.isp.test says of
// fbl.test's signature; trustedAR is its Authentication-Results field:
// above a report, it makes the report a feedback loop's (auth_test.go
// tries the forgeries).
var (
	ourMTA    = FeedbackLoops{Domains: []string{"fbl.test"}, AuthServID: "mx.isp.test"}
	trustedAR = []byte("Authentication-Results: mx.isp.test; dkim=pass header.d=fbl.test\r\n")
)

var aliceRef = Ref{Host: "smarthost1", QueueID: "4ZxQ1abcdEF", Account: "alice@customer.test", Time: time.Unix(1_800_000_000, 0)}

// A reference opens to what was sealed; it does not show the account;
// altering any byte, a truncation, a key outguard does not have, or
// another tag makes it unattributable; after a new first key, old
// references still open and new ones are sealed with the new key.
func TestRefSealOpen(t *testing.T) {
	old := testKeys(t, 1)
	ref, err := old.Seal(aliceRef)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ref, "alice") || strings.Contains(ref, "smarthost1") || strings.Contains(ref, "4ZxQ1") {
		t.Fatalf("readable: %s", ref)
	}
	got, err := old.Open(ref)
	if err != nil || got.Account != aliceRef.Account || got.Host != aliceRef.Host || got.QueueID != aliceRef.QueueID || !got.Time.Equal(aliceRef.Time) {
		t.Fatalf("open: %+v %v", got, err)
	}
	// Folded by a mail client: still the same reference.
	if got, err := old.Open(ref[:20] + "\r\n " + ref[20:]); err != nil || got.Account != aliceRef.Account {
		t.Fatalf("folded: %v", err)
	}
	for i := range len(ref) {
		b := []byte(ref)
		b[i] ^= 0x01
		if r, err := old.Open(string(b)); err == nil {
			t.Fatalf("byte %d altered, still opens: %+v", i, r)
		}
	}
	for _, c := range []struct {
		ref  string
		want error
	}{
		{ref[:len(ref)-1], ErrForged},
		{ref[:len("og1.")+9] + "AAAA", ErrForged},
		{"og2" + ref[3:], ErrMalformed},
		{"og1.00000000.AAAA", ErrUnknownKey},
		{"", ErrMalformed},
		{ref + "." + ref, ErrMalformed},
		{"og1." + strings.Repeat("A", MaxRefLen), ErrMalformed},
	} {
		if _, err := old.Open(c.ref); !errors.Is(err, c.want) {
			t.Errorf("Open(%.40q): %v, want %v", c.ref, err, c.want)
		}
	}
	if _, err := testKeys(t, 2).Open(ref); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("another key: %v", err)
	}
	rotated := testKeys(t, 2, 1)
	if got, err := rotated.Open(ref); err != nil || got.KeyID != old[0].ID {
		t.Fatalf("old reference after rotation: %+v %v", got, err)
	}
	fresh, _ := rotated.Seal(aliceRef)
	if !strings.HasPrefix(fresh, "og1."+rotated[0].ID+".") {
		t.Fatalf("sealed with the old key: %s", fresh)
	}
	if _, err := old.Open(fresh); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("the new key's reference with the old keys only: %v", err)
	}
	// Two seals of one message differ (random nonce): a recipient of two
	// copies cannot tell they name the same account.
	if again, _ := old.Seal(aliceRef); again == ref {
		t.Error("two references alike")
	}
	// The bound: a name over maxField is refused, one at it fits a header line.
	long := aliceRef
	long.Account = strings.Repeat("a", maxField+1)
	if _, err := old.Seal(long); err == nil {
		t.Error("a name over the bound sealed")
	}
	long.Account, long.Host, long.QueueID = strings.Repeat("a", maxField), strings.Repeat("h", maxField), strings.Repeat("q", maxField)
	if r, err := old.Seal(long); err != nil || len("X-Outguard-Ref: "+r) > 998 {
		t.Errorf("longest reference: %d bytes, %v", len(r), err)
	}
}

// Key files: exactly 32 bytes, readable by nobody but the owner (and the
// group); anything else is an error naming the file.
func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, bytes.Repeat([]byte{byte(n)}, n), mode)
		os.Chmod(p, mode)
		return p
	}
	good, group := write("good", 32, 0o600), write("group", 32, 0o640)
	if ks, err := LoadKeys([]string{good}); err != nil || len(ks) != 1 {
		t.Fatalf("good key: %v", err)
	}
	if _, err := LoadKeys([]string{good, group}); err == nil || !strings.Contains(err.Error(), "the same key") {
		t.Errorf("the same key twice: %v", err)
	}
	for _, c := range []struct {
		path, want string
	}{
		{write("short", 31, 0o600), "31 bytes"},
		{write("long", 33, 0o600), "33 bytes"},
		{write("newline", 32, 0o600) + "x", "no such file"},
		{write("world", 32, 0o604), "mode -rw----r--"},
		{write("gw", 32, 0o620), "mode -rw--w----"},
		{dir, "mode"},
	} {
		if _, err := LoadKeys([]string{good, c.path}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.path, err, c.want)
		}
	}
	if _, err := LoadKeys(nil); err == nil {
		t.Error("no keys accepted")
	}
}

// report reads a corpus report with ref in it; "arf-base64.eml" is
// arf-full.eml with its message/rfc822 part base64-encoded (RFC 2046
// 5.2.1 forbids it; some feedback loops send it).
func report(t testing.TB, name, ref string) []byte {
	if name == "arf-base64.eml" {
		full := string(report(t, "arf-full.eml", ref))
		head, orig, _ := strings.Cut(full, "Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n")
		orig, tail, _ := strings.Cut(orig, "\r\n--part1_13d.2e68ed54_boundary--")
		return []byte(head + "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte(orig)) + "\r\n--part1_13d.2e68ed54_boundary--" + tail)
	}
	b, err := os.ReadFile(filepath.Join("testdata/reports", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if len(ref) > 30 {
		s = strings.ReplaceAll(s, "FOLDED-REF", ref[:30]+"\r\n>  "+ref[30:])
	}
	return []byte(strings.ReplaceAll(s, "REF", ref))
}

// Each real-world shape is read: its kind, the feedback fields, and the
// reference, which opens to the account. Python's email package, a
// parser nobody here wrote, finds the same reference in the original.
func TestParseShapes(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	for _, c := range []struct {
		name, kind, feedback, rcpt string
		problems                   bool
	}{
		{"arf-full.eml", "arf", "abuse", "<victim@receiver.test>", false},
		{"arf-headers.eml", "arf", "abuse", "victim@receiver.test", false},
		{"jmrp.eml", "jmrp", "", "<victim@outlook.test>", false},
		{"forward-attached.eml", "forwarded", "", "", false},
		{"forward-inline.eml", "forwarded", "", "", false},
		{"arf-truncated.eml", "arf", "abuse", "<victim@receiver.test>", true},
		// Read here, not by Python's email.
		{"arf-base64.eml", "arf", "abuse", "<victim@receiver.test>", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := report(t, c.name, ref)
			rep := Parse(raw, "X-Outguard-Ref")
			if rep.Kind != c.kind || rep.FeedbackType != c.feedback || rep.OriginalRcpt != c.rcpt || (len(rep.Problems) > 0) != c.problems {
				t.Errorf("%+v", rep)
			}
			if len(rep.Refs) != 1 || rep.Refs[0] != ref {
				t.Fatalf("refs %q, want %q", rep.Refs, ref)
			}
			in := &Ingester{Keys: ks, Header: "X-Outguard-Ref"}
			if cpl := in.Attribute(raw); cpl.Account != aliceRef.Account || cpl.ID != "msg:smarthost1:4ZxQ1abcdEF" || cpl.Kind != c.kind {
				t.Errorf("attributed %+v", cpl)
			}
			if c.name == "forward-inline.eml" || c.name == "arf-base64.eml" || c.problems {
				return // Python's email finds no header in a text body, a base64 message/rfc822, or a cut-off part
			}
			if py := pythonRef(t, raw); py != ref {
				t.Errorf("Python's email finds %q", py)
			}
		})
	}
}

// pythonRef is the X-Outguard-Ref of the original in a report, as
// Python's email package reads it.
func pythonRef(t *testing.T, raw []byte) string {
	cmd := exec.Command("python3", "-c", `
import sys, email, email.policy, email.parser
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.compat32)
for p in m.walk():
    ct = p.get_content_type()
    if ct == "message/rfc822":
        v = p.get_payload()[0].get("X-Outguard-Ref")
    elif ct == "text/rfc822-headers":
        v = email.parser.HeaderParser().parsestr(p.get_payload()).get("X-Outguard-Ref")
    else:
        continue
    print("".join(str(v).split())); break
`)
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// Every bound of the parser is hit: a report over MaxReportSize is cut
// (the reference before the cut still counts), nesting past maxDepth and
// parts past maxParts are not read, reference candidates stop at maxRefs.
func TestParseBounds(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	huge := append(report(t, "arf-full.eml", ref), bytes.Repeat([]byte("x"), MaxReportSize)...)
	rep := Parse(huge, "X-Outguard-Ref")
	if len(rep.Refs) != 1 || !strings.Contains(strings.Join(rep.Problems, ";"), "report cut at 10485760 bytes") {
		t.Errorf("huge: %+v", rep)
	}
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref", FBL: ourMTA, Record: recorder{}}
	if res, err := in.Ingest(context.Background(), bytes.NewReader(append(trustedAR, huge...))); err != nil || res.Complaint.Account != aliceRef.Account {
		t.Errorf("huge ingested: %s %q %v", res.Complaint.Account, res.Complaint.Problem, err)
	}

	nest := func(depth int) []byte {
		var b strings.Builder
		b.WriteString("From: x@y\r\n")
		for i := range depth {
			b.WriteString("Content-Type: multipart/mixed; boundary=b" + itoa(i) + "\r\n\r\n--b" + itoa(i) + "\r\n")
		}
		b.WriteString("Content-Type: text/rfc822-headers\r\n\r\nX-Outguard-Ref: " + ref + "\r\n\r\n")
		return []byte(b.String())
	}
	if rep := Parse(nest(maxDepth), "X-Outguard-Ref"); len(rep.Refs) != 1 {
		t.Errorf("at the depth bound: %+v", rep)
	}
	if rep := Parse(nest(maxDepth+1), "X-Outguard-Ref"); len(rep.Refs) != 0 || !strings.Contains(strings.Join(rep.Problems, ";"), "nesting deeper than 8") {
		t.Errorf("past the depth bound: %+v", rep)
	}

	parts := func(n int) []byte {
		var b strings.Builder
		b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
		for range n {
			b.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n")
		}
		b.WriteString("--b\r\nContent-Type: text/rfc822-headers\r\n\r\nX-Outguard-Ref: " + ref + "\r\n\r\n--b--\r\n")
		return []byte(b.String())
	}
	if rep := Parse(parts(maxParts-1), "X-Outguard-Ref"); len(rep.Refs) != 1 {
		t.Errorf("at the parts bound: %+v", rep)
	}
	if rep := Parse(parts(maxParts), "X-Outguard-Ref"); len(rep.Refs) != 0 || !strings.Contains(strings.Join(rep.Problems, ";"), "more than 100 parts") {
		t.Errorf("past the parts bound: %+v", rep)
	}

	var many strings.Builder
	many.WriteString("Subject: x\r\n\r\n")
	for i := range maxRefs + 5 {
		many.WriteString("X-Outguard-Ref: og1.00000000.A" + itoa(i) + "\r\n")
	}
	if rep := Parse([]byte(many.String()), "X-Outguard-Ref"); len(rep.Refs) != maxRefs {
		t.Errorf("candidates: %d, want %d", len(rep.Refs), maxRefs)
	}
	// Problems are kept up to 10.
	var bad strings.Builder
	bad.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 12 {
		bad.WriteString("--b\r\nContent-Type: text/rfc822-headers\r\n\r\nno colon here\r\n\r\n")
	}
	bad.WriteString("--b--\r\n")
	if rep := Parse([]byte(bad.String()), "X-Outguard-Ref"); len(rep.Problems) != 10 {
		t.Errorf("problems: %d, want 10: %q", len(rep.Problems), rep.Problems)
	}
	// A text body past maxText: the reference after it is not read.
	long := "Subject: x\r\n\r\n" + strings.Repeat("y\n", maxText/2) + "X-Outguard-Ref: " + ref + "\n"
	if rep := Parse([]byte(long), "X-Outguard-Ref"); len(rep.Refs) != 0 {
		t.Errorf("past maxText: %+v", rep.Refs)
	}
}

func itoa(i int) string { return string(rune('a'+i/26)) + string(rune('a'+i%26)) }

// An unattributable report is kept with why, and its start; a reference
// from a report about another message still names the message it was
// sealed for (the first verifying candidate wins).
func TestAttributeUnattributable(t *testing.T) {
	ks := testKeys(t, 1)
	ref, _ := ks.Seal(aliceRef)
	in := &Ingester{Keys: ks, Header: "X-Outguard-Ref"}
	raw := report(t, "arf-full.eml", "og1.00000000.AAAA")
	c := in.Attribute(raw)
	if c.Account != "" || !strings.HasPrefix(c.ID, "raw:") || c.Problem != "reference sealed with a key not configured" || c.Report != string(raw) {
		t.Errorf("%+v", c)
	}
	if c2 := in.Attribute(raw); c2.ID != c.ID {
		t.Error("the same report, two identities")
	}
	big := append(bytes.Repeat([]byte("z"), keptReport*2), raw...)
	if c := in.Attribute(big); len(c.Report) != keptReport || !strings.HasPrefix(c.Problem, "reference sealed with a key not configured") {
		t.Errorf("kept %d bytes, %q", len(c.Report), c.Problem)
	}
	// The report's own header is not read: a report relayed through a
	// smarthost running milterd carries the relaying account's reference.
	own := "X-Outguard-Ref: " + ref + "\r\nSubject: spam report\r\nContent-Type: text/plain\r\n\r\nI got spam.\r\n"
	if c := in.Attribute([]byte(own)); c.Account != "" || c.Problem != "no reference found" {
		t.Errorf("the report's own reference: %+v", c)
	}
	// A forged candidate after a good one: the good one attributes.
	two := strings.Replace(string(report(t, "arf-full.eml", ref)), "X-Outguard: clean", "X-Outguard-Ref: og1.00000000.AAAA\r\nX-Outguard: clean", 1)
	if c := in.Attribute([]byte(two)); c.Account != aliceRef.Account {
		t.Errorf("good then forged: %+v", c)
	}
	// bob's valid reference, copied by alice into her own message's
	// header above the one milterd appended: alice's (the last) counts.
	bob := aliceRef
	bob.Account = "bob"
	bobRef, _ := ks.Seal(bob)
	framed := strings.Replace(string(report(t, "arf-full.eml", ref)), "Subject: Cheap pills", "X-Outguard-Ref: "+bobRef+"\r\nSubject: Cheap pills", 1)
	if c := in.Attribute([]byte(framed)); c.Account != aliceRef.Account {
		t.Errorf("a copied reference above milterd's: %+v", c)
	}
}

type recorder struct{}

func (recorder) Complaint(context.Context, limits.Complaint) (bool, *limits.Suspension, error) {
	return true, nil, nil
}

// The stamper removes what a customer's message came with and adds the
// reference (and RFC 9477's fields when configured), naming the account
// the limits engine keys; a message without a queue id or an account is
// not stamped.
func TestStamper(t *testing.T) {
	ks := testKeys(t, 1)
	s := NewStamper(Options{Header: "X-Outguard-Ref", Keys: ks, Host: "h1", CFBLAddress: "fbl@isp.test",
		Account: func(t *policy.Transaction) (string, bool) { return t.User, t.User != "" }})
	tx := &policy.Transaction{User: "alice", QueueID: "Q1"}
	if v, err := s.Commit(context.Background(), tx); err != nil || v.Action != policy.Accept {
		t.Fatal(v, err)
	}
	if got := strings.Join(tx.Removals(), ","); got != "X-Outguard-Ref,CFBL-Address,CFBL-Feedback-ID" {
		t.Errorf("removals %s", got)
	}
	add := tx.Additions()
	if len(add) != 3 || add[0].Name != "X-Outguard-Ref" || add[1].Value != "fbl@isp.test; report=arf" || add[2].Value != add[0].Value {
		t.Fatalf("additions %+v", add)
	}
	if r, err := ks.Open(add[0].Value); err != nil || r.Account != "alice" || r.QueueID != "Q1" || r.Host != "h1" {
		t.Errorf("%+v %v", r, err)
	}
	for _, tx := range []*policy.Transaction{{User: "alice"}, {QueueID: "Q2"}} {
		s.Commit(context.Background(), tx)
		if len(tx.Additions()) != 0 || len(tx.Removals()) == 0 {
			t.Errorf("%+v stamped", tx)
		}
	}
	// Without cfbl_address a customer's own RFC 9477 fields (their own
	// feedback loop) are left alone.
	plain := NewStamper(Options{Header: "X-Outguard-Ref", Keys: ks, Host: "h1", Account: func(t *policy.Transaction) (string, bool) { return t.User, true }})
	tx = &policy.Transaction{User: "alice", QueueID: "Q4"}
	plain.Commit(context.Background(), tx)
	if got := tx.Removals(); len(got) != 1 || got[0] != "X-Outguard-Ref" || len(tx.Additions()) != 1 {
		t.Errorf("without cfbl_address: removals %v, additions %+v", got, tx.Additions())
	}
	tx = &policy.Transaction{User: strings.Repeat("a", maxField+1), QueueID: "Q3"}
	s.Commit(context.Background(), tx)
	if len(tx.Additions()) != 0 || !strings.Contains(strings.Join(tx.Stamps(), ";"), "complaints: not stamped") {
		t.Errorf("too long a login: %+v %v", tx.Additions(), tx.Stamps())
	}
}

// FuzzParse: any bytes parse without a panic, within the bounds, and a
// reference found verifies only when it is one of ours.
func FuzzParse(f *testing.F) {
	ks := testKeys(f, 1)
	ref, _ := ks.Seal(aliceRef)
	ents, _ := os.ReadDir("testdata/reports")
	for _, e := range ents {
		f.Add(report(f, e.Name(), ref))
	}
	f.Add(report(f, "arf-base64.eml", ref))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep := Parse(raw, "X-Outguard-Ref")
		if len(rep.Refs) > maxRefs || len(rep.Problems) > 10 {
			t.Fatalf("unbounded: %d refs, %d problems", len(rep.Refs), len(rep.Problems))
		}
		for _, r := range rep.Refs {
			if got, err := ks.Open(r); err == nil && (got.Account != aliceRef.Account || got.QueueID != aliceRef.QueueID) {
				t.Fatalf("a reference opened to %+v", got)
			}
		}
	})
}
