# Aliases for the commands the README and CI run; the logic lives in scripts/.
PYTHON ?= python3.11
VENV ?= .venv

.PHONY: setup run test lint bench

setup:
	@PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/setup.sh

run: setup
	@VENV=$(VENV) sh scripts/run.sh

test: setup
	@VENV=$(VENV) sh scripts/test.sh

lint: setup
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: setup
	@$(VENV)/bin/python bench/pages.py
	@$(VENV)/bin/python bench/launch_storm.py
	@$(VENV)/bin/python bench/localcloud.py
	@$(VENV)/bin/python bench/dashboard.py
