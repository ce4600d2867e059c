#!/usr/bin/env bash
# bench/run.sh - switchyard's proxy benchmark (see bench/README.md).
#
# Usage: bench/run.sh [BUILD_DIR]
# Builds nothing: expects BUILD_DIR (default $BUILD or ./build) to hold
# tools/mock-upstream and router/switchyard. In one run, on loopback, it loads
#   direct      wrk -> mock-upstream
#   nginx       wrk -> nginx (1 worker, upstream keepalive 64) -> mock-upstream
#   switchyard  wrk -> switchyard serve --workers 1 -> mock-upstream
# with a ~1 KB chat request at each of $CONNS connections, and prints a markdown
# table (also written to bench/results/). A target that is not available (no
# nginx, or a switchyard without a working `serve`) is skipped with a message.
#
# Environment:
#   BUILD=DIR            build directory (the first argument wins)
#   DURATION=10s         wrk run time per row
#   WARMUP=2s            untimed wrk run before each target's rows
#   CONNS="1 64 256"     connection counts
#   TARGETS="direct nginx switchyard"
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
TARGETS=${TARGETS:-"direct nginx switchyard"}
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
export BODY_FILE=$BODY   # read by bench/chat.lua

# Command prefixes (arrays, not functions: a background function would be a
# subshell, and $! its PID instead of the server's).
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    ON_SERVER=(taskset -c "$SERVER_CPUS")
    ON_MOCK=(taskset -c "$MOCK_CPUS")
    ON_WRK=(taskset -c "$WRK_CPUS")
    PINNING="wrk on CPU $WRK_CPUS; proxy on CPU $SERVER_CPUS; mock-upstream on CPU $MOCK_CPUS"
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
echo "target,conns,requests,duration_us,p50_us,p99_us,non2xx,socket_errors,proxy_cpu_us,mock_cpu_us,proxy_rss_kb,proxy_hwm_kb,upstream_requests" > "$ROWS"
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

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# utime+stime of a process (all its threads), in clock ticks.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

status_kb() { # PID FIELD
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

mock_total() {
    curl -s "http://127.0.0.1:$MOCK_PORT/_stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"])'
}

# Wait until URL answers the chat request with a mock answer; 0 when it does.
wait_ready() { # URL PID NAME
    local i
    for i in $(seq 1 100); do
        if ! kill -0 "$2" 2>/dev/null; then
            note "$3 exited during start-up"
            return 1
        fi
        if curl -s -m 2 -H 'Content-Type: application/json' --data-binary "@$BODY" "$1" 2>/dev/null |
            grep -q '"chatcmpl-mock"'; then
            return 0
        fi
        sleep 0.1
    done
    note "$3 did not answer the chat request at $1 within 10 s"
    return 1
}

skip() { # TARGET WHY
    note "skipping $1: $2"
    echo "$1: $2" >> "$OUT/skipped.txt"
}

# Run wrk at each connection count against URL; PROXY_PID may be empty (direct).
run_rows() { # TARGET URL PROXY_PID
    local target=$1 url=$2 proxy=$3 c log line p0 p1 m0 m1 u0 u1
    "${ON_WRK[@]}" wrk -t1 -c64 -d"$WARMUP" -s "$LUA" "$url" > /dev/null
    for c in $CONNS; do
        log=$OUT/wrk-$target-c$c.txt
        u0=$(mock_total)
        m0=$(cpu_ticks "$MOCK_PID")
        p0=${proxy:+$(cpu_ticks "$proxy")}
        "${ON_WRK[@]}" wrk -t1 -c"$c" -d"$DURATION" --timeout 5s -s "$LUA" "$url" > "$log"
        m1=$(cpu_ticks "$MOCK_PID")
        p1=${proxy:+$(cpu_ticks "$proxy")}
        u1=$(mock_total)
        line=$(grep '^BENCH ' "$log") || die "wrk printed no result for $target at $c connections (see $log)"
        python3 - "$line" "$target" "$c" "$CLK_TCK" "$m0" "$m1" "${p0:-}" "${p1:-}" \
            "${proxy:+$(status_kb "$proxy" VmRSS)}" "${proxy:+$(status_kb "$proxy" VmHWM)}" \
            "$((u1 - u0))" >> "$ROWS" <<'EOF'
import sys
line, target, conns, tck, m0, m1, p0, p1, rss, hwm, upstream = sys.argv[1:]
kv = dict(f.split("=") for f in line.split()[1:])
req = int(kv["requests"])
per = lambda a, b: "%.2f" % ((int(b) - int(a)) * 1e6 / int(tck) / req) if a and req else ""
sock = sum(int(kv[k]) for k in ("connect_err", "read_err", "write_err", "timeouts"))
print(",".join(str(x) for x in (target, conns, req, kv["duration_us"], kv["p50_us"], kv["p99_us"],
                               kv["non2xx"], sock, per(p0, p1), per(m0, m1), rss, hwm, upstream)))
EOF
        tail -n 1 "$ROWS" | awk -F, '{printf "bench: %-10s c=%-4s %8.0f req/s  p50 %s us  p99 %s us\n", $1, $2, $3 / ($4 / 1e6), $5, $6}' >&2
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
"${ON_MOCK[@]}" "$MOCK_BIN" --listen 127.0.0.1:0 --port-file "$TMP/mock.port" > "$TMP/mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID")
for _ in $(seq 1 50); do [ -s "$TMP/mock.port" ] && break; sleep 0.1; done
[ -s "$TMP/mock.port" ] || die "mock-upstream did not start: $(cat "$TMP/mock.log")"
MOCK_PORT=$(cat "$TMP/mock.port")
wait_ready "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" "$MOCK_PID" mock-upstream ||
    die "mock-upstream does not answer"

