# The one list of commands people type. `make help` lists them.

CARGO    ?= cargo
CONFIG   ?=
ADDR     ?= 127.0.0.1:8080
METHOD   ?= email-send
TO       ?= a@example.com
PHONE    ?= 0912345678
MOCK     ?=
POLL     ?= 45

NOTIFY      = $(CARGO) run --quiet --bin notify --
CONFIG_ARG  = $(if $(CONFIG),--config $(CONFIG),)
MOCK_ARG    = $(if $(filter 1 true yes,$(MOCK)),--mock,)

# Sample template data per channel for `notify-test`.
EMAIL_DATA = --data tenant_name=Acme --data login_url=https://acme.example.com/login
SMS_DATA   = --data code=246810 --data ttl_minutes=5

.PHONY: help run run-dev test test-deps lint fmt bench notify-test build clean

help: ## This list.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

run: ## Serve on the embedded default (in memory, mock providers) at 127.0.0.1:8080.
	$(NOTIFY) $(CONFIG_ARG) serve --addr $(ADDR)

.PHONY: deps-up deps-down mongo-index
# Written by `make deps-up`: points run-dev, notify-test and mongo-index at its servers.
-include .tmp/deps/env.mk

deps-up: ## Start redis-server (:6380) and secantusd (:27018) under .tmp/deps/ [REDIS_PORT= MONGO_PORT=, or REDIS_URL= MONGO_URI= of your own].
	REDIS_PORT="$(REDIS_PORT)" MONGO_PORT="$(MONGO_PORT)" REDIS_URL="$(REDIS_URL)" MONGO_URI="$(MONGO_URI)" ./scripts/deps.sh up

deps-down: ## Stop the servers of deps-up.
	./scripts/deps.sh down

run-dev: ## Serve with etc/gateway.dev.yaml (MongoDB + Redis of deps-up, mock providers).
	$(NOTIFY) --config etc/gateway.dev.yaml serve --addr $(ADDR)

mongo-index: ## Create the MongoDB indexes (idempotent) on the database of CONFIG (default etc/gateway.dev.yaml).
	$(NOTIFY) --config $(or $(CONFIG),etc/gateway.dev.yaml) mongo-index

build: ## Build every crate and the notify binary.
	$(CARGO) build --workspace --all-targets

test-deps: ## Install what the integration tests need (redis-server, .venv with the Python test servers).
	./scripts/test-deps.sh

test: test-deps ## Install test servers, then fmt, clippy and the whole test suite.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

bench: ## Benchmarks in release mode: the Redis retry queue, the SMTP provider (results: docs/benchmarks.md).
	@command -v redis-server >/dev/null && [ -x .venv/bin/python ] || ./scripts/test-deps.sh
	$(CARGO) bench -p tests --bench redis_queue
	$(CARGO) bench -p tests --bench smtp_send

lint: ## rustfmt check and clippy with warnings as errors.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code.
	$(CARGO) fmt --all

notify-test: ## METHOD=email-send|sms-send|email-enqueue|sms-enqueue|admin-dlq [TO=] [PHONE=] [MOCK=1] [POLL=45]
	@case "$(METHOD)" in \
	  email-send)    $(NOTIFY) $(CONFIG_ARG) send --to "$(TO)" $(EMAIL_DATA) $(MOCK_ARG) ;; \
	  sms-send)      $(NOTIFY) $(CONFIG_ARG) send --phone "$(PHONE)" $(SMS_DATA) $(MOCK_ARG) ;; \
	  email-enqueue) $(NOTIFY) $(CONFIG_ARG) enqueue --to "$(TO)" $(EMAIL_DATA) $(MOCK_ARG) --poll $(POLL) ;; \
	  sms-enqueue)   $(NOTIFY) $(CONFIG_ARG) enqueue --phone "$(PHONE)" $(SMS_DATA) $(MOCK_ARG) --poll $(POLL) ;; \
	  admin-dlq)     if [ -n "$(MOCK_ARG)" ]; then \
	                   $(NOTIFY) $(CONFIG_ARG) dlq drill --to "$(TO)" $(EMAIL_DATA); \
	                 else \
	                   $(NOTIFY) $(CONFIG_ARG) dlq list; \
	                 fi ;; \
	  *) echo "unknown METHOD=$(METHOD); expected email-send, sms-send, email-enqueue, sms-enqueue or admin-dlq" >&2; exit 2 ;; \
	esac

clean: ## Remove build output and local test servers' files.
	$(CARGO) clean
	rm -rf .tmp
