# Drover's build. Every tool it needs is installed by this file into .tools/
# with pinned versions, through the Go module proxy: nothing is installed by hand.

SHELL        := /bin/bash
GO           ?= go
TOOLS        := $(CURDIR)/.tools
BIN          := $(CURDIR)/bin
export PATH  := $(TOOLS)/bin:$(PATH)
export GOBIN := $(TOOLS)/bin

BUF_VERSION               := v1.75.0
PROTOC_GEN_GO_VERSION     := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION:= v1.5.1

DROVER       := $(BIN)/drover
DEV_DATA     ?= $(CURDIR)/.run/data
DEV_LOG      := $(CURDIR)/.run/drover-dev.log
SERVER       ?= 127.0.0.1:7070
TEST_FLAGS   ?= -race -count=1 -timeout 20m
# Tests may run two packages at once on this 2-core machine.
TEST_P       ?= 2

.PHONY: all build run stop test test-long fuzz proto lint tools etcd vet fmt clean help

all: build

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/drover (static)
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(DROVER) ./cmd/drover

run: build ## start `drover dev`, run examples/pi.yaml, print its output
	@DROVER=$(DROVER) DEV_DATA=$(DEV_DATA) DEV_LOG=$(DEV_LOG) SERVER=$(SERVER) ./scripts/run.sh

stop: ## stop the `drover dev` started by `make run`
	@DEV_LOG=$(DEV_LOG) ./scripts/stop.sh

test: vet build ## vet, then every test with -race
	$(GO) test $(TEST_FLAGS) -p $(TEST_P) ./...

test-long: build ## the long fault suites (real 10 s / 40 s timings)
	DROVER_LONG=1 $(GO) test -race -count=1 -timeout 60m -p 1 -run 'Long' ./e2e/...

# Fuzz targets, each for FUZZTIME (CI: `make fuzz`). -fuzzminimizetime is
# bounded because minimizing a new interesting input may take the default
# 60 s while the engine reports 0 execs/s (the "stall" seen once); `timeout`
# bounds each run in any case, so CI cannot hang.
FUZZTIME     ?= 20s
FUZZ_TARGETS := ./pkg/manifest:FuzzParse ./pkg/validation:FuzzValidateJob ./pkg/quantity:FuzzParse ./cmd/drover:FuzzJSONPath

fuzz: ## run every fuzz target for FUZZTIME (default 20s) each
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn in $$pkg ($(FUZZTIME))"; \
	  timeout --signal=KILL 300 $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -parallel 2 $$pkg; \
	done

vet: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '\.pb\.go$$' || true); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

tools: $(TOOLS)/bin/buf $(TOOLS)/bin/protoc-gen-go $(TOOLS)/bin/protoc-gen-go-grpc ## install the pinned code generators

$(TOOLS)/bin/buf:
	$(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/bin/protoc-gen-go:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/bin/protoc-gen-go-grpc:
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

proto: tools ## lint proto/ and regenerate pkg/api (committed)
	buf lint
	rm -rf pkg/api
	buf generate

lint: tools ## buf lint
	buf lint

# etcd and etcdctl are built from their Go modules, pinned in tools/etcd/go.mod
# (`go install …@version` refuses them: their go.mod files hold replace directives).
etcd: $(TOOLS)/bin/etcdctl $(TOOLS)/bin/etcd ## build etcdctl and etcd from their Go modules
$(TOOLS)/bin/etcdctl: tools/etcd/go.mod
	cd tools/etcd && CGO_ENABLED=0 $(GO) build -trimpath -o $@ go.etcd.io/etcd/etcdctl/v3
$(TOOLS)/bin/etcd: tools/etcd/go.mod
	cd tools/etcd && CGO_ENABLED=0 $(GO) build -trimpath -o $@ go.etcd.io/etcd/server/v3

clean: ## remove build output (not the dev data dir)
	rm -rf $(BIN)

# --- Multi-node cluster with docker compose (deploy/) ----------------------
# Images are FROM scratch with binaries built here: nothing is pulled.
# `docker compose` (v2) if present, else Debian's `docker-compose` (v1).
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; \
             elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)
export COMPOSE

.PHONY: images demo demo-down compose-test

images: build etcd ## build the drover, etcd and busybox images (FROM scratch, nothing pulled)
	./deploy/images.sh

demo: images ## bring up deploy/docker-compose.yml and run the fault demo (ends with the cluster up)
	./deploy/demo.sh

demo-down: ## tear down the demo cluster, its pod containers and volumes
	./deploy/demo.sh down

compose-test: images ## the compose cluster's faults as assertions (skipped without a Docker engine)
	DROVER_COMPOSE_TEST=1 $(GO) test -count=1 -timeout 30m -v ./e2e/compose/

# Benchmarks (docs/benchmarks.md): hollow nodes against a real etcd, run as
# its own process from .tools/bin/etcd. bench-ci is the small run CI calls
# (with etcd at nice 5: a positive nice needs no privilege, so CI runs the
# --etcd-nice path too).
.PHONY: bench bench-ci
BENCH_PRESET ?= throughput
bench: build etcd ## drover bench --preset $(BENCH_PRESET) (throughput or scale)
	$(DROVER) bench --preset $(BENCH_PRESET) --etcd-binary $(TOOLS)/bin/etcd
bench-ci: build etcd ## a ~1,000-pod bench, so that the bench cannot rot (CI)
	$(DROVER) bench --preset ci --etcd-binary $(TOOLS)/bin/etcd --etcd-nice 5
