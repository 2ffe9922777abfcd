# Quantrac: `make run` starts a node, `make test` passes the tests.
# Every target works on a fresh machine with Go 1.26 and the Go module proxy.

GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DATA    ?= ./data
# Packages whose tests run in `make test` (all of them).
PKGS    := ./...

.PHONY: all build run demo test test-race lint fmt bench bench-check fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

# The node with its embedded defaults: MQTT on 127.0.0.1:1883, HTTP on
# 127.0.0.1:9490, data in ./data, anonymous gateways allowed (development).
run: build
	$(BIN)/quantrac serve --data $(DATA) --insecure-allow-anonymous

# The node plus simulated gateways of all 34 provinces feeding it over MQTT
# on loopback for a short while, then example queries.
demo: build
	./scripts/demo.sh

test:
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-race:
	$(GO) test -count=1 -race -timeout 30m $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# Micro-benchmarks of the hot paths, in benchstat's input format: keep
# bench.out of two commits and run `benchstat old.out new.out`.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m $(PKGS) | tee bench.out

# The standard load scenarios (each window shortened to BENCH_DURATION) and
# the ingest micro-benchmarks (one core, -count 3), every figure printed
# against bench/targets.txt (docs/bench.md). Not part of CI: this machine
# is shared and noisy. Exits with status 3 when a figure misses its target.
BENCH_DURATION ?= 20s
bench-check: build
	$(GO) test -run '^$$' -bench 'IngestSim|DecodeSim|ManyGateways' -benchmem -cpu 1 -count 3 ./ingest/... > bench-micro.out
	cat bench-micro.out
	$(BIN)/qbench --server child --duration $(BENCH_DURATION) --targets bench/targets.txt \
	  --micro bench-micro.out qos1-batched qos1-max qos0-single outage-replay idle-10k

# Each fuzz target for FUZZTIME (default 30s). Not part of `make test`: their
# seed corpora already run there as ordinary tests.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) bench.out bench-micro.out
