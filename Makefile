# keras-drifa developer commands. See README.md.
PYTHON ?= python3
VENV ?= .venv
BACKEND ?= jax
BACKENDS ?= tensorflow jax torch
PYTEST_ARGS ?=
DEMO_ARGS ?=

BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt

.PHONY: help venv test test-one demo benchmark clean

help:
	@echo "make test                 set up $(VENV) and run the suite on: $(BACKENDS)"
	@echo "make test-one BACKEND=jax run the suite on one backend"
	@echo "make demo [BACKEND=jax]   set up and run examples/quickstart.py"
	@echo "make benchmark            run benchmarks/train_step.py on each backend"

# The test environment: the package with every backend and extra, pinned by the constraints.
$(BIN)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[all,cv,viz,test]"
	touch $@

venv: $(BIN)/.installed

# The demo environment: the package with one backend and the plotting extra, nothing else.
DEMO_VENV := .venv-demo-$(BACKEND)
$(DEMO_VENV)/bin/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install --quiet --upgrade pip
	$(DEMO_VENV)/bin/pip install --quiet -c $(CONSTRAINTS) -e ".[$(BACKEND),viz]"
	touch $@

demo: $(DEMO_VENV)/bin/.installed
	KERAS_BACKEND=$(BACKEND) $(DEMO_VENV)/bin/python examples/quickstart.py $(DEMO_ARGS)

test: venv
	BACKENDS="$(BACKENDS)" PYTEST_ARGS="$(PYTEST_ARGS)" PYTHON=$(BIN)/python scripts/test_all_backends.sh

test-one: venv
	KERAS_BACKEND=$(BACKEND) $(BIN)/python -m pytest $(PYTEST_ARGS)

benchmark: venv
	for b in $(BACKENDS); do KERAS_BACKEND=$$b $(BIN)/python benchmarks/train_step.py; done

clean:
	rm -rf $(VENV) .venv-demo-* build dist *.egg-info .pytest_cache outputs
