#!/bin/sh
# fuzz.sh - build the libFuzzer harnesses (fuzz/fuzz_*.c) with clang and run each one.
#
# Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]
#   SECONDS   how long each harness runs (default 60)
#   HARNESS   which ones: policy, http, ... (default: every fuzz-* program built)
# Environment:
#   BUILD_DIR  build directory (default build-fuzz, next to this script's parent)
#   JOBS       parallel fuzzing processes per harness (default 1; libFuzzer -fork=N)
#   FUZZ_ARGS  extra libFuzzer flags, e.g. "-max_len=65536 -dict=my.dict"
#
# Examples:
#   scripts/fuzz.sh                 # every harness, 60 s each
#   scripts/fuzz.sh 600 policy      # the policy loader for ten minutes
#
# Each harness runs over a COPY of its seed corpus (fuzz/corpus/NAME/), in
# BUILD_DIR/fuzz-work/NAME/corpus, so new inputs never land in the source tree.
# Crashes, leaks and timeouts are written to BUILD_DIR/fuzz-work/NAME/ as
# crash-*, leak-*, timeout-*, oom-*. Reproduce one with
#   BUILD_DIR/fuzz/fuzz-NAME BUILD_DIR/fuzz-work/NAME/crash-...
# and once fixed, copy it into fuzz/corpus/NAME/ so the test suite
# (fuzz-replay-NAME, suite "fuzz") replays it under ASan/UBSan forever.
#
# The whole tree is compiled with -fsanitize=fuzzer-no-link so libFuzzer sees
# coverage of the core library, not just of the harness file.
# Exit status: 0 when no harness found anything, 1 otherwise.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
[ $# -gt 0 ] && shift
build=${BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-1}

case $seconds$jobs in
    *[!0-9]*) echo "usage: $0 [SECONDS] [HARNESS...]  (JOBS must be a number)" >&2; exit 2 ;;
esac

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Dtests=false \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link
fi

if [ $# -eq 0 ]; then
    set -- $(cd "$root/fuzz" && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//')
fi
targets=
for name in "$@"; do targets="$targets fuzz/fuzz-$name"; done
# shellcheck disable=SC2086
ninja -C "$build" $targets

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
for name in "$@"; do
    bin=$build/fuzz/fuzz-$name
    work=$build/fuzz-work/$name
    mkdir -p "$work/corpus"
    if [ -d "$root/fuzz/corpus/$name" ]; then
        cp -R "$root/fuzz/corpus/$name/." "$work/corpus/"
    fi
    echo "== fuzz-$name: ${seconds}s, corpus $work/corpus"
    parallel=
    [ "$jobs" -gt 1 ] && parallel="-fork=$jobs"
    # shellcheck disable=SC2086
    if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 $parallel \
            -print_final_stats=1 \
            -artifact_prefix="$work/" ${FUZZ_ARGS:-} "$work/corpus" \
            >"$work/log.txt" 2>&1; then
        failed=1
        echo "!! fuzz-$name found a problem: see $work/log.txt and"
        echo "   $work/crash-* / leak-* / timeout-* / oom-*"
        tail -n 40 "$work/log.txt"
    else
        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' \
            "$work/log.txt" || true
        echo "   ok (log: $work/log.txt)"
    fi
done
exit $failed
