#!/usr/bin/env bash
# bench/run.sh - switchyard's proxy benchmark (see bench/README.md).
#
# Usage: bench/run.sh [BUILD_DIR]
# Builds nothing: expects BUILD_DIR (default $BUILD or ./build) to hold
# tools/mock-upstream and router/switchyard. In one run, on loopback, it loads
#   direct           wrk -> mock-upstream
#   nginx            wrk -> nginx (1 worker, upstream keepalive 64) -> mock-upstream
#   switchyard       wrk -> switchyard serve --workers 1 (minimal policy) -> mock-upstream
#   switchyard-full  the same on a realistic policy: two providers, 10 % sticky
#                    rollout, retry with a retry budget, breakers, fallbacks,
#                    health checks, rate limit, client keys, access log to a file
# with a ~1 KB chat request at each of $CONNS connections, once as a plain JSON
# answer and once streamed (6 SSE events), and prints a markdown table (also
# written to bench/results/). A target that is not available (no nginx, or a
# switchyard without a working `serve`) is skipped with a message.
#
# Environment:
#   BUILD=DIR            build directory (the first argument wins)
#   DURATION=10s         wrk run time per row
#   WARMUP=2s            untimed wrk run before each target's plain rows and its streamed rows
#   CONNS="1 64 256"     connection counts
#   TARGETS="direct nginx switchyard switchyard-full"
#   STREAM=both          both: plain and streamed rows; 0: plain only; 1: streamed only
#   CHUNKS=5             content events of a streamed answer (mock-upstream --chunks);
#                        with the closing [DONE] a stream has CHUNKS+1 events
#   USERS=1000           x-user-id values u1..uN that requests carry in turn (bench/chat.lua;
#                        0: no x-user-id, one static request)
#   SERVER_CPUS=0        CPU list for the proxy under test (taskset -c)
#   MOCK_CPUS=$SERVER_CPUS  CPU list for mock-upstream
#   WRK_CPUS=1           CPU list for wrk
#   PIN=1                0 to run without taskset
#   NGINX=nginx          nginx binary
#   NGINX_KEEPALIVE=64   idle upstream connections nginx keeps (upstream keepalive)
#   BODY=bench/chat-1k.json  request body
#   RESULTS=bench/results    where results go
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_ARG=${1:-${BUILD:-$ROOT/build}}
BUILD=$(cd "$BUILD_ARG" 2>/dev/null && pwd) || { echo "bench: no build directory '$BUILD_ARG'" >&2; exit 2; }
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-"1 64 256"}
TARGETS=${TARGETS:-"direct nginx switchyard switchyard-full"}
STREAM=${STREAM:-both}
CHUNKS=${CHUNKS:-5}
USERS=${USERS:-1000}
SERVER_CPUS=${SERVER_CPUS:-0}
MOCK_CPUS=${MOCK_CPUS:-$SERVER_CPUS}
WRK_CPUS=${WRK_CPUS:-1}
PIN=${PIN:-1}
NGINX=${NGINX:-nginx}
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-64}
BODY=${BODY:-$ROOT/bench/chat-1k.json}
RESULTS=${RESULTS:-$ROOT/bench/results}

MOCK_BIN=$BUILD/tools/mock-upstream
SY_BIN=$BUILD/router/switchyard
LUA=$ROOT/bench/chat.lua
CLK_TCK=$(getconf CLK_TCK)

die() { echo "bench: $*" >&2; exit 2; }
note() { echo "bench: $*" >&2; }

[ -x "$MOCK_BIN" ] || die "$MOCK_BIN not found: build first (ninja -C $BUILD)"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"
[ -r "$BODY" ] || die "no request body $BODY"
BODY=$(cd "$(dirname "$BODY")" && pwd)/$(basename "$BODY")
case $STREAM in
both) MODES="plain stream" ;;
0) MODES="plain" ;;
1) MODES="stream" ;;
*) die "STREAM must be both, 0 or 1 (not '$STREAM')" ;;
esac
export USERS   # read by bench/chat.lua

