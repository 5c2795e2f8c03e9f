package harness

import (
	"net"
	"os/exec"
	"strconv"
)

// StartRefusingSink runs Postfix's smtp-sink on a free loopback port,
// refusing the SMTP commands named in refuse with a permanent error: "."
// refuses every message at end of DATA ("500 5.3.0 Error: command failed")
// after accepting all its recipients, as a receiver that judges the
// content does. It returns the port.
func StartRefusingSink(t T, refuse string) int {
	t.Helper()
	Require(t, "smtp-sink")
	return onFreePort(t, "smtp-sink", func(port int) daemon {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		return startDaemon(t, exec.Command("smtp-sink", "-u", "nobody", "-h", "sink.test", "-f", refuse, addr, "64"), "")
	})
}
