package daemon

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"outguard/config"
	"strconv"
)

// Listen opens the milter socket. A unix socket left over from a previous
// run is replaced; any other file at that path is an error.
func Listen(cfg *config.Config) (net.Listener, error) {
	a := cfg.Listen
	if a.Network != "unix" {
		return net.Listen("tcp", a.Addr)
	}
	if fi, err := os.Lstat(a.Addr); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket", a.Addr)
		}
		os.Remove(a.Addr)
	}
	ln, err := net.Listen("unix", a.Addr)
	if err != nil {
		return nil, err
	}
	if err := socketPerms(a.Addr, cfg); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func socketPerms(path string, cfg *config.Config) error {
	if cfg.SocketGroup != "" {
		g, err := user.LookupGroup(cfg.SocketGroup)
		if err != nil {
			return fmt.Errorf("socket_group: %w", err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Lchown(path, -1, gid); err != nil {
			return err
		}
	}
	return os.Chmod(path, os.FileMode(cfg.SocketMode))
}
