package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"outguard/config"
	"outguard/limits"
	"outguard/quarantine"
	"outguard/setup"
	"outguard/web"
)

// stdin is where `web adduser` reads the password.
var stdin io.Reader = os.Stdin

// webCmd runs `milterctl web [-config FILE] [-listen ADDR]` and
// `milterctl web adduser NAME ROLE`. The console is part of milterctl,
// not a binary of its own: it opens the same config and stores, in the
// same way, and runs the same actions as the commands.
func webCmd(ctx context.Context, args []string, path string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("milterctl web", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&path, "config", path, "milterd's config file")
	listen := fs.String("listen", "", "address to listen on (default: web.listen)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(path)
	if err == nil && cfg.Web == nil {
		err = errors.New("the config has no web section")
	}
	if err != nil {
		fmt.Fprintln(stderr, "milterctl:", err)
		return 1
	}
	if fs.Arg(0) == "adduser" {
		if fs.NArg() != 3 {
			fmt.Fprint(stderr, "usage: milterctl web adduser NAME ROLE   (the password on stdin)\n")
			return 2
		}
		if err := addUser(cfg.Web.UsersFile, path, fs.Arg(1), fs.Arg(2)); err != nil {
			fmt.Fprintln(stderr, "milterctl:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s (%s) written to %s\n", fs.Arg(1), fs.Arg(2), cfg.Web.UsersFile)
		return 0
	}
	if fs.NArg() != 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if *listen != "" {
		cfg.Web.Listen = *listen
	}
	if err := serveWeb(ctx, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, "milterctl:", err)
		return 1
	}
	return 0
}

// addUser writes name's line. A users file it creates as root gets the
// group of the config file naming it (root:outguard 0640 as installed):
// the console runs as that group (its unit) and must read both; created
// root:root it could read neither the file nor any login.
func addUser(file, cfgPath, name, roleName string) error {
	role, err := web.ParseRole(roleName)
	if err != nil {
		return err
	}
	pw, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && pw != "") {
		return fmt.Errorf("reading the password from stdin: %w", err)
	}
	_, statErr := os.Stat(file)
	if err := web.AddUser(file, name, role, strings.TrimRight(pw, "\r\n")); err != nil {
		return err
	}
	if !errors.Is(statErr, os.ErrNotExist) || os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(cfgPath)
	if err != nil {
		return err
	}
	return os.Chown(file, 0, int(fi.Sys().(*syscall.Stat_t).Gid))
}

// serveWeb opens the stores and serves the console until ctx ends or a
// signal stops it.
func serveWeb(ctx context.Context, cfg *config.Config, logw io.Writer) error {
	log := slog.New(slog.NewTextHandler(logw, nil))
	// Listening first: a privileged port is bound before asStateOwner
	// drops root.
	ln, err := net.Listen("tcp", cfg.Web.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	var tlsConfig *tls.Config // the key is read before root is dropped, too
	if cfg.Web.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Web.TLS.Cert, cfg.Web.TLS.Key)
		if err != nil {
			return fmt.Errorf("web.tls: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if err := asStateOwner(cfg); err != nil {
		return err
	}
	h, closeStores, err := newConsole(ctx, cfg, tlsConfig != nil, log)
	if err != nil {
		return err
	}
	defer closeStores()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 5 * time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("web console listening", "addr", ln.Addr().String(), "tls", tlsConfig != nil)
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// newConsole opens the stores cfg names and builds the console on them;
// closeStores closes them.
func newConsole(ctx context.Context, cfg *config.Config, withTLS bool, log *slog.Logger) (h *web.Server, closeStores func(), err error) {
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	o := web.Options{UsersFile: cfg.Web.UsersFile, WalkLimits: setup.WalkLimits(cfg), Log: log,
		TLS: withTLS, TrustedProxyHeader: cfg.Web.TrustedProxyHeader, RelayprobeDir: cfg.Web.RelayprobeStateDir}
	for _, p := range cfg.Web.TrustedProxies {
		o.TrustedProxies = append(o.TrustedProxies, netip.Prefix(p))
	}
	var q *quarantine.Store
	if cfg.Quarantine != nil {
		if q, err = setup.OpenQuarantine(ctx, cfg); err != nil {
			return nil, nil, err
		}
		closers = append(closers, q.Close)
		o.Quarantine = q
	}
	var st limits.Store
	if cfg.Limits != nil {
		var eng *limits.Engine
		if st, eng, err = openLimitsEngine(ctx, cfg, log); err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, st.Close)
		o.Accounts, o.Policy, o.Login = st, eng.Policy, eng.Accounts.Login
		o.Queue = setup.Containment(cfg, st, log)
	}
	act := newActions(cfg, q, st)
	act.cont = o.Queue
	o.Actions = act
	h, err = web.New(o)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return h, closeAll, nil
}
