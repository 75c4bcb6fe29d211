#!/usr/bin/env bash
# The worker's base image, public.ecr.aws/lambda/python:3.12, and the :3.12-x86_64 tag that
# `sam local` builds zip functions' images from: AWS's own, pulled, when the registry can be
# reached; otherwise a stand-in with the same contract, built from parts that can be reached
# (Debian's archive, PyPI, this machine's CPython 3.12 and the SAM CLI's runtime interface
# emulator). The stand-in carries a label with the hash of all its inputs and is rebuilt
# only when they change. docs/docker.md says what it is and how it differs from AWS's image.
#
# Usage: docker/lambda-python/build.sh        (make lambda-base-image; needs a Docker engine)
# Environment: LAMBDA_BASE_PULL=0 skips the pull; SAM_VENV (default .venv-sam) is where the
# runtime interface emulator is taken from; CA_BUNDLE (default Debian's bundle) is the CA
# bundle the image trusts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/docker/lambda-python"
WORK="$ROOT/.build/lambda-python"
IMAGE=public.ecr.aws/lambda/python
TAGS=(3.12 3.12-x86_64)
LABEL=org.ragas-serverless.lambda-base.inputs
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
SAM_VENV="${SAM_VENV:-$ROOT/.venv-sam}"
# The SDK the managed runtime ships, pinned as in requirements/constraints.txt (as the
# Makefile's LAMBDA_SDK is for the zip functions' import check).
SDK_PACKAGES='boto3|botocore|s3transfer|jmespath|python-dateutil|six|urllib3'

# The Debian root file system: minbase plus what CPython's extension modules link against.
SUITE=bookworm
MIRRORS=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
PACKAGES=ca-certificates,libbz2-1.0,libcrypt1,libexpat1,libffi8,liblzma5,libncursesw6,libnsl2,libreadline8,libsqlite3-0,libssl3,libtirpc3,libuuid1,zlib1g
SOURCE_DATE_EPOCH=1700000000  # file dates in the root file system

say() { echo "lambda-base-image: $*"; }
fail() { echo "lambda-base-image: $*" >&2; exit 1; }

docker info >/dev/null 2>&1 || fail "no Docker engine answers (make docker-engine starts one)"

image_label() {  # the stand-in's input hash, "" for AWS's image, nothing when absent
  docker image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null
}

tag_all() {  # every tag names the image of the first
  local tag
  for tag in "${TAGS[@]:1}"; do docker tag "$IMAGE:${TAGS[0]}" "$IMAGE:$tag"; done
}

# 1. AWS's image, pulled before or now.
mkdir -p "$ROOT/.build"
if label="$(image_label "$IMAGE:${TAGS[0]}")" && { [ -z "$label" ] || [ "$label" = "<no value>" ]; }; then
  tag_all
  say "AWS's $IMAGE:${TAGS[0]} is here"
  exit 0
fi
if [ "${LAMBDA_BASE_PULL:-1}" != 0 ]; then
  if timeout 300 docker pull --platform linux/amd64 "$IMAGE:${TAGS[0]}" >/dev/null 2>"$ROOT/.build/lambda-base-pull.log"; then
    tag_all
    say "pulled AWS's $IMAGE:${TAGS[0]}"
    exit 0
  fi
  say "cannot pull $IMAGE:${TAGS[0]} ($(tail -n 1 "$ROOT/.build/lambda-base-pull.log" | cut -c1-120)); using the stand-in"
fi

# 2. The stand-in: its inputs and their hash.
PY="$("$ROOT/scripts/python312")"
PREFIX="$("$PY" -c 'import sys; print(sys.base_prefix)')"
LIBPYTHON="$PREFIX/lib/libpython3.12.so.1.0"
RIE="$(ls "$SAM_VENV"/lib/python3.*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64 2>/dev/null | head -n 1)"
[ -n "$RIE" ] || fail "no runtime interface emulator in $SAM_VENV (make .venv-sam/.installed installs the SAM CLI)"
[ -f "$LIBPYTHON" ] || fail "$PY is not a shared-library build of CPython (no $LIBPYTHON)"
[ -f "$CA_BUNDLE" ] || fail "no CA bundle at $CA_BUNDLE (set CA_BUNDLE)"
sdk_pins() { grep -E "^($SDK_PACKAGES)==" "$ROOT/requirements/constraints.txt"; }
rootfs_recipe() { printf '%s\n' "$SUITE" "$PACKAGES" "$SOURCE_DATE_EPOCH" "${MIRRORS[@]}"; }
inputs() {
  (cd "$HERE" && find . -type f -not -path "*/__pycache__/*" | LC_ALL=C sort | xargs sha256sum)
  sdk_pins
  rootfs_recipe
  "$PY" -c 'import sys; print(sys.version)'
  sha256sum "$LIBPYTHON" "$RIE" "$CA_BUNDLE" | cut -d' ' -f1
}
HASH="$(inputs | sha256sum | cut -c1-64)"
if [ "$(image_label "$IMAGE:${TAGS[0]}")" = "$HASH" ]; then
  tag_all
  say "stand-in $IMAGE:${TAGS[0]} is current (inputs ${HASH:0:12})"
  exit 0
