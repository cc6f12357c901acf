# gimzoo: two commands on a fresh clone.
#   make train MODEL=vae [DATA=mnist] [ARGS="--trainer.max_epochs=10"]
#   make test
# Both create .venv (pinned torch/torchvision from constraints.txt) when it is missing.

PYTHON ?= python3
VENV   ?= .venv
MODEL  ?= vae
DATA   ?= mnist
ARGS   ?=
BENCH  ?= --all
PYTEST_ARGS ?=
CONFIG := zoo_configs/$(MODEL)-$(DATA).yaml
STAMP  := $(VENV)/.installed-stamp
BIN    := $(VENV)/bin

.PHONY: help train test bench list check-config dist gpu-check docs docs-serve

help:
	@echo "make train MODEL=<model> [DATA=<data>] [ARGS=\"...\"]   train from zoo_configs/<model>-<data>.yaml"
	@echo "make test                                             run the test suite"
	@echo "make bench [BENCH=\"--config zoo_configs/vae-mnist.yaml\"]  gimzoo vs a plain PyTorch loop, every model"
	@echo "make list                                             models, datasets and configs"
	@echo "make gpu-check                                        every model on random 3x64x64 images on the GPU(s)"
	@echo "make docs                                             the documentation site, in runs/site/ (docs-serve: live)"
	@echo "make dist                                             the wheel, in dist/ (pip install dist/gimzoo-*.whl)"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

check-config:
	@if [ ! -f "$(CONFIG)" ]; then \
	  echo "error: no config $(CONFIG) for MODEL=$(MODEL) DATA=$(DATA)." >&2; \
	  echo "available models:   $$(ls zoo_configs/*.yaml | sed -E 's|zoo_configs/||; s/-(mnist|fashion-mnist|cifar10|celeba64|ring8|grid25)(-[a-z0-9]+)?\.yaml$$//' | sort -u | tr '\n' ' ')" >&2; \
	  echo "available datasets: $$(ls zoo_configs/*.yaml | sed -nE 's/.*-(mnist|fashion-mnist|cifar10|celeba64|ring8|grid25)\.yaml$$/\1/p' | sort -u | tr '\n' ' ')" >&2; \
	  echo "available configs:  $$(ls zoo_configs/*.yaml | sed -E 's|zoo_configs/||; s/\.yaml$$//' | tr '\n' ' ')" >&2; \
	  exit 2; \
	fi

train: check-config $(STAMP)
	$(BIN)/gimzoo fit --config $(CONFIG) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m gimzoo.bench $(BENCH)

list: $(STAMP)
	$(BIN)/gimzoo list

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation . -w dist
	rm -rf build  # setuptools' scratch folder
	@ls dist/*.whl

gpu-check: $(STAMP)
	$(BIN)/python -m gimzoo.gpucheck

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

docs-serve: $(STAMP)
	$(BIN)/mkdocs serve
