#!/usr/bin/env bash
# Installs (once) and starts LocalStack (community core) in host mode, without Docker, on loopback,
# for the `localstack` conformance target. The community edition answers S3, KMS and SNS here.
#
#   start-localstack.sh          install if missing, start, wait until healthy, print its endpoint
#   start-localstack.sh install  install if missing, print the virtualenv's path (the bench starts it itself)
#   start-localstack.sh stop     stop the instance this script started
#
# Environment:
#   CONFORMANCE_PEERS_DIR  where the virtualenv, state, pid file and log live
#                          (default: ${XDG_CACHE_HOME:-~/.cache}/conformance-peers)
#   LS_PORT                port (default: a free one)
#   LS_PYTHON              an interpreter >= 3.12 (default: the first of python3.13, python3.12,
#                          pyenv's 3.13.x/3.12.x, python3 that is recent enough)
#   LS_WAIT                seconds to wait for health (default 120)
#
# localstack-core declares Python >= 3.10 but its code needs 3.12. The extra pins keep imports
# working that newer cbor2 / pyOpenSSL releases break, and add service_identity, which its
# twisted dependency needs. GATEWAY_SERVER=hypercorn: the default server binds every interface.
#
# Exit status 2 means "cannot be installed here" (no Python >= 3.12, no network): callers skip.
set -euo pipefail

LS_VERSION="2026.3.0"
PINS=("localstack-core[runtime]==$LS_VERSION" 'cbor2<6' 'pyopenssl==25.3.0' 'cryptography>=45,<47' 'service_identity<26')
DIR="${CONFORMANCE_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/conformance-peers}"
VENV="$DIR/localstack-venv"
PIDF="$DIR/localstack.pid"
LOG="$DIR/localstack.log"
mkdir -p "$DIR"

if [ "${1:-}" = "stop" ]; then
  [ -f "$PIDF" ] || { echo "localstack: not running (no $PIDF)" >&2; exit 0; }
  PID=$(cat "$PIDF")
  if kill -0 "$PID" 2>/dev/null; then
    kill "$PID"
    for _ in $(seq 1 40); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
    # its server's shutdown can hang: then SIGKILL this one process
    kill -0 "$PID" 2>/dev/null && kill -9 "$PID" || true
  fi
  rm -f "$PIDF"
  echo "localstack: stopped pid $PID" >&2
  exit 0
fi

pick_python() {
  if [ -n "${LS_PYTHON:-}" ]; then echo "$LS_PYTHON"; return 0; fi
  local root c p
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for c in python3.13 python3.12 "$root"/versions/3.13*/bin/python3 "$root"/versions/3.12*/bin/python3 python3; do
    p=$(command -v "$c" 2>/dev/null || true)
    [ -n "$p" ] || continue
    if "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

installed() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "
import sys, importlib.metadata as m
import localstack.runtime.main, cbor2._decoder, service_identity
sys.exit(0 if m.version('localstack-core') == '$LS_VERSION' else 1)" 2>/dev/null
}

if ! installed; then
  if ! PY=$(pick_python); then
    echo "localstack: SKIPPED: host mode needs Python >= 3.12 (none found; set LS_PYTHON)" >&2
    exit 2
  fi
  echo "localstack: installing localstack-core==$LS_VERSION into $VENV with $PY ..." >&2
  rm -rf "$VENV"
  if ! "$PY" -m venv "$VENV" >&2 \
    || ! "$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}" >&2; then
    rm -rf "$VENV"
    echo "localstack: SKIPPED: localstack-core could not be installed (no network?)" >&2
    exit 2
  fi
fi

if [ "${1:-}" = "install" ]; then
  echo "$VENV"
  exit 0
fi

PORT="${LS_PORT:-$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
URL="http://127.0.0.1:$PORT"
if curl -s -m 2 -o /dev/null "$URL/_localstack/health"; then
  echo "localstack: something already answers on $URL" >&2
  exit 1
fi

# LocalStack empties $TMPDIR/localstack at start and stop: give it a directory of its own.
mkdir -p "$DIR/localstack-tmp" "$DIR/localstack-fs" "$DIR/localstack-volume"
START=$(date +%s%N)
(
  export TMPDIR="$DIR/localstack-tmp" FILESYSTEM_ROOT="$DIR/localstack-fs" LOCALSTACK_VOLUME_DIR="$DIR/localstack-volume"
  export GATEWAY_LISTEN="127.0.0.1:$PORT" GATEWAY_SERVER=hypercorn LOCALSTACK_HOST="127.0.0.1:$PORT"
  export SERVICES="${LS_SERVICES:-s3,kms,sns,sts}"
  export DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 SKIP_INFRA_DOWNLOADS=1
  exec setsid "$VENV/bin/python" -m localstack.runtime.main
) >"$LOG" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PIDF"
for _ in $(seq 1 $((${LS_WAIT:-120} * 4))); do
  if curl -s -m 2 -o /dev/null "$URL/_localstack/health"; then
    echo "localstack: pid $PID healthy on $URL after $((($(date +%s%N) - START) / 1000000)) ms (log: $LOG)" >&2
    echo "$URL"
    exit 0
  fi
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "localstack: exited at start; end of $LOG:" >&2
    tail -20 "$LOG" >&2
    rm -f "$PIDF"
    exit 1
  fi
  sleep 0.25
done
echo "localstack: not healthy after ${LS_WAIT:-120} s (log: $LOG)" >&2
exit 1
