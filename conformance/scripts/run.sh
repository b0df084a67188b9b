#!/usr/bin/env bash
# Runs the conformance scenarios against one target or all, then prints conformance-report.md.
#
#   conformance/scripts/run.sh [emulator|moto|localstack|all]     (default: emulator)
#
# emulator:   in-process, nothing to set up.
# moto:       installs moto[server] in a virtualenv (start-moto.sh) and starts it on loopback.
# localstack: installs localstack-core (host mode, Python >= 3.12) and starts it on loopback
#             (start-localstack.sh); or set CONFORMANCE_ENDPOINT to use a LocalStack already
#             running (e.g. `docker compose -f docker-compose.localstack.yml up -d`).
# A peer that cannot be installed or started here is reported as SKIPPED and does not fail the
# run. The exit status is non-zero when any scenario fails on any target that ran.
#
# Environment: CARGO_TARGET_DIR as for cargo; CONFORMANCE_PEERS_DIR for the peers' virtualenvs.
set -uo pipefail
cd "$(dirname "$0")/../.."
HERE=conformance/scripts
WHAT="${1:-emulator}"
case "$WHAT" in
  emulator | moto | localstack) TARGETS=("$WHAT") ;;
  all) TARGETS=(emulator moto localstack) ;;
  *) echo "usage: $0 [emulator|moto|localstack|all]" >&2; exit 2 ;;
esac

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
RESULTS="$TARGET_DIR/conformance"
mkdir -p "$RESULTS"
rm -rf "$RESULTS"/results-*.jsonl "$RESULTS"/wall-*.txt "$RESULTS"/journals-*
export CONFORMANCE_RESULTS_DIR="$(cd "$RESULTS" && pwd)"

status=0
cargo build -q -p conformance --tests --bin conformance-report || exit 1

run_target() { # target endpoint
  local target=$1 endpoint=${2:-} start end rc
  rm -f "$RESULTS/results-$target.jsonl" "$RESULTS/wall-$target.txt"
  echo "== conformance: $target${endpoint:+ at $endpoint}"
  start=$(date +%s%N)
  # Every call is journaled on the client's side; the report replays the journals on the emulator.
  CONFORMANCE_TARGET=$target CONFORMANCE_ENDPOINT=$endpoint CONFORMANCE_RECORD_DIR="$CONFORMANCE_RESULTS_DIR/journals-$target" \
    cargo test -q -p conformance --test scenarios
  rc=$?
  end=$(date +%s%N)
  echo "$(((end - start) / 1000000)) ms" | awk '{ printf "%.1f s\n", $1 / 1000 }' >"$RESULTS/wall-$target.txt"
  [ $rc -eq 0 ] || status=1
}

start_peer() { # script → sets ENDPOINT, returns 0 if started, 2 if it cannot run here
  local out rc
  out=$("$HERE/$1")
  rc=$?
  ENDPOINT=$out
  return $rc
}

for t in "${TARGETS[@]}"; do
  case "$t" in
    emulator) run_target emulator ;;
    moto)
      if start_peer start-moto.sh; then
        run_target moto "$ENDPOINT"
        "$HERE/start-moto.sh" stop
      else
        echo "== conformance: moto SKIPPED (could not be installed or started here)"
      fi
      ;;
    localstack)
      if [ -n "${CONFORMANCE_ENDPOINT:-}" ]; then
        run_target localstack "$CONFORMANCE_ENDPOINT"
      elif start_peer start-localstack.sh; then
        run_target localstack "$ENDPOINT"
        "$HERE/start-localstack.sh" stop
      elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        # No Python for host mode, but a Docker daemon answers: the compose file's LocalStack.
        if docker compose -f docker-compose.localstack.yml up -d --wait; then
          run_target localstack "http://127.0.0.1:4566"
        else
          echo "== conformance: localstack SKIPPED (docker compose could not start it)"
        fi
        docker compose -f docker-compose.localstack.yml down >/dev/null 2>&1 || true
      else
        echo "== conformance: localstack SKIPPED (host mode could not be installed here, and no Docker daemon answers for docker-compose.localstack.yml)"
      fi
      ;;
  esac
done

echo "== conformance report"
cargo run -q -p conformance --bin conformance-report -- --out "$RESULTS/conformance-report.md" || status=1
exit $status
