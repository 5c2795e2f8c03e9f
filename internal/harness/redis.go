package harness

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"time"
)

// Redis is a running redis-server on a free loopback port.
type Redis struct {
	Addr string
}

// StartRedis starts redis-server without persistence and stops it by PID
// at cleanup.
func StartRedis(t T) *Redis {
	t.Helper()
	Require(t, "redis-server")
	dir := Dir(t, "redis")
	port := FreePort(t)
	r := &Redis{Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	Start(t, exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")))
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", r.Addr)
		if err == nil {
			c.Close()
			return r
		}
		if i > 500 {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
