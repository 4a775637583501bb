# OmniSocial. `make help` lists the targets.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN     := bin/omnisocial
GO      ?= go

.PHONY: help run build test generate check-generate vet fmt e2e bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

run: build ## start the server in development mode on http://localhost:8080 (sandbox platforms, data in ./data)
	OMNISOCIAL_DEV=true ./$(BIN) serve

build: ## build the single static binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) .

generate: ## regenerate templ views and the API client the tests use (from apispec/openapi.json)
	$(GO) tool templ generate
	$(GO) tool oapi-codegen -config handlers/apiclient/oapi-codegen.yaml apispec/openapi.json

check-generate: generate ## fail if generated views or the generated API client differ from what is committed
	@git diff --exit-code -- '*_templ.go' 'handlers/apiclient/*.gen.go' || (echo "generated code is out of date: run 'make generate' and commit" && exit 1)
	@test -z "$$(git ls-files --others --exclude-standard -- '*_templ.go' 'handlers/apiclient/*.gen.go')" || (echo "untracked generated code: commit it" && exit 1)

vet: ## go vet, staticcheck and gofmt
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt needed" && exit 1)

fmt: ## format Go and templ files
	gofmt -w .
	$(GO) tool templ fmt .

test: check-generate vet ## the whole suite: generated code, vet, every test with the race detector (browser tests included), then the store and refresh tests again on PostgreSQL when OMNISOCIAL_TEST_POSTGRES names a server
	$(GO) test -race -count=1 -timeout 30m ./... # the browser journeys are slow under -race on 2 cores
	$(GO) test -count=1 -run 'OverAYear' ./store/ # race-free, too slow under -race (store/history_year_test.go)
	@if [ -n "$$OMNISOCIAL_TEST_POSTGRES" ]; then \
	  echo "# the store and refresh tests on PostgreSQL"; \
	  OMNISOCIAL_TEST_STORE=postgres $(GO) test -race -count=1 -timeout 20m ./store/ ./refresh/ && \
	  OMNISOCIAL_TEST_STORE=postgres $(GO) test -count=1 -run 'OverAYear' ./store/; \
	elif [ -n "$$OMNISOCIAL_REQUIRE_POSTGRES" ]; then \
	  echo "OMNISOCIAL_REQUIRE_POSTGRES is set but OMNISOCIAL_TEST_POSTGRES names no server"; exit 1; \
	else \
	  echo "# PostgreSQL tests not run: set OMNISOCIAL_TEST_POSTGRES to a postgres:// URL (.ci/postgres starts a throwaway server)"; \
	fi

bench: ## benchmarks; writes bench/results.md (with OMNISOCIAL_BENCH_POSTGRES=postgres://… also the accounts page and the refresh queue on 1 and 3 replicas on PostgreSQL)
	$(GO) run ./bench

clean: ## remove build output
	rm -rf bin
