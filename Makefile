# Keydeck's one task runner. CI runs `make test` (through .ci/run).
#   make           build the desktop app (keydeck) and the command line (kdk)
#   make run       build and start the desktop app on the demo workspace
#   make deb       the release .deb: the app, kdk, kdk's man page and shell completions
#   make test      lint, then every test: Rust unit and integration tests, web view tests, the
#                  server against its OpenAPI document (schemathesis), and the end-to-end tests
#                  in a real window with a real keychain and clipboard
#   make bench     the benchmarks, printing each ratio with its target
#   make lint      rustfmt, clippy, prettier, eslint, svelte-check: warnings are errors
#   make server    start only the workspace server with demo data on 127.0.0.1:8080
#   make openapi   regenerate crates/server/openapi.json after an intended API change
#   make bindings  regenerate ui/src/lib/backend/types.ts after changing a wire type

CARGO ?= cargo
DEMO_DB ?= $(HOME)/.local/share/keydeck/demo-server.db
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/package.json

.PHONY: build deb deps ui run server test test-unit api-check e2e lint bench bench-server bench-app openapi bindings

build: ui
	$(CARGO) build -p keydeck-app -p keydeck-cli --locked

deps:
	@./scripts/install-deps.sh

node_modules/.package-lock.json: package-lock.json ui/package.json
	npm ci --no-audit --no-fund

ui/dist/index.html: node_modules/.package-lock.json $(UI_SOURCES)
	npm run build -w ui

ui: deps ui/dist/index.html

run: ui
	$(CARGO) run -p keydeck-app --bin keydeck -- --demo

server: deps
	@mkdir -p $(dir $(DEMO_DB))
	$(CARGO) run -p keydeck-server -- serve --demo --db $(DEMO_DB)

lint: ui
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	npm run lint -w ui
	npm run check -w ui

# Rust tests run inside a throwaway desktop (Xvfb, D-Bus, unlocked gnome-keyring), so the
# keychain and clipboard tests use the real ones; the server's API suite then runs a second
# time on PostgreSQL; the end-to-end tests then drive the app
# binary those builds produced.
test-unit: ui
	npm run test -w ui
	./scripts/with-desktop.sh $(CARGO) test --workspace --locked --exclude keydeck-e2e
	@echo "The server's API suite again, on PostgreSQL (a server of the run's own):"
	./scripts/with-postgres.sh $(CARGO) test -p keydeck-server --locked --test api

# The same build as test-unit's (so nothing is rebuilt), which makes the keydeck and
# keydeck-server binaries.
e2e: ui
	$(CARGO) test --workspace --locked --exclude keydeck-e2e --no-run
	./scripts/with-desktop.sh $(CARGO) test -p keydeck-e2e --locked -- --test-threads=1

# The server against its own OpenAPI document (schemathesis from PyPI, in a virtual
# environment under ~/.cache/keydeck), with a session token and with an API key.
api-check: deps
	$(CARGO) build -p keydeck-server --locked
	./scripts/api-conformance.sh "$${CARGO_TARGET_DIR:-target}/debug/keydeck-server"

test: lint test-unit api-check e2e

# The server's figures, then the app's: `tauri build` makes the release binary and the .deb
# whose size is one of them.
bench: ui
	@status=0; \
	$(MAKE) --no-print-directory bench-server || status=1; \
	$(MAKE) --no-print-directory bench-app || status=1; \
	exit $$status

# Each program alone; `make bench` runs both even when the first misses a figure.
bench-server: deps
	./scripts/with-postgres.sh $(CARGO) bench -p keydeck-server --bench server --locked

deb: ui
	./scripts/stage-cli.sh
	npx tauri build --bundles deb

bench-app: deb
	./scripts/with-desktop.sh $(CARGO) bench -p keydeck-e2e --bench app --locked

openapi: deps
	UPDATE_SNAPSHOTS=1 $(CARGO) test -p keydeck-server --test api openapi

bindings: deps
	UPDATE_SNAPSHOTS=1 $(CARGO) test -p keydeck-core --test typescript
