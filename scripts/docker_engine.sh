#!/usr/bin/env bash
# A Docker engine for `sam build` of the worker image and for the image tests.
#
#   scripts/docker_engine.sh start   nothing when `docker info` answers; otherwise, as root,
#                                    installs Debian's docker.io (and mmdebstrap, which the
#                                    stand-in Lambda base image is made with) with apt-get when
#                                    missing, starts dockerd in the background and waits until
#                                    it answers. Exits 1 with one line saying why it cannot.
#   scripts/docker_engine.sh stop    stops the dockerd that `start` started, and no other.
#
# dockerd keeps its images in its default data root (/var/lib/docker), so the base image and
# the layers of the worker's dependencies stay cached across `make clean`; its log and the
# process id `stop` reads are in .build/docker-engine/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.build/docker-engine"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
WAIT_SECONDS="${DOCKER_ENGINE_WAIT_SECONDS:-60}"

fail() { echo "docker-engine: $*" >&2; exit 1; }

answers() { docker info >/dev/null 2>&1; }

# The pid in $PIDFILE, if it is a live dockerd (a recycled pid is not ours).
our_dockerd() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] || return 1
  echo "$pid"
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 \
    || fail "no Docker engine answers and ${missing[*]} cannot be installed here (no apt-get): start Docker yourself"
  echo "docker-engine: installing ${missing[*]} with apt-get (log: ${LOG#"$ROOT"/}) ..."
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } \
    >>"$LOG" 2>&1 || fail "apt-get install ${missing[*]} failed; see ${LOG#"$ROOT"/}"
}

# Starts dockerd with the given extra options; 0 once `docker info` answers.
launch() {
  local pid
  echo "--- $(date -u +%FT%TZ) dockerd $*" >>"$LOG"
  setsid dockerd "$@" </dev/null >>"$LOG" 2>&1 &
  pid=$!
  echo "$pid" >"$PIDFILE"
  for _ in $(seq $((WAIT_SECONDS * 2))); do
    answers && return 0
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 1; }
    sleep 0.5
  done
  kill -TERM "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  return 1
}

start() {
  if answers; then
    echo "docker-engine: running (server $(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] \
    || fail "no Docker engine answers and starting one needs root (uid $(id -u)): start Docker yourself"
  mkdir -p "$STATE"
  install_packages
  if pid="$(our_dockerd)"; then
    fail "the dockerd started here before (pid $pid) is alive but does not answer; see ${LOG#"$ROOT"/}"
  fi
  local started=$SECONDS logged
  logged="$(wc -l <"$LOG" 2>/dev/null || echo 0)"
  # The default bridge with NAT, so that image builds reach the package registries; where the
  # kernel has no iptables, without it (containers then reach only the host).
  if launch; then
    echo "docker-engine: dockerd started (pid $(cat "$PIDFILE"), $((SECONDS - started)) s; log ${LOG#"$ROOT"/})"
  elif tail -n +"$((logged + 1))" "$LOG" | grep -q -i iptables \
    && launch --iptables=false --ip-masq=false; then
    echo "docker-engine: dockerd started without iptables (pid $(cat "$PIDFILE"), $((SECONDS - started)) s):" \
      "containers reach the host only, not the registries"
  else
    fail "dockerd did not answer within ${WAIT_SECONDS} s: $(tail -n 1 "$LOG")"
  fi
}

stop() {
  local pid
  if ! pid="$(our_dockerd)"; then
    rm -f "$PIDFILE"
    echo "docker-engine: no dockerd started by scripts/docker_engine.sh is running"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -0 "$pid" 2>/dev/null && fail "dockerd (pid $pid) did not stop within 30 s"
  rm -f "$PIDFILE"
  echo "docker-engine: dockerd (pid $pid) stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) fail "usage: $0 start|stop" ;;
esac
