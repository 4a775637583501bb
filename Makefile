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

test: check-generate vet ## the whole suite: generated code, vet, then every test with the race detector (browser tests included)
	$(GO) test -race -count=1 -timeout 30m ./... # the browser journeys are slow under -race on 2 cores
	$(GO) test -count=1 -run 'OverAYear' ./store/ # race-free, too slow under -race (store/history_year_test.go)

bench: ## benchmarks; writes bench/results.md
	$(GO) run ./bench

clean: ## remove build output
	rm -rf bin