fi

started=$SECONDS
rm -rf "$WORK"
mkdir -p "$WORK/context/wheels/lang" "$WORK/context/wheels/runtime" "$WORK/context/lang"

# The root file system, imported once per recipe.
ROOTFS="ragas-serverless/debian-minbase:$SUITE-$(rootfs_recipe | sha256sum | cut -c1-12)"
if ! docker image inspect "$ROOTFS" >/dev/null 2>&1; then
  command -v mmdebstrap >/dev/null 2>&1 \
    || fail "mmdebstrap is not installed (make docker-engine installs it with apt-get)"
  say "Debian $SUITE minbase with mmdebstrap ..."
  SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH mmdebstrap --quiet --variant=minbase \
    --include="$PACKAGES" "$SUITE" "$WORK/rootfs.tar" "${MIRRORS[@]}"
  docker import "$WORK/rootfs.tar" "$ROOTFS" >/dev/null
  rm -f "$WORK/rootfs.tar"
fi

# CPython 3.12 as /var/lang: the interpreter, its library, the standard library; not its test
# suite, its static library, its site-packages (pip is installed fresh) or its scripts.
say "CPython $("$PY" -c 'import platform; print(platform.python_version())') from $PREFIX ..."
tar -C "$PREFIX" -cf - \
  --exclude=./lib/python3.12/test --exclude='./lib/python3.12/site-packages/*' \
  --exclude='./lib/python3.12/config-3.12-*/*.a' --exclude=./share \
  ./bin/python3.12 ./bin/python3 ./bin/python ./include ./lib \
  | tar -C "$WORK/context/lang" -xf -

# Wheels (exact pins, no resolving), fetched here so that the image build needs no network.
download() {
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --implementation cp --python-version 3.12 --platform manylinux_2_34_x86_64 \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 "$@" 2>>"$WORK/pip.log" \
    || fail "pip download failed: $(grep -v '^WARNING: Location' "$WORK/pip.log" | tail -n 5)"
}
say "wheels: pip, awslambdaric, the SDK ($(sdk_pins | tr '\n' ' '))"
download --dest "$WORK/context/wheels/lang" --requirement "$HERE/lang-requirements.txt"
download --dest "$WORK/context/wheels/runtime" --requirement "$HERE/runtime-requirements.txt" \
  --requirement <(sdk_pins)

cp "$HERE"/{Dockerfile,lambda-entrypoint.sh,bootstrap,bootstrap.py,pip.conf} "$WORK/context/"
cp "$CA_BUNDLE" "$WORK/context/ca-certificates.crt"
install -m 0755 "$RIE" "$WORK/context/aws-lambda-rie"

say "docker build ..."
build_args=(--network none --force-rm --build-arg "ROOTFS=$ROOTFS" --label "$LABEL=$HASH")
for tag in "${TAGS[@]}"; do build_args+=(--tag "$IMAGE:$tag"); done
DOCKER_BUILDKIT=0 docker build --quiet "${build_args[@]}" "$WORK/context" >/dev/null 2>"$WORK/build.log" \
  || fail "docker build failed: $(tail -n 5 "$WORK/build.log")"
rm -rf "$WORK/context"

# What image builds and the runtime rely on.
docker run --rm --entrypoint /bin/bash "$IMAGE:${TAGS[0]}" -c '
  set -e
  test -x /lambda-entrypoint.sh && test -x /var/runtime/bootstrap && test -x /usr/local/bin/aws-lambda-rie
  test "$(pwd)" = /var/task
  python -c "import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, readline, decimal, hashlib"
  pip --version >/dev/null
  PYTHONPATH=/var/runtime python -m pip check >/dev/null
  PYTHONPATH=/var/runtime python -c "import awslambdaric, boto3"
' || fail "the built image does not hold its contract"
size="$(docker image inspect --format '{{.Size}}' "$IMAGE:${TAGS[0]}")"
say "built stand-in $IMAGE:${TAGS[0]} (and :${TAGS[1]}), inputs ${HASH:0:12}," \
  "$((size / 1000000)) MB, in $((SECONDS - started)) s"
