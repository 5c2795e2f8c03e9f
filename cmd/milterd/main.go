// Command milterd is outguard's outbound content-filter milter.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"outguard/config"
	"outguard/daemon"
	"outguard/setup"
)

func main() {
	path := flag.String("config", config.DefaultPath, "config file")
	listen := flag.String("listen", "", "listen address, overrides the config's listen (unix:/path or inet:host:port)")
	check := flag.Bool("check-config", false, "validate the config and exit: 0 when valid, 1 otherwise")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()

	if *version {
		fmt.Println("milterd", setup.Version)
		return
	}
	// Every reload applies the command line again, so a flag outlives SIGHUP.
	load := func() (*config.Config, error) {
		cfg, err := config.Load(*path)
		if err == nil && *listen != "" {
			cfg.Listen, err = config.ParseAddress(*listen)
		}
		return cfg, err
	}
	cfg, err := load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "milterd:", err)
		os.Exit(1)
	}
	log := cfg.Logger(os.Stderr)
	if *check {
		if _, err := setup.Build(cfg, log, nil); err != nil {
			fmt.Fprintln(os.Stderr, "milterd:", err)
			os.Exit(1)
		}
		fmt.Println(*path + ": ok")
		return
	}
	if err := daemon.Run(context.Background(), *path, load, cfg, log); err != nil {
		log.Error("milterd failed", "err", err)
		os.Exit(1)
	}
}