NOISE_CPU=""   # the CPU that proxy and mock have to themselves, when they do
# Command prefixes (arrays, not functions: a background function would be a
# subshell, and $! its PID instead of the server's).
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    ON_SERVER=(taskset -c "$SERVER_CPUS")
    ON_MOCK=(taskset -c "$MOCK_CPUS")
    ON_WRK=(taskset -c "$WRK_CPUS")
    PINNING="wrk on CPU $WRK_CPUS; proxy on CPU $SERVER_CPUS; mock-upstream on CPU $MOCK_CPUS"
    # With proxy and mock alone on one CPU, what else ran there is measurable.
    if [[ $SERVER_CPUS =~ ^[0-9]+$ ]] && [ "$MOCK_CPUS" = "$SERVER_CPUS" ]; then
        NOISE_CPU=$SERVER_CPUS
    fi
else
    ON_SERVER=()
    ON_MOCK=()
    ON_WRK=()
    PINNING="no CPU pinning"
fi

TMP=$(mktemp -d /tmp/switchyard-bench.XXXXXX)
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$RESULTS/$STAMP
mkdir -p "$OUT"
ROWS=$OUT/rows.csv
echo "target,mode,conns,requests,duration_us,p50_us,p99_us,non2xx,socket_errors,proxy_cpu_us,mock_cpu_us,proxy_rss_kb,proxy_hwm_kb,upstream_requests,upstream_by_endpoint,access_log_lines,other_cpu_pct" > "$ROWS"
: > "$OUT/skipped.txt"

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The streamed rows send the same body with "stream": true.
STREAM_BODY=$TMP/$(basename "$BODY" .json)-stream.json
python3 - "$BODY" "$STREAM_BODY" <<'EOF' || die "$BODY is not a JSON object"
import json, sys
body = json.load(open(sys.argv[1]))
out = {"model": body.pop("model"), "stream": True}
out.update(body)
open(sys.argv[2], "wb").write(json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode())
EOF
body_of() { # MODE
    if [ "$1" = stream ]; then echo "$STREAM_BODY"; else echo "$BODY"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# utime+stime of a process (all its threads), in clock ticks.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# "busy total" clock ticks of CPU N since boot (steal counts as busy: not ours).
cpu_busy_total() { # N
    [ -n "$1" ] || return 0
    awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t}' /proc/stat
}

