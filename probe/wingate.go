package probe

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
)

// Telnet-style proxies: a Wingate prompt that takes "host:port" or "open
// host port", and a router whose default login opens a shell that can
// "telnet host port" (the case HOPM tests). Each attempt is a connection of
// its own; the canary's banner with a valid proof confirms.
var routerLogins = [][2]string{{"admin", "admin"}, {"root", "root"}, {"cisco", "cisco"}}

func (s *Scanner) wingate(ctx context.Context, addr netip.AddrPort) (*OpenService, Outcome) {
	ap := netip.MustParseAddrPort(s.Config.Canary.Address)
	host, port := ap.Addr().String(), ap.Port()
	type attempt struct {
		test  string
		lines []string // sent one at a time, each after the peer's prompt
	}
	attempts := []attempt{
		{"wingate host:port", []string{s.Config.Canary.Address}},
		{"wingate open host port", []string{"open " + host + " " + strconv.Itoa(int(port))}},
	}
	for _, l := range routerLogins {
		attempts = append(attempts, attempt{"router default login " + l[0] + "/" + l[1], []string{l[0], l[1], "telnet " + host + " " + strconv.Itoa(int(port))}})
	}
	silent := "" // an attempt the port did not answer
	for _, a := range attempts {
		if ctx.Err() != nil {
			return nil, Outcome{State: Error, Detail: "the scan ended"}
		}
		cn, err := s.dial(ctx, addr.String())
		if err != nil {
			return nil, dialOutcome(err)
		}
		prompt, err := cn.prompt(looksLikePrompt)
		if prompt == "" {
			cn.Close()
			// Says nothing: not a Wingate or a router shell.
			if isTimeout(err) {
				return nil, noAnswer(err)
			}
			return nil, Outcome{State: Closed}
		}
		isLogin := strings.Contains(strings.ToLower(prompt), "login") || strings.Contains(strings.ToLower(prompt), "user")
		if strings.HasPrefix(a.test, "router") != isLogin {
			cn.Close()
			continue
		}
		var seen strings.Builder
		for i, l := range a.lines {
			if cn.send(l+"\r\n") != nil {
				break
			}
			// A prompt for the next line; after the last one, whatever
			// comes until the canary's proof or the reply timeout: a
			// Wingate may take a while to connect.
			until := looksLikePrompt
			if i == len(a.lines)-1 {
				until = func(t string) bool { return s.Key.proofIn(t) }
			}
			p, err := cn.prompt(until)
			seen.WriteString(p)
			if s.Key.proofIn(seen.String()) {
				break
			}
			if isTimeout(err) && strings.TrimSpace(p) == "" {
				// Said nothing at all: not a refusal (a connect through
				// it may be slow, the path lossy), so not closed.
				silent = a.test + ": no answer after " + strings.Fields(l)[0]
				break
			}
		}
		cn.send("QUIT\r\n")
		cn.Close()
		if i := s.Key.proofIndex(seen.String()); i >= 0 {
			line := seen.String()[max(0, strings.LastIndex(seen.String()[:i], "220")):]
			line, _, _ = strings.Cut(line, "\n")
			return &OpenService{Service: "wingate", Result: Confirmed, Test: a.test,
				Evidence: clean("prompt " + strings.TrimSpace(prompt) + "; the canary answered through it: " + strings.TrimSpace(line))}, Outcome{State: Open}
		}
	}
	if silent != "" {
		return nil, Outcome{State: Unreachable, Detail: clean(silent)}
	}
	return nil, Outcome{State: Closed}
}

// looksLikePrompt: a prompt ends without a line break, with one of the
// characters shells, login and Wingate prompts end with.
func looksLikePrompt(t string) bool {
	t = strings.TrimRight(t, " ")
	return t != "" && strings.ContainsRune(":>#$%?]", rune(t[len(t)-1]))
}

// maxPrompt bounds what one prompt() reads.
const maxPrompt = 4096

// prompt reads what the peer says until done(text so far) holds, at most
// maxPrompt bytes, within the reply timeout (and the connection's
// deadline). A pause alone does not end it: a Wingate that connects
// slowly says nothing for a while.
func (c *conn) prompt(done func(string) bool) (string, error) {
	var b []byte
	buf := make([]byte, 1024)
	c.SetReadDeadline(c.deadline())
	for len(b) < maxPrompt {
		n, err := c.r.Read(buf[:min(len(buf), maxPrompt-len(b))])
		b = append(b, buf[:n]...)
		if err != nil {
			return telnetText(b), err
		}
		if done(telnetText(b)) {
			break
		}
	}
	return telnetText(b), nil
}

// telnetText drops telnet negotiation (RFC 854: IAC sequences) and keeps
// the text.
func telnetText(b []byte) string {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == 255 && i+1 < len(b) { // IAC
			if b[i+1] >= 251 && b[i+1] <= 254 { // WILL, WONT, DO, DONT + option
				i += 2
			} else {
				i++
			}
			continue
		}
		out = append(out, b[i])
	}
	return string(out)
}
