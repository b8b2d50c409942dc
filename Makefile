# Keydeck's one task runner. CI runs `make test` (through .ci/run).
#   make run     start the demo workspace server (the desktop app arrives with issue #3)
#   make test    lint, then every test
#   make bench   the benchmarks, printing each ratio with its target
#   make lint    rustfmt and clippy, warnings as errors
#   make openapi regenerate crates/server/openapi.json after an intended API change

CARGO ?= cargo
DEMO_DB ?= $(HOME)/.local/share/keydeck/demo-server.db

.PHONY: deps run test lint bench openapi

deps:
	@./scripts/install-deps.sh

run: deps
	@mkdir -p $(dir $(DEMO_DB))
	$(CARGO) run -p keydeck-server -- serve --demo --db $(DEMO_DB)

lint: deps
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# Every test runs inside a throwaway desktop (Xvfb, D-Bus, unlocked gnome-keyring), so the
# keychain and clipboard tests use the real ones.
test: lint
	./scripts/with-desktop.sh $(CARGO) test --workspace --locked

bench: deps
	$(CARGO) bench -p keydeck-server --bench server --locked

openapi: deps
	UPDATE_SNAPSHOTS=1 $(CARGO) test -p keydeck-server --test api openapi