status_kb() { # PID FIELD
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

mock_stats() { # FILE: what each mock endpoint saw so far (GET /_stats)
    curl -s "http://127.0.0.1:$MOCK_PORT/_stats" > "$1"
}

# POST a body to URL with what wrk sends (the client key switchyard-full asks for).
post() { # URL BODY_FILE [curl options...]
    local url=$1 body=$2
    shift 2
    curl -s -m 2 -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-bench-client' \
        --data-binary "@$body" "$@" "$url" 2>/dev/null
}

# Wait until URL answers the chat request with a mock answer; 0 when it does.
wait_ready() { # URL PID NAME
    for _ in $(seq 1 100); do
        if ! kill -0 "$2" 2>/dev/null; then
            note "$3 exited during start-up"
            return 1
        fi
        if post "$1" "$BODY" | grep -q '"chatcmpl-mock"'; then
            return 0
        fi
        sleep 0.1
    done
    note "$3 did not answer the chat request at $1 within 10 s"
    return 1
}

# A streamed request through URL must come back as CHUNKS+1 SSE events, the last [DONE].
stream_ok() { # URL
    post "$1" "$STREAM_BODY" -N | python3 -c '
import sys
events = [l for l in sys.stdin.read().splitlines() if l.startswith("data:")]
ok = len(events) == int(sys.argv[1]) + 1 and events[-1].strip() == "data: [DONE]" \
    and all("chatcmpl-mock" in e for e in events[:-1])
sys.exit(0 if ok else 1)' "$CHUNKS"
}

skip() { # TARGET WHY
    note "skipping $1: $2"
    echo "$1: $2" >> "$OUT/skipped.txt"
}

# Run wrk at each connection count against URL; PROXY_PID may be empty (direct).
# ACCESS_LOG, when set, is the proxy's access log: emptied before each row, its
# lines counted after it.
run_rows() { # TARGET MODE URL PROXY_PID
    local target=$1 mode=$2 url=$3 proxy=$4 c log line p0 p1 m0 m1 n0 n1 body alog_lines
    body=$(body_of "$mode")
    BODY_FILE=$body "${ON_WRK[@]}" wrk -t1 -c64 -d"$WARMUP" -s "$LUA" "$url" > /dev/null
    for c in $CONNS; do
        log=$OUT/wrk-$target-$mode-c$c.txt
        if [ -n "${ACCESS_LOG:-}" ]; then
            sleep 0.5   # the server flushes its log every 200 ms: let the last lines land
            : > "$ACCESS_LOG"
        fi
        mock_stats "$TMP/stats0.json"
        n0=$(cpu_busy_total "$NOISE_CPU")
        m0=$(cpu_ticks "$MOCK_PID")
        p0=${proxy:+$(cpu_ticks "$proxy")}
        BODY_FILE=$body "${ON_WRK[@]}" wrk -t1 -c"$c" -d"$DURATION" --timeout 5s -s "$LUA" "$url" > "$log"
        m1=$(cpu_ticks "$MOCK_PID")
        p1=${proxy:+$(cpu_ticks "$proxy")}
        n1=$(cpu_busy_total "$NOISE_CPU")
        mock_stats "$TMP/stats1.json"
        alog_lines=""
        if [ -n "${ACCESS_LOG:-}" ]; then
            sleep 0.5
            alog_lines=$(wc -l < "$ACCESS_LOG")
        fi
        line=$(grep '^BENCH ' "$log") || die "wrk printed no result for $target ($mode) at $c connections (see $log)"
        python3 - "$line" "$target" "$mode" "$c" "$CLK_TCK" "$m0" "$m1" "${p0:-}" "${p1:-}" \
            "${proxy:+$(status_kb "$proxy" VmRSS)}" "${proxy:+$(status_kb "$proxy" VmHWM)}" \
            "$TMP/stats0.json" "$TMP/stats1.json" "$alog_lines" "$n0" "$n1" >> "$ROWS" <<'EOF'
import json, sys
line, target, mode, conns, tck, m0, m1, p0, p1, rss, hwm, s0, s1, alog, n0, n1 = sys.argv[1:]
kv = dict(f.split("=") for f in line.split()[1:])
req = int(kv["requests"])
per = lambda a, b: "%.2f" % ((int(b) - int(a)) * 1e6 / int(tck) / req) if a and req else ""
sock = sum(int(kv[k]) for k in ("connect_err", "read_err", "write_err", "timeouts"))
before, after = json.load(open(s0)), json.load(open(s1))
seen = lambda st, name: st["endpoints"].get(name, {}).get("requests", 0)
by_ep = " ".join("%s:%d" % (n, seen(after, n) - seen(before, n)) for n in sorted(after["endpoints"])
                 if seen(after, n) > seen(before, n))
# Other work on the servers' CPU: its busy ticks that were neither the proxy's nor the mock's.
noise = ""
if n0 and n1:
    (b0, t0), (b1, t1) = map(int, n0.split()), map(int, n1.split())
    ours = int(m1) - int(m0) + (int(p1) - int(p0) if p0 else 0)
    noise = "%.0f" % max(0.0, 100.0 * (b1 - b0 - ours) / (t1 - t0)) if t1 > t0 else ""
print(",".join(str(x) for x in (target, mode, conns, req, kv["duration_us"], kv["p50_us"], kv["p99_us"],
                               kv["non2xx"], sock, per(p0, p1), per(m0, m1), rss, hwm,
                               after["total"] - before["total"], by_ep, alog, noise)))
EOF
        tail -n 1 "$ROWS" | awk -F, '{printf "bench: %-15s %-6s c=%-4s %8.0f req/s  p50 %s us  p99 %s us  CPU %s us/req\n", $1, $2, $3, $4 / ($5 / 1e6), $6, $7, $10}' >&2
    done
}

# Each of MODES through its URL (streamed rows only when a test stream comes through whole).
run_modes() { # TARGET PLAIN_URL STREAM_URL PROXY_PID
    local mode
    for mode in $MODES; do
        if [ "$mode" = plain ]; then
            run_rows "$1" plain "$2" "$4"
        elif stream_ok "$3"; then
            run_rows "$1" stream "$3" "$4"
        else
            skip "$1 (stream)" "a test stream through $3 did not come back as $((CHUNKS + 1)) events ending in [DONE]"
        fi
    done
}

# Other work on the machine skews every number: measure how idle it is first.
cpu_idle_pct() {
    local a b
    a=$(awk '/^cpu /{t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6}' /proc/stat)
    sleep 1
    b=$(awk '/^cpu /{t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6}' /proc/stat)
    echo "$a $b" | awk '{d = $3 - $1; print (d > 0 ? int(100 * ($4 - $2) / d) : 100)}'
}
IDLE=$(cpu_idle_pct)
if [ "$IDLE" -lt 90 ]; then
    BUSY="the machine was only $IDLE% idle before the run: other work skews these numbers"
    note "warning: $BUSY"
else
    BUSY=""
fi

# --- mock-upstream ---------------------------------------------------------
"${ON_MOCK[@]}" "$MOCK_BIN" --listen 127.0.0.1:0 --port-file "$TMP/mock.port" --chunks "$CHUNKS" \
    > "$TMP/mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
for _ in $(seq 1 50); do [ -s "$TMP/mock.port" ] && break; sleep 0.1; done
[ -s "$TMP/mock.port" ] || die "mock-upstream did not start: $(cat "$TMP/mock.log")"
MOCK_PORT=$(cat "$TMP/mock.port")
wait_ready "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" "$MOCK_PID" mock-upstream ||
    die "mock-upstream does not answer"

# The minimal policy: one openai provider, everything else at its defaults, no log.
minimal_policy() { # PORT
    cat <<EOF
# generated by bench/run.sh: one openai provider pointing at mock-upstream
version: 1
server:
  listen: 127.0.0.1:$1
  access_log: "off"
plugins:
  path: [$BUILD/plugins]
providers:
  mock:
    plugin: openai
    api_key: sk-bench-upstream
    endpoints:
      - {name: local, base_url: "http://127.0.0.1:$MOCK_PORT/v1"}
migration:
  stable: mock
EOF
}

# The realistic policy: every layer `serve` acts on (bench/README.md). Left out:
# what `serve` does not act on yet (`validate` warns about it): migration.rollback
# and rollout.steps/step_after; and the monthly `budget` (not acted on when this
# was written). The mock tells its "regions" apart by the path before /v1
# (tools/README.md).
export SY_BENCH_CLIENT_KEY=sk-bench-client SY_BENCH_ADMIN_KEY=sk-bench-admin \
    SY_BENCH_OFFICIAL_KEY=sk-bench-official SY_BENCH_RELAY_KEY=sk-bench-relay
full_policy() { # PORT ACCESS_LOG
    local mock=http://127.0.0.1:$MOCK_PORT
    cat <<EOF
# generated by bench/run.sh: a realistic migration policy in front of mock-upstream
version: 1
server:
  listen: 127.0.0.1:$1
  client_keys: \${SY_BENCH_CLIENT_KEY}
  admin_key: \${SY_BENCH_ADMIN_KEY}
  access_log: $2
  request_timeout: 30s
plugins:
  path: [$BUILD/plugins]
providers:
  official:                              # stable
    plugin: openai
    api_key: \${SY_BENCH_OFFICIAL_KEY}
    connect_timeout: 2s
    first_byte_timeout: 10s
    endpoints:
      - {name: official-a, base_url: "$mock/official-a/v1", priority: 1}
      - {name: official-b, base_url: "$mock/official-b/v1", priority: 2}
    health_check: {path: /models, interval: 5s, timeout: 2s, unhealthy_after: 3, healthy_after: 2}
    prices:
      gpt-4o-mini: {input: 0.15, output: 0.60}
  relay:                                 # canary
    plugin: openai
    api_key: \${SY_BENCH_RELAY_KEY}
    balance: latency
    connect_timeout: 2s
    first_byte_timeout: 10s
    endpoints:
      - {name: relay-a, base_url: "$mock/relay-a/v1", priority: 1}
      - {name: relay-b, base_url: "$mock/relay-b/v1", priority: 2}
    health_check: {path: /models, interval: 5s, timeout: 2s, unhealthy_after: 3, healthy_after: 2}
retry:
  max_attempts: 3
  on: [connect_error, timeout, 408, 429, 500, 502, 503, 504]
  backoff: {base: 100ms, max: 2s, jitter: full}
  retry_after: {honor: true, max: 10s}
  budget: {ratio: 0.2, min_per_second: 10}
breaker:
  failure_threshold: 5
  success_threshold: 2
  open_for: 30s
  half_open_max_calls: 3
rate_limit: {rps: 1000000}
models:
  fallbacks:
    gpt-4o-mini: [gpt-4o, gpt-4.1-mini]
  prices:
    gpt-4o-mini: {input: 0.15, output: 0.60}
    gpt-4o: {input: 2.50, output: 10.00}
    gpt-4.1-mini: {input: 0.40, output: 1.60}
migration:
  stable: official
  canary: relay
  rollout:
    id: bench-rollout
    percent: 10
    sticky_by: [header:x-user-id, body:user]
    canary_endpoints: [relay-a, relay-b]
  fallback_to_stable: true
EOF
}

for target in $TARGETS; do
    case $target in
    direct)
        note "direct: mock-upstream on 127.0.0.1:$MOCK_PORT"
        url="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
        run_modes direct "$url" "$url" ""
        ;;
    nginx)
        if ! command -v "$NGINX" >/dev/null; then
            skip nginx "no nginx binary ($NGINX)"
            continue
        fi
        port=$(free_port)
        stream_port=$(free_port)
        mkdir -p "$TMP/nginx/logs"
        user_line=""
        [ "$(id -u)" = 0 ] && user_line="user root;"
        cat > "$TMP/nginx/nginx.conf" <<EOF
