# recon: one rule per target; each calls the recon CLI. Normally run through ./make-recipe-target.
# RECIPE names a directory in descriptions/. HTTP_DIR overrides where `http` puts its tree.
RECIPE    ?= debian-12
BUILD_DIR ?= build
HTTP_DIR  ?= $(BUILD_DIR)/$(RECIPE)/http
RECON     := bin/recon
BUNDLE    := dist/recon.mjs
SOURCES   := $(shell find src -name '*.ts' ! -name '*.test.ts' 2>/dev/null)

.PHONY: all help host-tools host-tools-test node-deps describe target http shell repack virtual disk lab clean \
        test test-unit test-integration test-e2e typecheck lint-layers lint format-check format bench

all help:
	@./make-recipe-target $(RECIPE) all

# --- set-up: every host tool and npm dependency, only what is missing -----------------------
host-tools:
	@scripts/install-host-tools.sh build

host-tools-test:
	@scripts/install-host-tools.sh test

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

node-deps: node_modules/.package-lock.json

$(BUNDLE): $(SOURCES) scripts/bundle.mjs node_modules/.package-lock.json
	node scripts/bundle.mjs $(BUNDLE)

# --- image targets ----------------------------------------------------------------------------
describe: node-deps $(BUNDLE)
	$(RECON) build describe $(RECIPE) --build-dir $(BUILD_DIR)

target: host-tools node-deps $(BUNDLE)
	$(RECON) build image $(RECIPE) --profile DracutLive --build-dir $(BUILD_DIR)

http: host-tools node-deps $(BUNDLE)
	$(RECON) build http $(RECIPE) --build-dir $(BUILD_DIR) --http-dir $(HTTP_DIR)

# The built image's root by hand: `shell` extracts it once (build/<recipe>/shell-root) and runs a
# shell there with systemd-nspawn, or the command in CMD; `repack` makes squashfs and ISO again
# from it, no kiwi, boot records kept; the stamp then says the image was changed by hand.
shell: host-tools node-deps
	$(RECON) build shell $(RECIPE) --build-dir $(BUILD_DIR)

repack: host-tools node-deps
	$(RECON) build repack $(RECIPE) --build-dir $(BUILD_DIR)

virtual: host-tools node-deps $(BUNDLE)
	$(RECON) build image $(RECIPE) --profile Virtual --build-dir $(BUILD_DIR)

disk: host-tools node-deps $(BUNDLE)
	$(RECON) build image $(RECIPE) --profile Disk --build-dir $(BUILD_DIR)

# The virtual data centre (recon lab): builds or reuses the ISO, then runs in the foreground.
# FIRMWARE: bios|uefi|uefi-sb|uefi-http|uefi-http-sb|mixed, or one kind per peer (bios,uefi-sb,uefi-http),
# whose length is the peer count; PEERS (default 2) only when given.
PEERS    ?=
FIRMWARE ?= mixed
MASTER_FIRMWARE ?= bios
# ROOTS: each peer's root transport by position (http|nbd, comma-separated; default http), e.g. ROOTS=nbd,http.
LAB_DIR  ?= /var/tmp/recon-lab
lab: target host-tools-test
	$(RECON) lab up --recipe $(RECIPE) --build-dir $(BUILD_DIR) $(if $(PEERS),--peers $(PEERS)) --firmware $(FIRMWARE) --master-firmware $(MASTER_FIRMWARE) $(if $(ROOTS),--roots $(ROOTS)) --dir $(LAB_DIR)

clean: node-deps
	$(RECON) build clean $(RECIPE) --build-dir $(BUILD_DIR)

# --- tests: installs what they need, then every tier ------------------------------------------
# Finished ISOs are cached outside the work tree, keyed by the description hash, so a clean
# clone with an unchanged description reuses the last build (any change rebuilds).
export RECON_IMAGE_CACHE ?= /var/cache/recon/images

# make test's start (parse time, before its prerequisites): the e2e tier ends 71 min after it
# (test/helpers/tier-budget.ts), so the whole run ends within 75 min.
test: export RECON_TEST_STARTED := $(shell date +%s)
test: host-tools-test node-deps $(BUNDLE)
	npx tsc --noEmit
	npx depcruise src --config .dependency-cruiser.cjs --output-type err
	npx eslint $(LINT_FILES)
	npx prettier --check $(FORMAT_FILES)
	npx vitest run --project unit
	npx vitest run --project integration
	npx vitest run --project e2e

test-unit: node-deps
	npx vitest run --project unit

test-integration: host-tools-test node-deps $(BUNDLE)
	npx vitest run --project integration

test-e2e: host-tools-test node-deps $(BUNDLE)
	npx vitest run --project e2e

typecheck: node-deps
	npx tsc --noEmit

# The layer rule (.dependency-cruiser.cjs): lib → model → boot, inventory → ipmi, review → roles → cli.ts.
lint-layers: node-deps
	npx depcruise src --config .dependency-cruiser.cjs --output-type err

# ESLint (eslint.config.js: typescript-eslint, type-aware) and Prettier (.prettierrc.json) on the
# code: src/, test/, bench/, scripts/*.mjs and the two configs. embedded.ts is generated (ignored by
# both); `format` regenerates it, since it embeds static/app.js.
LINT_FILES   := src test bench scripts eslint.config.js vitest.config.ts
FORMAT_FILES := 'src/**/*.ts' 'src/review/ui/static/*.js' 'test/**/*.ts' 'test/**/*.mjs' 'bench/**/*.ts' 'scripts/*.mjs' eslint.config.js vitest.config.ts
lint: node-deps
	npx eslint $(LINT_FILES)

format-check: node-deps
	npx prettier --check $(FORMAT_FILES)

format: node-deps
	npx prettier --write $(FORMAT_FILES)
	npx tsx src/review/ui/embed.ts

# One JSON object per benchmark; build-image takes ~15 min (cold + cached build), lab ~15 min.
BENCH ?= firmware-cost ingest iso-serving fleet-sim agent ui inventory-normalize lab build-image
bench: host-tools-test node-deps $(BUNDLE)
	@for b in $(BENCH); do node --import tsx bench/$$b.ts || exit 1; done
