# Two entry points a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
PY312 := $(shell scripts/python312 2>/dev/null)
# Python 3.12 (the Lambda runtime's version) is the one thing the machine must have; stop here,
# before anything half-runs, when it is not (`make clean` needs none).
ifeq ($(PY312),)
ifneq ($(MAKECMDGOALS),clean)
$(error Python 3.12 not found: it is the one prerequisite (the Lambda runtime's version). Install it (pyenv install 3.12, apt-get install python3.12, brew install python@3.12, or python.org) or set PYTHON312=/path/to/python3.12, then run make again)
endif
endif
VENV := .venv
BIN := $(VENV)/bin
export RAGAS_DO_NOT_TRACK := true

.PHONY: demo demo-judge test lint bench clean

$(BIN)/.installed: pyproject.toml requirements/constraints.txt
	$(PY312) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[scoring,dev]'
	touch $@

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python scripts/pins.py --check

# The pins (scripts/pins.py): requirements/constraints.txt is the lock, edited by hand with
# pyproject's top-level pins; requirements/worker.txt and layers/common/requirements.txt are
# generated from it. `make pins` installs the lock into .venv when it changed, checks that
# pyproject agrees with it and writes the two lists; `make pins-check` (part of lint) writes
# nothing, offline, and fails naming a list that is stale.
.PHONY: pins pins-check
pins: $(BIN)/.installed
	$(BIN)/python scripts/pins.py

pins-check: $(BIN)/.installed
	$(BIN)/python scripts/pins.py --check

# The tests by level (tests/conftest.py gives each its own): unit, this process alone, in
# well under a minute; integration, moto, the template and servers on loopback; e2e, the
# local stack, subprocesses, a browser. `make test` is all of them, and the checks.
.PHONY: unit integration e2e
unit: $(BIN)/.installed
	$(BIN)/pytest -q -m unit

integration: $(BIN)/.installed
	$(BIN)/pytest -q -m integration

e2e: $(BIN)/.installed
	$(BIN)/pytest -q -m e2e

test: lint sam-check template-check unit integration e2e

# The local stack in one process: submit the bundled samples through the HTTP API, wait,
# print the scores and the run folder in (moto's) S3, stop.
demo: $(BIN)/.installed
	$(BIN)/rag-eval demo

# The same with every LLM metric, offline: the scripted judge (testkit/scripted_judge.py),
# a deterministic stand-in for a model, answers in place of one.
demo-judge: $(BIN)/.installed
	$(BIN)/python -m testkit.demo_judge

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam runs .pytest_cache .ruff_cache

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
	cp --parents $$(grep -v '^#' layers/common/rag_eval_modules.txt) "$(ARTIFACTS_DIR)/python/"
	# Byte-code now: /opt is read-only in Lambda, so uncompiled modules are compiled at every
	# cold start (about 120 ms a function). Checked by hash, not by the files' times, which
	# the zip does not keep exactly.
	$(PY312) -m compileall -q --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)/python/rag_eval"
	$(PY312) -m pip install --quiet --no-deps --only-binary=:all: \
	  --platform manylinux2014_x86_64 --implementation cp --python-version 3.12 \
	  --target "$(ARTIFACTS_DIR)/python" -r layers/common/requirements.txt

.PHONY: sam-check sam-validate sam-build package-sizes sam-import-check

$(SAM_VENV)/.installed:
	$(PY312) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --upgrade pip
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==1.170.0
	touch $@

# Offline checks of template.yaml with the SAM CLI (no AWS account, no Docker).
sam-check: sam-validate sam-build package-sizes sam-import-check

sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint --region $(SAM_REGION)

# The zip functions and CommonLayer. The worker is an image: building it needs Docker or
# Finch (plain `sam build` does all three where one runs).
sam-build: $(SAM_VENV)/.installed
	rm -rf .aws-sam/build
	$(SAM) build --exclude WorkerFunction --region $(SAM_REGION)

package-sizes: sam-build
	$(SAM_VENV)/bin/python scripts/package_sizes.py .aws-sam/build

# Import each built zip handler as Lambda will: from its folder, with the layer and the
# runtime's SDK (pinned as in constraints.txt) and nothing else on the path. The API and list
# functions must not pull in the scoring stack (cold start; it is not in the layer).
LAMBDA_SDK := .aws-sam/lambda-runtime-sdk
RUNTIME_PACKAGES := boto3|botocore|s3transfer|jmespath|python-dateutil|six|urllib3

$(LAMBDA_SDK)/.installed: requirements/constraints.txt
	rm -rf $(LAMBDA_SDK)
	$(PY312) -m pip install --quiet --no-deps --target $(LAMBDA_SDK) \
	  -r <(grep -E '^($(RUNTIME_PACKAGES))==' requirements/constraints.txt)
	touch $@

sam-import-check: sam-build $(LAMBDA_SDK)/.installed
	for fn in ApiFunction ListFunction; do \
	  (cd .aws-sam/build/$$fn && \
	   PYTHONPATH="$(CURDIR)/.aws-sam/build/CommonLayer/python:$(CURDIR)/$(LAMBDA_SDK)" \
	   RAGAS_DO_NOT_TRACK=true AWS_REGION=$(SAM_REGION) AWS_DEFAULT_REGION=$(SAM_REGION) \
	   $(PY312) -S -c "import sys, app; \
	     heavy = sorted({m.split('.')[0] for m in sys.modules} & {'ragas', 'pandas', 'numpy'}); \
	     print('$$fn: app imports', f'ragas-stack modules {heavy}' if heavy else 'with the layer only'); \
	     sys.exit(bool(heavy))") || exit 1; \
	done

# --- Security and correctness findings on the template ---------------------------------
# cfn-lint (the one SAM CLI ships) and checkov: any finding fails the build. A checkov check
# that does not apply is skipped in template.yaml itself (Metadata: checkov: skip), with why.
.PHONY: template-check
CHECKOV_VENV := .venv-checkov

$(CHECKOV_VENV)/.installed:
	$(PY312) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/pip install -q checkov==3.3.30
	touch $@

template-check: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation \
	  --quiet --compact --skip-download

# --- Benchmarks (BENCHMARKS.md) ----------------------------------------------------------
# Each prints markdown tables; about 25 minutes in all. Compare modes within one run: the
# figures are ratios measured side by side, absolute times depend on the machine.
bench: $(BIN)/.installed $(SAM_VENV)/.installed
	$(BIN)/python -m bench.efficiency --sizes 1 20 200 --latency 0.2 --cap 8
	$(BIN)/python -m bench.cold_start --runs 5
	$(BIN)/python -m bench.package_size
	$(BIN)/python -m bench.memory --sizes 1 20 200 1000
	$(BIN)/python -m bench.throughput --jobs 50 --serial 10 --worker-concurrency 1 2
	$(BIN)/python -m bench.large_jobs scaling --rows 10000 --workers 1 2 4 8
	$(BIN)/python -m bench.large_jobs scaling --rows 2000 --llm --latency 0.2 --workers 1 2 4 8
	$(BIN)/python -m bench.large_jobs fairness --rows 10000 --workers 2
	$(BIN)/python -m bench.large_jobs planning --rows 100000
	$(BIN)/python -m bench.large_jobs fan-in --rows 100000
	$(BIN)/python -m bench.large_jobs full --rows 100000 --workers 2

# --- Docker: an engine, the Lambda base image, the worker image (docs/docker.md) --------
.PHONY: docker-engine docker-engine-stop lambda-base-image sam-build-image
SAM_IMAGE_BUILD := .aws-sam/build-image

# Nothing when `docker info` answers; otherwise (root, apt-get) installs Debian's docker.io
# and starts dockerd in the background (log: .build/docker-engine/dockerd.log).
docker-engine:
	scripts/docker_engine.sh start

# Stops the dockerd `make docker-engine` started, and no other.
docker-engine-stop:
	scripts/docker_engine.sh stop

# public.ecr.aws/lambda/python:3.12 (and :3.12-x86_64): AWS's, pulled, or else a stand-in
# with the same contract built from Debian, this CPython 3.12 and awslambdaric, cached by a
# hash of its inputs.
lambda-base-image: docker-engine $(SAM_VENV)/.installed
	SAM_VENV="$(CURDIR)/$(SAM_VENV)" docker/lambda-python/build.sh

# `sam build` of all three functions, the worker's image from functions/worker/Dockerfile,
# into its own build folder; then the image's size against Lambda's 10 GB limit.
sam-build-image: lambda-base-image $(SAM_VENV)/.installed
	rm -rf $(SAM_IMAGE_BUILD)
	started=$$SECONDS && $(SAM) build --region $(SAM_REGION) --build-dir $(SAM_IMAGE_BUILD) \
	  && echo "sam build (three functions, the worker's image): $$((SECONDS - started)) s"
	$(PY312) scripts/worker_image.py $(SAM_IMAGE_BUILD)
