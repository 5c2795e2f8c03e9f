package probe

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Telnet-style proxies: a Wingate prompt that takes "host:port" or "open
// host port", and a router whose default login opens a shell that can
// "telnet host port" (the case HOPM tests). Each attempt is a connection of
// its own; the canary's banner with its secret confirms.
var routerLogins = [][2]string{{"admin", "admin"}, {"root", "root"}, {"cisco", "cisco"}}

func (s *Scanner) wingate(ctx context.Context, addr netip.AddrPort) *OpenService {
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
	var suspected *OpenService
	for _, a := range attempts {
		cn, err := s.dial(ctx, addr.String())
		if err != nil {
			return suspected
		}
		prompt := cn.prompt()
		isLogin := strings.Contains(strings.ToLower(prompt), "login") || strings.Contains(strings.ToLower(prompt), "user")
		if strings.HasPrefix(a.test, "router") != isLogin || prompt == "" {
			cn.Close()
			if prompt == "" {
				return suspected // says nothing: not a Wingate or a router shell
			}
			continue
		}
		var seen strings.Builder
		for _, l := range a.lines {
			if cn.send(l+"\r\n") != nil {
				break
			}
			seen.WriteString(cn.prompt())
			if strings.Contains(seen.String(), s.Secret) {
				break
			}
		}
		cn.send("QUIT\r\n")
		cn.Close()
		if i := strings.Index(seen.String(), s.Secret); i >= 0 {
			line := seen.String()[max(0, strings.LastIndex(seen.String()[:i], "220")):]
			line, _, _ = strings.Cut(line, "\n")
			return &OpenService{Service: "wingate", Result: Confirmed, Test: a.test,
				Evidence: clean("prompt " + strings.TrimSpace(prompt) + "; the canary answered through it: " + strings.TrimSpace(line))}
		}
	}
	return suspected
}

// prompt reads what the peer says until it pauses: prompts end without a
// line break. At most 4 KiB, within the reply timeout.
func (c *conn) prompt() string {
	var b []byte
	buf := make([]byte, 1024)
	end := time.Now().Add(c.timeout)
	for len(b) < 4096 {
		// After the first bytes, a short pause means the prompt is complete.
		wait := end
		if pause := time.Now().Add(300 * time.Millisecond); len(b) > 0 && pause.Before(end) {
			wait = pause
		}
		c.SetReadDeadline(wait)
		n, err := c.r.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return telnetText(b)
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
