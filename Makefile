# outguard. `make demo` runs the real thing on loopback; `make test` runs
# the tests. Both install missing Debian packages when run as root.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X outguard/setup.Version=$(VERSION)

PREFIX  ?= /usr
DESTDIR ?=
MANPAGES := $(patsubst docs/man/%.scd,bin/man/%,$(wildcard docs/man/*.scd))

.PHONY: all build build-static test test-installed screenshots demo probe-demo deps sendmail fmt vet man install uninstall bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

# libyara linked statically: the binaries run where libyara is not
# installed (libmagic, jansson and libcrypto stay shared).
build-static:
	CGO_LDFLAGS="-Wl,-Bstatic -lyara -Wl,-Bdynamic -lmagic -ljansson -lcrypto -lm" \
		$(GO) build -tags yara_no_pkg_config -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

man: $(MANPAGES)

bin/man/%: docs/man/%.scd
	@mkdir -p bin/man
	scdoc < $< > $@

# Lays out binaries, man pages, the unit, the example config and the
# shipped rules, as a package would. An existing /etc/outguard/milterd.yaml
# is never replaced. With DESTDIR (staging for a package), no user is made
# and no owners are set: the package's postinst does that.
SPOOLDIR := /var/spool/postfix/outguard
install: build man
	if [ -z "$(DESTDIR)" ]; then getent passwd outguard >/dev/null || useradd --system --user-group --home-dir /var/lib/outguard --shell /usr/sbin/nologin outguard; fi
	if [ -z "$(DESTDIR)" ]; then getent passwd relayprobe >/dev/null || useradd --system --user-group --home-dir /var/lib/relayprobe --shell /usr/sbin/nologin relayprobe; fi
	install -D -m 0755 bin/milterd $(DESTDIR)$(PREFIX)/sbin/milterd
	install -D -m 0755 bin/milterctl $(DESTDIR)$(PREFIX)/sbin/milterctl
	install -D -m 0755 bin/relayprobe $(DESTDIR)$(PREFIX)/sbin/relayprobe
	install -D -m 0644 bin/man/milterd.8 $(DESTDIR)$(PREFIX)/share/man/man8/milterd.8
	install -D -m 0644 bin/man/milterctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/milterctl.8
	install -D -m 0644 bin/man/milterd.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/milterd.yaml.5
	install -D -m 0644 bin/man/relayprobe.8 $(DESTDIR)$(PREFIX)/share/man/man8/relayprobe.8
	install -D -m 0644 etc/systemd/milterd.service $(DESTDIR)/lib/systemd/system/milterd.service
	install -D -m 0644 etc/systemd/outguard-digest.service $(DESTDIR)/lib/systemd/system/outguard-digest.service
	install -D -m 0644 etc/systemd/outguard-digest.timer $(DESTDIR)/lib/systemd/system/outguard-digest.timer
	install -D -m 0644 etc/systemd/outguard-containment.service $(DESTDIR)/lib/systemd/system/outguard-containment.service
	install -D -m 0644 etc/systemd/outguard-web.service $(DESTDIR)/lib/systemd/system/outguard-web.service
	# The one privileged step of containment, for user outguard only.
	install -D -m 0440 etc/sudoers.d/outguard $(DESTDIR)/etc/sudoers.d/outguard
	install -D -m 0755 etc/libexec/outguard-postsuper $(DESTDIR)/usr/lib/outguard/outguard-postsuper
	install -D -m 0644 etc/systemd/relayprobe.service $(DESTDIR)/lib/systemd/system/relayprobe.service
	install -D -m 0644 etc/systemd/relayprobe.timer $(DESTDIR)/lib/systemd/system/relayprobe.timer
	install -D -m 0644 etc/systemd/relayprobe-listings.service $(DESTDIR)/lib/systemd/system/relayprobe-listings.service
	install -D -m 0644 etc/systemd/relayprobe-listings.timer $(DESTDIR)/lib/systemd/system/relayprobe-listings.timer
	install -D -m 0644 etc/systemd/relayprobe-block.service $(DESTDIR)/lib/systemd/system/relayprobe-block.service
	install -D -m 0644 etc/systemd/relayprobe-block.timer $(DESTDIR)/lib/systemd/system/relayprobe-block.timer
	install -D -m 0644 etc/relayprobe.example.yaml $(DESTDIR)$(PREFIX)/share/doc/outguard/relayprobe.example.yaml
	install -D -m 0644 etc/milterd.example.yaml $(DESTDIR)$(PREFIX)/share/doc/outguard/milterd.example.yaml
	install -D -m 0644 etc/prometheus/outguard.rules.yml $(DESTDIR)$(PREFIX)/share/doc/outguard/outguard.rules.yml
	install -d -m 0755 $(DESTDIR)/etc/outguard/rules
	install -m 0644 rules/*.yar $(DESTDIR)/etc/outguard/rules/
	# milterd (user outguard) reads it; it may hold a Redis password.
	test -e $(DESTDIR)/etc/outguard/milterd.yaml || install -m 0640 etc/milterd.example.yaml $(DESTDIR)/etc/outguard/milterd.yaml
	if [ -z "$(DESTDIR)" ]; then chgrp outguard /etc/outguard/milterd.yaml; fi
	# relayprobe's config needs the ISP's canary and ranges: it comes as the
	# example in /usr/share/doc only, and its timer stays off until enabled.
	# The socket's directory inside Postfix's queue directory: milterd
	# writes it, smtpd (group postfix) traverses it.
	if [ -z "$(DESTDIR)" ] && getent group postfix >/dev/null; then install -d -o outguard -g postfix -m 0750 $(SPOOLDIR); fi

# Removes what install laid out, but not the config, the state or the user
# (as apt remove, not purge, would).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/milterd $(DESTDIR)$(PREFIX)/sbin/milterctl $(DESTDIR)$(PREFIX)/sbin/relayprobe \
		$(DESTDIR)$(PREFIX)/share/man/man8/relayprobe.8 $(DESTDIR)/lib/systemd/system/relayprobe.service $(DESTDIR)/lib/systemd/system/relayprobe.timer \
		$(DESTDIR)/lib/systemd/system/relayprobe-listings.service $(DESTDIR)/lib/systemd/system/relayprobe-listings.timer \
		$(DESTDIR)/lib/systemd/system/relayprobe-block.service $(DESTDIR)/lib/systemd/system/relayprobe-block.timer \
		$(DESTDIR)$(PREFIX)/share/man/man8/milterd.8 $(DESTDIR)$(PREFIX)/share/man/man8/milterctl.8 \
		$(DESTDIR)$(PREFIX)/share/man/man5/milterd.yaml.5 $(DESTDIR)/lib/systemd/system/milterd.service \
		$(DESTDIR)/lib/systemd/system/outguard-digest.service $(DESTDIR)/lib/systemd/system/outguard-digest.timer \
		$(DESTDIR)/lib/systemd/system/outguard-containment.service $(DESTDIR)/lib/systemd/system/outguard-web.service \
		$(DESTDIR)/etc/sudoers.d/outguard $(DESTDIR)/usr/lib/outguard/outguard-postsuper
	-rmdir $(DESTDIR)/usr/lib/outguard
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/outguard
	rm -rf $(DESTDIR)$(SPOOLDIR)

# Debian packages the tests and the demo start for real.
deps:
	@missing=$$(for p in $$(cat .ci/packages) $(EXTRA); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing packages: $$missing (run as root, or apt-get install them)"; exit 1; fi; \
		echo "installing: $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# Sendmail for the end-to-end tests: Debian's sendmail-bin conflicts with
# postfix, so it is unpacked beside it instead of installed.
SENDMAIL_ROOT := /opt/outguard-test/sendmail
sendmail: deps
	@if [ ! -x $(SENDMAIL_ROOT)/usr/libexec/sendmail/sendmail ]; then \
		tmp=$$(mktemp -d) && cd $$tmp && apt-get download sendmail-bin sendmail-base sendmail-cf && \
		mkdir -p $(SENDMAIL_ROOT) && for f in *.deb; do dpkg -x $$f $(SENDMAIL_ROOT); done && rm -rf $$tmp; \
	fi

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: deps sendmail fmt vet
	$(GO) test -race -count=1 -timeout 40m $$($(GO) list ./... | grep -v '^outguard/campaign$$')
	# campaign: its one shared state (the fleet's seed, read by every
	# session at once) and eight sessions on one engine under -race; the
	# rest of it, the content rules and the ham measurements at full
	# size, is one goroutine per message and ten times slower under -race
	# (25 minutes of CI, no race to find): without. The engine's
	# concurrent use runs under -race above too (milter, e2e).
	$(GO) test -race -count=1 -run 'TestSeedSource|TestReviewSeedSplitRedis|TestReviewR5bConcurrentSessions' ./campaign/
	$(GO) test -count=1 -timeout 20m ./campaign/
	# go-milter as carried (issue #32): a module of its own, outside ./...;
	# without -race: upstream's TestServer_Shutdown closes one client
	# session from two goroutines (v0.10.2 as released fails under -race).
	# Its tests leave bodies' temporary files behind (handles closed under
	# them on purpose): in a directory of their own, removed after.
	cd third_party/go-milter && tmp=$$(mktemp -d) && TMPDIR=$$tmp $(GO) test -count=1 ./...; rc=$$?; rm -rf "$$tmp"; exit $$rc

# The installed product: make install into this machine, milterd as the unit
# starts it, Debian's own Postfix configured from docs/postfix.md. It
# changes the machine (and puts it back): throwaway machines only; CI runs it.
# The web console's screenshots (docs/screenshots, shown in the README),
# taken by its browser test.
screenshots:
	mkdir -p docs/screenshots
	OUTGUARD_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestWebConsoleInBrowser|TestWebConsoleQueuedMail' ./e2e/

test-installed: deps
	OUTGUARD_INSTALLED_TEST=yes $(GO) test -tags installed -count=1 -v -timeout 5m ./internal/installtest/

demo: deps
	@$(MAKE) --no-print-directory build
	$(GO) run ./demo

# relayprobe against the loopback lab: one confirmed relay, confirmed
# proxies, the look-alikes suspected.
probe-demo: deps
	@$(MAKE) --no-print-directory build
	$(GO) run ./demo/probe

# Benchmarks against baselines measured in the same run; compare runs
# outguard against Debian's clamav-milter on the same Postfix and clamd.
bench:
	@$(MAKE) --no-print-directory deps EXTRA=clamav-milter
	@$(MAKE) --no-print-directory build
	$(GO) run ./bench/compare
	$(GO) test -run X -bench ClamdStream -benchtime 10x ./bench
	$(GO) test -run X -bench 'Rules$$' -benchtime 20x ./bench
	$(GO) test -run X -bench RulesSmallItems -benchtime 200x ./bench
	$(GO) test -run X -bench LimitCheck -benchtime 3000x ./bench
	$(GO) test -run X -bench LimitVolume -benchtime 10x ./bench
	$(GO) test -run X -bench Stages -benchtime 3000x ./bench
	$(GO) run ./bench/fleet
	$(GO) test -run X -bench QuarantineWrite -benchtime 50x ./bench
	$(GO) run ./bench/replay
	$(GO) test -run X -bench ProbeRange -benchtime 1x ./bench

clean:
	rm -rf bin