for target in $TARGETS; do
    case $target in
    direct)
        note "direct: mock-upstream on 127.0.0.1:$MOCK_PORT"
        run_rows direct "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" ""
        ;;
    nginx)
        if ! command -v "$NGINX" >/dev/null; then
            skip nginx "no nginx binary ($NGINX)"
            continue
        fi
        port=$(free_port)
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
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
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
        note "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$port (worker pid $worker)"
        run_rows nginx "http://127.0.0.1:$port/v1/chat/completions" "$worker"
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
        ;;
    switchyard)
        if [ ! -x "$SY_BIN" ]; then
            skip switchyard "$SY_BIN not built"
            continue
        fi
        port=$(free_port)
        policy=$TMP/switchyard-bench.yaml
        cat > "$policy" <<EOF
# generated by bench/run.sh: one openai provider pointing at mock-upstream
version: 1
server:
  listen: 127.0.0.1:$port
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
        if ! "$SY_BIN" validate "$policy" > "$TMP/sy-validate.log" 2>&1; then
            skip switchyard "the generated policy does not validate: $(head -n 3 "$TMP/sy-validate.log" | tr '\n' ' ')"
            continue
        fi
        "${ON_SERVER[@]}" "$SY_BIN" serve -c "$policy" --workers 1 > "$TMP/sy.log" 2>&1 &
        sy_pid=$!
        PIDS+=("$sy_pid")
        if ! wait_ready "http://127.0.0.1:$port/v1/chat/completions" "$sy_pid" switchyard; then
            skip switchyard "serve did not start or did not proxy: $(tail -n 3 "$TMP/sy.log" | tr '\n' ' ')"
            continue
        fi
        note "switchyard on 127.0.0.1:$port (pid $sy_pid)"
        run_rows switchyard "http://127.0.0.1:$port/v1/chat/completions" "$sy_pid"
        kill -TERM "$sy_pid" 2>/dev/null || true
        wait "$sy_pid" 2>/dev/null || true
        ;;
    *)
        die "unknown target '$target' (direct, nginx, switchyard)"
        ;;
    esac
done

# --- report ----------------------------------------------------------------
python3 - "$ROWS" "$OUT/skipped.txt" "$PINNING" "$DURATION" "$BODY" "$NGINX" "$BUSY" > "$OUT/summary.md" <<'EOF'
import csv, os, platform, subprocess, sys
rows_file, skipped_file, pinning, duration, body, nginx, busy = sys.argv[1:]
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
print("# switchyard benchmark\n")
print("- machine: %s, %d CPUs, Linux %s" % (cpu_model(), os.cpu_count(), platform.release()))
print("- %s; %s" % (version([nginx, "-v"]), version(["wrk", "-v"]).split("[")[0].strip()))
print("- load: wrk, 1 thread, keep-alive, POST of %s (%d bytes), %s per row; %s"
      % (os.path.basename(body), os.path.getsize(body), duration, pinning))
print("- CPU/req: utime+stime of the process from /proc/PID/stat across the row, divided by the")
print("  requests wrk completed; RSS: VmRSS after the row / VmHWM (peak); nginx: its worker process")
if busy:
    print("- **warning: %s**" % busy)
print()
print("| target | conns | req/s | p50 µs | p99 µs | proxy CPU µs/req | mock CPU µs/req | proxy RSS / peak MiB | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
p50 = {}
cpu = {}
for r in rows:
    rps = int(r["requests"]) / (int(r["duration_us"]) / 1e6)
    errs = []
    if int(r["non2xx"]):
        errs.append("%s non-2xx" % r["non2xx"])
    if int(r["socket_errors"]):
        errs.append("%s socket" % r["socket_errors"])
    if r["target"] != "direct" and int(r["upstream_requests"]) < int(r["requests"]):
        errs.append("upstream saw only %s" % r["upstream_requests"])
    p50[(r["target"], r["conns"])] = int(r["p50_us"])
    if r["proxy_cpu_us"]:
        cpu[(r["target"], r["conns"])] = float(r["proxy_cpu_us"])
    print("| %s | %s | %.0f | %s | %s | %s | %s | %s | %s |" % (
        r["target"], r["conns"], rps, r["p50_us"], r["p99_us"], r["proxy_cpu_us"] or "—",
        r["mock_cpu_us"], "%s / %s" % (mib(r["proxy_rss_kb"]), mib(r["proxy_hwm_kb"]))
        if r["proxy_rss_kb"] else "—", ", ".join(errs) or "none"))
print()
if ("direct", "1") in p50:
    for t in ("nginx", "switchyard"):
        if (t, "1") in p50:
            print("- p50 added over direct at 1 connection, %s: %+d µs%s" % (
                t, p50[(t, "1")] - p50[("direct", "1")],
                " (target: at most +60 µs)" if t == "switchyard" else ""))
for c in sorted({k[1] for k in cpu}, key=int):
    if ("nginx", c) in cpu and ("switchyard", c) in cpu and cpu[("nginx", c)] > 0:
        print("- CPU per request, switchyard / nginx at %s connections: %.2fx (target: at most 2x)"
              % (c, cpu[("switchyard", c)] / cpu[("nginx", c)]))
for s in skipped:
    print("- skipped %s" % s)
EOF
cat "$OUT/summary.md"
note "results in $OUT"
