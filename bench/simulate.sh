#!/usr/bin/env bash
# bench/simulate.sh - how long `switchyard simulate` takes for a million requests
# (docs/simulate.md, "Speed").
#
# Usage: bench/simulate.sh [BUILD_DIR]
# Builds nothing: expects BUILD_DIR (default $BUILD or ./build) to hold
# router/switchyard and plugins/. Runs policies/holysheep-migration.yaml with the
# bad-day scenario's traffic mix (50 requests/s, half streamed, 80/20 models, a
# canary that goes bad at 10 minutes and a region outage) stretched to REQUESTS
# requests, and prints the wall time (and the CPU time, from `time`) of the run.
#
# Environment:
#   BUILD=DIR           build directory (the first argument wins)
#   REQUESTS=1000000    about how many requests to simulate
#   SEED=1
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-${BUILD:-$root/build}}
bin=$build/router/switchyard
[ -x "$bin" ] || { echo "bench/simulate.sh: $bin not found (build first)" >&2; exit 2; }
export SWITCHYARD_PLUGIN_PATH=${SWITCHYARD_PLUGIN_PATH:-$build/plugins}
requests=${REQUESTS:-1000000}
seed=${SEED:-1}
rate=50
duration=$(( requests / rate ))

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/scenario.yaml" <<YAML
duration: ${duration}s
traffic: {rate: $rate, users: 5000, models: {gpt-4.1: 0.8, gpt-4o-mini: 0.2}, stream_share: 0.5}
outcomes:
  openai-official: [{from: 0m, error_rate: 0.001, latency: {p50: 400ms, p95: 900ms}}]
  holysheep:
    - {from: 0m,  error_rate: 0.002, status: 503, latency: {p50: 120ms, p95: 300ms}}
    - {from: 10m, error_rate: 0.05}
  holysheep/cn-east: [{from: 20m, outage: 5m}]
YAML

echo "switchyard simulate: $requests requests (${duration} s of traffic at $rate/s), seed $seed"
time "$bin" simulate "$root/policies/holysheep-migration.yaml" --scenario "$tmp/scenario.yaml" \
    --seed "$seed" --timing > "$tmp/report.txt"
sed -n '/^summary/,$p' "$tmp/report.txt"