# generated by bench/run.sh: one worker reverse proxy to mock-upstream
$user_line
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    keepalive_requests 1000000;
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive $NGINX_KEEPALIVE;
        keepalive_requests 1000000;
    }
    server {    # plain rows
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {    # streamed rows: pass each event on as it comes
        listen 127.0.0.1:$stream_port;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
        "${ON_SERVER[@]}" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' \
            > "$TMP/nginx/logs/stdout.log" 2>&1 &
        nginx_pid=$!
        PIDS+=("$nginx_pid")
        if ! wait_ready "http://127.0.0.1:$port/v1/chat/completions" "$nginx_pid" nginx; then
            skip nginx "did not start: $(tail -n 3 "$TMP/nginx/logs/error.log" "$TMP/nginx/logs/stdout.log" 2>/dev/null | tr '\n' ' ')"
            continue
        fi
        worker=$(pgrep -P "$nginx_pid" | head -n 1)
        [ -n "$worker" ] || { skip nginx "no worker process"; continue; }
        note "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$port, streams on :$stream_port (worker pid $worker)"
        run_modes nginx "http://127.0.0.1:$port/v1/chat/completions" \
            "http://127.0.0.1:$stream_port/v1/chat/completions" "$worker"
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
        ;;
    switchyard | switchyard-full)
        if [ ! -x "$SY_BIN" ]; then
            skip "$target" "$SY_BIN not built"
            continue
        fi
        port=$(free_port)
        policy=$TMP/$target.yaml
        ACCESS_LOG=""
        if [ "$target" = switchyard ]; then
            minimal_policy "$port" > "$policy"
        else
            ACCESS_LOG=$TMP/$target-access.log
            full_policy "$port" "$ACCESS_LOG" > "$policy"
        fi
        cp "$policy" "$OUT/"
        if ! "$SY_BIN" validate "$policy" > "$TMP/$target-validate.log" 2>&1; then
            skip "$target" "the generated policy does not validate: $(head -n 3 "$TMP/$target-validate.log" | tr '\n' ' ')"
            continue
        fi
        "${ON_SERVER[@]}" "$SY_BIN" serve -c "$policy" --workers 1 > "$OUT/$target.log" 2>&1 &
        sy_pid=$!
        PIDS+=("$sy_pid")
        url="http://127.0.0.1:$port/v1/chat/completions"
        if ! wait_ready "$url" "$sy_pid" "$target"; then
            skip "$target" "serve did not start or did not proxy: $(tail -n 3 "$OUT/$target.log" | tr '\n' ' ')"
            continue
        fi
        note "$target on 127.0.0.1:$port (pid $sy_pid)"
        run_modes "$target" "$url" "$url" "$sy_pid"
        if [ "$target" = switchyard-full ]; then
            # Breakers, health and retries as the run left them: all closed and healthy.
            curl -s -m 5 -H "Authorization: Bearer $SY_BENCH_ADMIN_KEY" \
                "http://127.0.0.1:$port/admin/status" > "$OUT/$target-admin-status.json" || true
            curl -s -m 5 -H "Authorization: Bearer $SY_BENCH_ADMIN_KEY" \
                "http://127.0.0.1:$port/metrics" > "$OUT/$target-metrics.txt" || true
        fi
        ACCESS_LOG=""
        kill -TERM "$sy_pid" 2>/dev/null || true
        wait "$sy_pid" 2>/dev/null || true
        ;;
    *)
        die "unknown target '$target' (direct, nginx, switchyard, switchyard-full)"
        ;;
    esac
