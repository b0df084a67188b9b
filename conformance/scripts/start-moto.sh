#!/usr/bin/env bash
# Installs (once) and starts moto server on loopback for the `moto` conformance target.
#
#   start-moto.sh          install if missing, start, wait until it answers, print its endpoint
#   start-moto.sh install  install if missing, print the virtualenv's path (the bench starts it itself)
#   start-moto.sh stop     stop the instance this script started
#
# Environment:
#   CONFORMANCE_PEERS_DIR  where the virtualenv, pid file and log live
#                          (default: ${XDG_CACHE_HOME:-~/.cache}/conformance-peers)
#   MOTO_PORT              port (default: a free one)
#   MOTO_PYTHON            interpreter for the virtualenv (default: python3)
#   MOTO_WAIT              seconds to wait for it to answer (default 60)
#
# Exit status 2 means "cannot be installed here" (no Python, no network): callers skip the target.
set -euo pipefail

MOTO_VERSION="5.2.5"
DIR="${CONFORMANCE_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/conformance-peers}"
VENV="$DIR/moto-venv"
PIDF="$DIR/moto.pid"
LOG="$DIR/moto.log"
mkdir -p "$DIR"

if [ "${1:-}" = "stop" ]; then
  [ -f "$PIDF" ] || { echo "moto: not running (no $PIDF)" >&2; exit 0; }
  PID=$(cat "$PIDF")
  if kill -0 "$PID" 2>/dev/null; then
    kill "$PID"
    for _ in $(seq 1 20); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$PID" 2>/dev/null && kill -9 "$PID" || true
  fi
  rm -f "$PIDF"
  echo "moto: stopped pid $PID" >&2
  exit 0
fi

free_port() {
  "${MOTO_PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if ! command -v "${MOTO_PYTHON:-python3}" >/dev/null 2>&1; then
  echo "moto: SKIPPED: no ${MOTO_PYTHON:-python3} on PATH" >&2
  exit 2
fi

if [ ! -x "$VENV/bin/moto_server" ] || ! "$VENV/bin/python" -c "import moto, sys; sys.exit(0 if moto.__version__ == '$MOTO_VERSION' else 1)" 2>/dev/null; then
  echo "moto: installing moto[server]==$MOTO_VERSION into $VENV ..." >&2
  rm -rf "$VENV"
  if ! "${MOTO_PYTHON:-python3}" -m venv "$VENV" >&2 \
    || ! "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2; then
    rm -rf "$VENV"
    echo "moto: SKIPPED: moto[server]==$MOTO_VERSION could not be installed (no network or no venv support)" >&2
    exit 2
  fi
fi

if [ "${1:-}" = "install" ]; then
  echo "$VENV"
  exit 0
fi

PORT="${MOTO_PORT:-$(free_port)}"
URL="http://127.0.0.1:$PORT"
if curl -s -m 2 -o /dev/null "$URL/moto-api/"; then
  echo "moto: something already answers on $URL" >&2
  exit 1
fi

START=$(date +%s%N)
setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PIDF"
for _ in $(seq 1 $((${MOTO_WAIT:-60} * 10))); do
  if curl -s -m 2 -o /dev/null "$URL/moto-api/"; then
    echo "moto: pid $PID answering on $URL after $((($(date +%s%N) - START) / 1000000)) ms (log: $LOG)" >&2
    echo "$URL"
    exit 0
  fi
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "moto: exited at start; end of $LOG:" >&2
    tail -20 "$LOG" >&2
    rm -f "$PIDF"
    exit 1
  fi
  sleep 0.1
done
echo "moto: not answering after ${MOTO_WAIT:-60} s (log: $LOG)" >&2
exit 1
