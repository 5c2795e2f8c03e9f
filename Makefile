# outguard. `make demo` runs the real thing on loopback; `make test` runs
# the tests. Both install missing Debian packages when run as root.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X outguard/daemon.Version=$(VERSION)

.PHONY: all build test demo deps fmt vet clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

# Debian packages the tests and the demo start for real.
deps:
	@missing=$$(for p in $$(cat .ci/packages); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing packages: $$missing (run as root, or apt-get install them)"; exit 1; fi; \
		echo "installing: $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: deps fmt vet
	$(GO) test -race -count=1 -timeout 15m ./...

demo: deps build
	$(GO) run ./demo

clean:
	rm -rf bin