done

# --- report ----------------------------------------------------------------
python3 - "$ROWS" "$OUT/skipped.txt" "$PINNING" "$DURATION" "$BODY" "$STREAM_BODY" "$CHUNKS" "$USERS" \
    "$NGINX" "$BUSY" "$IDLE" > "$OUT/summary.md" <<'EOF'
import csv, os, platform, subprocess, sys
(rows_file, skipped_file, pinning, duration, body, stream_body, chunks, users, nginx, busy,
 idle) = sys.argv[1:]
rows = list(csv.DictReader(open(rows_file)))
skipped = [l.strip() for l in open(skipped_file) if l.strip()]

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

def version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except Exception:
        return "?"

mib = lambda kb: "%.1f" % (int(kb) / 1024) if kb else "—"
modes = [m for m in ("plain", "stream") if any(r["mode"] == m for r in rows)]
print("# switchyard benchmark\n")
print("- machine: %s, %d CPUs, Linux %s; %s%% idle before the run"
      % (cpu_model(), os.cpu_count(), platform.release(), idle))
print("- %s; %s" % (version([nginx, "-v"]), version(["wrk", "-v"]).split("[")[0].strip()))
print("- load: wrk, 1 thread, keep-alive, POST of %s (%d bytes), %s per row; %s"
      % (os.path.basename(body), os.path.getsize(body), duration, pinning))
