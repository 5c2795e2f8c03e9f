package config

import (
	"net"
	"net/url"
)

// Web configures milterctl's web console (milterctl web).
type Web struct {
	Listen string `yaml:"listen"`
	// URL is where reviewers reach the console: the digest links each
	// entry to URL/quarantine/ID.
	URL       string `yaml:"url"`
	UsersFile string `yaml:"users_file"` // lines name:hash:role
	TLS       struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	// TrustedProxyHeader names the user a reverse proxy authenticated;
	// it is believed only from TrustedProxies.
	TrustedProxyHeader string   `yaml:"trusted_proxy_header"`
	TrustedProxies     []Prefix `yaml:"trusted_proxies"`
	// RelayprobeStateDir is relayprobe's state_dir: the console shows its
	// latest scan and what changed since the one before.
	RelayprobeStateDir string `yaml:"relayprobe_state_dir"`
}

func (w *Web) setDefaults() {
	w.Listen = "127.0.0.1:8026"
	w.UsersFile = "/etc/outguard/web-users"
}

func (w *Web) validate(bad func(key, format string, args ...any) error) error {
	if _, _, err := net.SplitHostPort(w.Listen); err != nil {
		return bad("web.listen", "want host:port: %v", err)
	}
	if w.URL != "" {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("web.url", "want an http or https URL, e.g. https://outguard.isp.example")
		}
	}
	if w.UsersFile == "" {
		return bad("web.users_file", "must not be empty")
	}
	if (w.TLS.Cert == "") != (w.TLS.Key == "") {
		return bad("web.tls", "needs both cert and key, or neither")
	}
	if (w.TrustedProxyHeader == "") != (len(w.TrustedProxies) == 0) {
		return bad("web.trusted_proxy_header", "needs trusted_proxies (the proxies' addresses), and they need it")
	}
	return nil
}
