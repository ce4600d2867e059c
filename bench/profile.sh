#!/usr/bin/env bash
# bench/profile.sh - instructions per request of switchyard, per function (callgrind).
#
# Usage: bench/profile.sh [BUILD_DIR]
# Runs `switchyard serve --workers 1` under valgrind's callgrind in front of the
# same build's mock-upstream (--chunks 5), on the realistic policy (POLICY=full,
# bench/policies.sh) or the minimal one (POLICY=minimal). For a plain and for a
# streamed request (6 SSE events to the client): WARM requests, then the counters
# are zeroed (callgrind_control -z), REQUESTS requests are sent by bench/client.py
# over 4 keep-alive connections (x-user-id u1..u1000, the client key), and the
# counters are dumped (callgrind_control -d). Instruction counts are user space
# only (libc, libcurl, libevent included; the kernel not) and do not move with
# whatever else runs on the machine, unlike CPU time. What the background
# timers did during the counted requests (access-log flush, rollback window,
# health probes) is in the totals: it scales with wall time, a few %.
#
# Prints per mode the instructions per request and the top functions
# (inclusive and self), and leaves the callgrind files in $OUT for
# callgrind_annotate / kcachegrind.
#
# Environment: POLICY=full|minimal, REQUESTS=2000, WARM=200, MODES="plain stream",
#   TOP=40 (functions listed), OUT=bench/results/profile-STAMP, STRACE=1 (also count
#   the proxy's system calls per request with strace -c, natively), CALLGRIND=0 (skip
#   callgrind: with STRACE=1, system calls only).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_ARG=${1:-${BUILD:-$ROOT/build}}
BUILD=$(cd "$BUILD_ARG" 2>/dev/null && pwd) || { echo "profile: no build directory '$BUILD_ARG'" >&2; exit 2; }
POLICY=${POLICY:-full}
REQUESTS=${REQUESTS:-2000}
WARM=${WARM:-200}
MODES=${MODES:-"plain stream"}
TOP=${TOP:-40}
STRACE=${STRACE:-0}
OUT=${OUT:-$ROOT/bench/results/profile-$(date +%Y%m%d-%H%M%S)}
BODY=$ROOT/bench/chat-1k.json
CLIENT=$ROOT/bench/client.py

die() { echo "profile: $*" >&2; exit 2; }
note() { echo "profile: $*" >&2; }
command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"
SY_BIN=${SY_BIN:-$BUILD/router/switchyard}
[ -x "$SY_BIN" ] || die "$SY_BIN not built"
# shellcheck source=bench/policies.sh
. "$ROOT/bench/policies.sh"

mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/switchyard-profile.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

python3 - "$BODY" "$TMP/stream.json" <<'EOF'
import json, sys
body = json.load(open(sys.argv[1]))
out = {"model": body.pop("model"), "stream": True}
out.update(body)
open(sys.argv[2], "wb").write(json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode())
EOF

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

"$BUILD/tools/mock-upstream" --listen 127.0.0.1:0 --port-file "$TMP/mock.port" --chunks 5 > "$TMP/mock.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$TMP/mock.port" ] && break; sleep 0.1; done
MOCK=http://127.0.0.1:$(cat "$TMP/mock.port")

PORT=$(free_port)
if [ "$POLICY" = full ]; then
    full_policy "$PORT" "$MOCK" "$TMP/access.log" "$TMP/state.json" > "$TMP/policy.yaml"
else
    minimal_policy "$PORT" "$MOCK" > "$TMP/policy.yaml"
fi
cp "$TMP/policy.yaml" "$OUT/policy-$POLICY.yaml"
URL=http://127.0.0.1:$PORT/v1/chat/completions

wait_up() { # PID
    for _ in $(seq 1 300); do
        kill -0 "$1" 2>/dev/null || return 1
        python3 "$CLIENT" load "$URL" "$BODY" --requests 1 --conns 1 > /dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

summary=$OUT/summary.txt
: > "$summary"
CALLGRIND=${CALLGRIND:-1}
for mode in $MODES; do
    [ "$CALLGRIND" = 1 ] || break
    body=$BODY
    [ "$mode" = stream ] && body=$TMP/stream.json
    cg=$OUT/callgrind.$POLICY-$mode
    valgrind --tool=callgrind --callgrind-out-file="$cg.%p" --dump-instr=no \
        "$SY_BIN" serve -c "$TMP/policy.yaml" --workers 1 > "$OUT/serve-$mode.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_up "$pid" || die "switchyard did not start under valgrind (see $OUT/serve-$mode.log)"
    python3 "$CLIENT" load "$URL" "$body" --requests "$WARM" --conns 4 > /dev/null
    callgrind_control -z "$pid" > /dev/null
    python3 "$CLIENT" load "$URL" "$body" --requests "$REQUESTS" --conns 4 > "$TMP/client.txt"
    callgrind_control -d "$pid" > /dev/null
    grep -q "non200=0" "$TMP/client.txt" || die "$mode: $(cat "$TMP/client.txt")"
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    dump=$(ls "$cg.$pid".* 2>/dev/null | grep -v "\.$pid$" | head -n 1)
    [ -n "$dump" ] || die "no callgrind dump for $mode"
    mv "$dump" "$cg.counted"
    rm -f "$cg.$pid"
    python3 "$ROOT/bench/cg_top.py" "$cg.counted" "$REQUESTS" "$POLICY $mode" "$TOP" | tee -a "$summary"
done

if [ "$STRACE" = 1 ] && command -v strace >/dev/null; then
    for mode in $MODES; do
        body=$BODY
        [ "$mode" = stream ] && body=$TMP/stream.json
        "$SY_BIN" serve -c "$TMP/policy.yaml" --workers 1 > /dev/null 2>&1 &
        pid=$!
        PIDS+=("$pid")
        wait_up "$pid" || die "switchyard did not start"
        python3 "$CLIENT" load "$URL" "$body" --requests "$WARM" --conns 4 > /dev/null
        strace -c -f -p "$pid" -o "$OUT/strace-$mode.txt" &
        spid=$!
        sleep 1
        python3 "$CLIENT" load "$URL" "$body" --requests "$REQUESTS" --conns 4 > /dev/null
        kill -INT "$spid"
        wait "$spid" 2>/dev/null || true
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
        echo "== system calls per $mode request ($REQUESTS requests; strace -c -f):" | tee -a "$summary"
        awk -v n="$REQUESTS" 'NF >= 5 && $4 ~ /^[0-9]+$/ && $NF != "total" {printf "   %6.2f  %s\n", $4 / n, $NF}' \
            "$OUT/strace-$mode.txt" | sort -rn | head -n 12 | tee -a "$summary"
    done
fi
note "callgrind files and annotations in $OUT"
