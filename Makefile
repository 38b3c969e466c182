# agent-safe developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help
help: ## List the commands
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: test
test: lint rust-test python-test manifests package ## The whole test suite (what CI runs)
	@echo "all checks passed"

.PHONY: lint
lint: ## rustfmt and clippy (warnings are errors)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

.PHONY: rust-test
rust-test: ## Rust unit, integration, property and snapshot tests
	cargo test --workspace --locked --no-fail-fast

.PHONY: python-test
python-test: ## Build the wheel, install it in a fresh venv, run ruff, stubtest and pytest
	@if [ -x scripts/python-ci.sh ]; then scripts/python-ci.sh; else echo "python-test: scripts/python-ci.sh not present yet"; fi

.PHONY: manifests
manifests: ## Validate deploy/ manifests and generated RBAC offline against the Kubernetes schemas
	@if [ -x scripts/validate-manifests.sh ]; then scripts/validate-manifests.sh; else echo "manifests: scripts/validate-manifests.sh not present yet"; fi

.PHONY: package
package: ## Release packaging: cargo publish --dry-run and maturin sdist
	scripts/package-check.sh

.PHONY: bench
bench: ## Criterion benchmarks (engine, audit)
	cargo bench -p agent-safe-core

.PHONY: demo
demo: ## Build and run the demo on the bundled defaults
	cargo run --release --locked -p agent-safe-cli -- demo

.PHONY: fmt
fmt: ## Format everything
	cargo fmt --all