if int(users):
    print("- every request carries `x-user-id: u1` ... `u%s` in turn (bench/chat.lua)" % users)
if "stream" in modes:
    print('- stream rows: the same body with `"stream": true` (%d bytes); the mock answers %s chunk'
          % (os.path.getsize(stream_body), chunks))
    print("  events and `data: [DONE]`: %d SSE events per request" % (int(chunks) + 1))
print("- CPU/req: utime+stime of the process from /proc/PID/stat across the row, divided by the")
print("  requests wrk completed; RSS: VmRSS after the row / VmHWM (peak); nginx: its worker process")
if busy:
    print("- **warning: %s**" % busy)
if any(r["other_cpu_pct"] for r in rows):
    print("- other: share of the servers' CPU that neither the proxy nor the mock used during the row")
    print("  (other processes, interrupts, time stolen by the hypervisor); above 5 %, distrust the row")
print()
print("| target | answer | conns | req/s | p50 µs | p99 µs | proxy CPU µs/req | mock CPU µs/req | proxy RSS / peak MiB | other | errors |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
p50 = {}
cpu = {}
canary = []
for mode in modes:
    for r in rows:
        if r["mode"] != mode:
            continue
        key = (r["target"], mode, r["conns"])
        rps = int(r["requests"]) / (int(r["duration_us"]) / 1e6)
        errs = []
        if int(r["non2xx"]):
            errs.append("%s non-2xx" % r["non2xx"])
        if int(r["socket_errors"]):
            errs.append("%s socket" % r["socket_errors"])
        if r["target"] != "direct" and int(r["upstream_requests"]) < int(r["requests"]):
            errs.append("upstream saw only %s" % r["upstream_requests"])
        # Lines still in flight at either end of the row: allow a connection's worth each.
        if r["access_log_lines"] and abs(int(r["access_log_lines"]) - int(r["requests"])) > 2 * int(r["conns"]):
            errs.append("access log has %s lines" % r["access_log_lines"])
        p50[key] = int(r["p50_us"])
        if r["proxy_cpu_us"]:
            cpu[key] = float(r["proxy_cpu_us"])
        if r["target"] == "switchyard-full":
            seen = dict((e.split(":")[0], int(e.split(":")[1])) for e in r["upstream_by_endpoint"].split())
            total = sum(seen.values())
            relay = sum(v for k, v in seen.items() if k.startswith("relay-"))
            canary.append("%s c=%s %.1f%%" % (mode, r["conns"], 100.0 * relay / total if total else 0))
        print("| %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s |" % (
            r["target"], "SSE" if mode == "stream" else "JSON", r["conns"], rps, r["p50_us"],
            r["p99_us"], r["proxy_cpu_us"] or "—", r["mock_cpu_us"],
            "%s / %s" % (mib(r["proxy_rss_kb"]), mib(r["proxy_hwm_kb"])) if r["proxy_rss_kb"] else "—",
            r["other_cpu_pct"] + " %" if r["other_cpu_pct"] else "—", ", ".join(errs) or "none"))
print()
proxies = [t for t in ("nginx", "switchyard", "switchyard-full") if any(k[0] == t for k in p50)]
for mode in modes:
    name = "streamed" if mode == "stream" else "plain"
    if ("direct", mode, "1") in p50:
        for t in proxies:
            if (t, mode, "1") in p50:
                print("- %s, p50 added over direct at 1 connection, %s: %+d µs%s" % (
                    name, t, p50[(t, mode, "1")] - p50[("direct", mode, "1")],
                    " (target: at most +60 µs)" if t.startswith("switchyard") else ""))
    for c in sorted({k[2] for k in cpu if k[1] == mode}, key=int):
        base = cpu.get(("nginx", mode, c))
        for t in ("switchyard", "switchyard-full"):
            if (t, mode, c) not in cpu:
                continue
            ratio = " = %.2fx nginx's %.1f µs (target: at most 2x)" % (
                cpu[(t, mode, c)] / base, base) if base else ""
            print("- %s, %s at %s connection%s: %.1f µs CPU per request%s" % (
                name, t, c, "" if c == "1" else "s", cpu[(t, mode, c)], ratio))
if canary:
    print("- switchyard-full, canary (relay) share of upstream requests, health probes included: "
          + ", ".join(canary))
for s in skipped:
    print("- skipped %s" % s)
EOF
cat "$OUT/summary.md"
note "results in $OUT"
