# outguard. `make demo` runs the real thing on loopback; `make test` runs
# the tests. Both install missing Debian packages when run as root.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X outguard/daemon.Version=$(VERSION)

PREFIX  ?= /usr
DESTDIR ?=
MANPAGES := $(patsubst docs/man/%.scd,bin/man/%,$(wildcard docs/man/*.scd))

.PHONY: all build build-static test demo deps sendmail fmt vet man install bench clean

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
# shipped rules. An existing /etc/outguard/milterd.yaml is never replaced.
install: build man
	install -D -m 0755 bin/milterd $(DESTDIR)$(PREFIX)/sbin/milterd
	install -D -m 0755 bin/milterctl $(DESTDIR)$(PREFIX)/sbin/milterctl
	install -D -m 0644 bin/man/milterd.8 $(DESTDIR)$(PREFIX)/share/man/man8/milterd.8
	install -D -m 0644 bin/man/milterctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/milterctl.8
	install -D -m 0644 bin/man/milterd.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/milterd.yaml.5
	install -D -m 0644 etc/systemd/milterd.service $(DESTDIR)/lib/systemd/system/milterd.service
	install -D -m 0644 etc/milterd.example.yaml $(DESTDIR)$(PREFIX)/share/doc/outguard/milterd.example.yaml
	install -D -m 0644 etc/prometheus/outguard.rules.yml $(DESTDIR)$(PREFIX)/share/doc/outguard/outguard.rules.yml
	install -d -m 0755 $(DESTDIR)/etc/outguard/rules
	install -m 0644 rules/*.yar $(DESTDIR)/etc/outguard/rules/
	test -e $(DESTDIR)/etc/outguard/milterd.yaml || install -m 0640 etc/milterd.example.yaml $(DESTDIR)/etc/outguard/milterd.yaml
	getent passwd outguard >/dev/null || [ -n "$(DESTDIR)" ] || useradd --system --home-dir /var/lib/outguard --shell /usr/sbin/nologin outguard

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
	$(GO) test -race -count=1 -timeout 15m ./...

demo: deps
	@$(MAKE) --no-print-directory build
	$(GO) run ./demo

# Benchmarks against baselines measured in the same run; compare runs
# outguard against Debian's clamav-milter on the same Postfix and clamd.
bench:
	@$(MAKE) --no-print-directory deps EXTRA=clamav-milter
	@$(MAKE) --no-print-directory build
	$(GO) run ./bench/compare
	$(GO) test -run X -bench ClamdStream -benchtime 10x ./bench
	$(GO) test -run X -bench Rules -benchtime 20x ./bench
	$(GO) test -run X -bench LimitCheck -benchtime 3000x ./bench

clean:
	rm -rf bin
