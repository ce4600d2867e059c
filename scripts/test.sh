#!/usr/bin/env bash
# Install, build and run every test: once in a normal build and once under
# AddressSanitizer + UndefinedBehaviorSanitizer, warnings as errors. The
# integration tests start the real binary and a mock upstream on 127.0.0.1;
# the SDK test uses the official `openai` npm package (installed here).
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
command -v node >/dev/null 2>&1 || extra+=(nodejs)
command -v npm >/dev/null 2>&1 || extra+=(npm)
./scripts/install-deps.sh "${extra[@]}"

echo "== npm: the openai SDK for the SDK test"
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

run_suite() { # build-dir, meson options...
  local dir=$1; shift
  if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null; else meson setup "$dir" "$@" >/dev/null; fi
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2
}

# Criterion logs [RUN ]/[PASS] with the time of each test case, so the log of
# a unit-test binary that timed out tells a test body that hangs from its
# runner (one forked worker per case, LeakSanitizer at each worker's exit).
export CRITERION_VERBOSITY_LEVEL=1

status=0
echo "== plain build"
run_suite build-test -Dwerror=true || status=1
echo "== ASan + UBSan build"
run_suite build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=undefined || status=1

# One plain closing line for both runs.
passed=0; failed=0
for d in build-test build-asan; do
  log="$d/meson-logs/testlog.json"
  [ -f "$log" ] || continue
  p=$(grep -c '"result": "OK"' "$log" || true)
  f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
exit $status
