# Two entry points a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PY312 := $(shell scripts/python312)
VENV := .venv
BIN := $(VENV)/bin
export RAGAS_DO_NOT_TRACK := true

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml requirements/constraints.txt
	$(PY312) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[scoring,dev]'
	touch $@

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -q

demo: $(BIN)/.installed
	$(BIN)/rag-eval score --file rag_eval/sample_data/samples.jsonl --out runs/demo

clean:
	rm -rf $(VENV) .aws-sam runs .pytest_cache .ruff_cache

# --- AWS SAM ---------------------------------------------------------------------------
# SAM CLI pins boto3 exactly, so it gets its own virtual environment.
SAM_VENV := .venv-sam
SAM := SAM_CLI_TELEMETRY=0 PATH="$(dir $(PY312)):$$PATH" $(SAM_VENV)/bin/sam
SAM_REGION := us-east-1

.PHONY: build-CommonLayer

# Called by `sam build` (CommonLayer has BuildMethod: makefile) with ARTIFACTS_DIR set.
# Wheels for Lambda's platform, whatever machine builds.
build-CommonLayer:
	rm -rf "$(ARTIFACTS_DIR)/python"
	mkdir -p "$(ARTIFACTS_DIR)/python"
	cp -R rag_eval "$(ARTIFACTS_DIR)/python/rag_eval"
	rm -rf "$(ARTIFACTS_DIR)/python/rag_eval/local"
	find "$(ARTIFACTS_DIR)/python" -name __pycache__ -prune -exec rm -rf {} +
	$(PY312) -m pip install --quiet --no-deps --only-binary=:all: \
	  --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 \
	  --target "$(ARTIFACTS_DIR)/python" -r layers/common/requirements.txt
