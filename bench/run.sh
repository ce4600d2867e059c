#!/usr/bin/env bash
# bench/run.sh - switchyard's proxy benchmark (see bench/README.md).
#
# Usage: bench/run.sh [BUILD_DIR]
# Builds nothing: expects BUILD_DIR (default $BUILD or ./build) to hold
# tools/mock-upstream and router/switchyard. On loopback, in one interleaved run
# (every target measured one after the other at each setting), it loads
#   direct           wrk -> upstream
#   nginx            wrk -> nginx (1 worker, upstream keepalive 64) -> upstream
#   haproxy          (HAPROXY=1) wrk -> HAProxy (http mode, nbthread 1, keep-alive
#                    both sides, http-reuse always, no logging) -> upstream
#   switchyard       wrk -> switchyard serve --workers 1 (minimal policy) -> upstream
#   switchyard-full  the same on a realistic policy with every layer on
#                    (bench/policies.sh): rollout, retry, breaker, health checks,
#                    fallbacks, rollback windows, rate limit, budget, metrics,
#                    client keys, access log to a file
#   portkey          (PORTKEY=1) Portkey's gateway (npx @portkey-ai/gateway)
# with two upstreams (the project's mock-upstream, and nginx serving a static
# answer), pinned (proxy and upstream on one CPU, wrk on the other) and not, plain
# JSON and streamed (6 SSE events) at each of $CONNS connections, and prints
# markdown tables (also written to bench/results/). Then: the first SSE chunk added
# over direct, the arrival of every event of streams from an upstream that pauses
# between events (nothing held back), RSS with N open streams, --workers 2 against
# 1, and (SOAK=seconds) RSS over a long run at load. A target that is not available is skipped with a
# message.
#
# Environment:
#   BUILD=DIR            build directory (the first argument wins)
#   QUICK=1              a short check: DURATION=2s WARMUP=1s, fewer first-chunk
#                        and paced requests and open streams (explicit settings win)
#   DURATION=10s         wrk run time per row
#   WARMUP=1s            untimed wrk run before each row, same connections (whole
#                        seconds or more, as wrk takes them; 0: none)
#   ROUNDS=1             repeat the whole interleaved table this many times
#   CONNS="1 64 256"     connection counts
#   TARGETS="direct nginx switchyard switchyard-full" (haproxy is added after nginx
#                        by HAPROXY=1, portkey at the end by PORTKEY=1)
#   UPSTREAMS="mock nginx"  mock: tools/mock-upstream; nginx: nginx answering a static
#                        copy of the mock's answers (skipped without nginx)
#   PIN=both             both: pinned and unpinned rows; 1: pinned only; 0: unpinned only
#   ALONE=1              also the "alone" rows, at ALONE_CONNS="64 256": the proxy alone on
#                        SERVER_CPUS, the upstream and wrk on WRK_CPUS. With the proxy the only
#                        thing on its CPU, its requests/s at saturation is its throughput: the
#                        Portkey comparison is judged there (0: skip)
#   STREAM=both          both: plain and streamed rows; 0: plain only; 1: streamed only
#   CHUNKS=5             content events of a streamed answer (mock-upstream --chunks);
#                        with the closing [DONE] a stream has CHUNKS+1 events
#   USERS=1000           x-user-id values u1..uN that requests carry in turn (bench/chat.lua;
#                        0: no x-user-id, one static request)
#   SERVER_CPUS=0        CPU list for the proxy under test when pinned (taskset -c)
#   MOCK_CPUS=$SERVER_CPUS  CPU list for the upstream when pinned
#   WRK_CPUS=1           CPU list for wrk (and the small clients) when pinned
#   NGINX=nginx          nginx binary
#   NGINX_KEEPALIVE=64   idle upstream connections nginx keeps (upstream keepalive)
#   BODY=bench/chat-1k.json  request body
#   RESULTS=bench/results    where results go
#   FIRST_CHUNK=2000     streamed requests for the first-chunk latency (0: skip)
#   FIRST_ROUNDS=4       rounds the first-chunk requests are split into, every target
#                        once per round (the report shows the median round)
#   PACED=200            streamed requests, one at a time, per target from a mock that
#                        pauses between events: when each event arrives (0: skip)
#   PACED_DELAY_MS=20    that mock's pause between content events (--chunk-delay-ms)
#   OPEN_STREAMS=10000   streams held open for the RSS per stream (0: skip); capped by
#                        the open-file limit (a proxied stream holds two descriptors)
#   WORKERS_CHECK=1      --workers 2 against --workers 1 (0: skip)
#   SOAK=0               seconds of load on switchyard-full with RSS sampled every
#                        SOAK_EVERY=10 seconds (600 for the 10-minute check)
#   HAPROXY=0            1: add HAProxy as a proxy (HAPROXY_BIN, default haproxy; Debian:
#                        apt-get install haproxy); skipped with a message if it is missing
#   PORTKEY=0            1: add Portkey's gateway (PORTKEY_CMD, default
#                        "npx --yes @portkey-ai/gateway@1.15.2"); skipped if it cannot start
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_ARG=${1:-${BUILD:-$ROOT/build}}
BUILD=$(cd "$BUILD_ARG" 2>/dev/null && pwd) || { echo "bench: no build directory '$BUILD_ARG'" >&2; exit 2; }
if [ "${QUICK:-0}" = 1 ]; then
    DURATION=${DURATION:-2s}
    WARMUP=${WARMUP:-1s}
    FIRST_CHUNK=${FIRST_CHUNK:-300}
    PACED=${PACED:-30}
    OPEN_STREAMS=${OPEN_STREAMS:-2000}
fi
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-1s}
ROUNDS=${ROUNDS:-1}
CONNS=${CONNS:-"1 64 256"}
TARGETS=${TARGETS:-"direct nginx switchyard switchyard-full"}
UPSTREAMS=${UPSTREAMS:-"mock nginx"}
PIN=${PIN:-both}
ALONE=${ALONE:-1}
ALONE_CONNS=${ALONE_CONNS:-"64 256"}
STREAM=${STREAM:-both}
CHUNKS=${CHUNKS:-5}
USERS=${USERS:-1000}
SERVER_CPUS=${SERVER_CPUS:-0}
MOCK_CPUS=${MOCK_CPUS:-$SERVER_CPUS}
WRK_CPUS=${WRK_CPUS:-1}
NGINX=${NGINX:-nginx}
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-64}
BODY=${BODY:-$ROOT/bench/chat-1k.json}
RESULTS=${RESULTS:-$ROOT/bench/results}
FIRST_CHUNK=${FIRST_CHUNK:-2000}
FIRST_ROUNDS=${FIRST_ROUNDS:-4}
PACED=${PACED:-200}
PACED_DELAY_MS=${PACED_DELAY_MS:-20}
OPEN_STREAMS=${OPEN_STREAMS:-10000}
WORKERS_CHECK=${WORKERS_CHECK:-1}
SOAK=${SOAK:-0}
SOAK_EVERY=${SOAK_EVERY:-10}
HAPROXY=${HAPROXY:-0}
HAPROXY_BIN=${HAPROXY_BIN:-haproxy}
PORTKEY=${PORTKEY:-0}
PORTKEY_CMD=${PORTKEY_CMD:-"npx --yes @portkey-ai/gateway@1.15.2"}
if [ "$HAPROXY" = 1 ] && [[ " $TARGETS " != *" haproxy "* ]]; then
    # right after nginx, so the two are measured one after the other
    if [[ " $TARGETS " == *" nginx "* ]]; then
        TARGETS=$(echo " $TARGETS " | sed 's/ nginx / nginx haproxy /; s/^ //; s/ $//')
    else
        TARGETS="$TARGETS haproxy"
    fi
fi
[ "$PORTKEY" = 1 ] && TARGETS="$TARGETS portkey"

MOCK_BIN=$BUILD/tools/mock-upstream
SY_BIN=${SY_BIN:-$BUILD/router/switchyard}   # SY_BIN=PATH: another switchyard binary (A/B runs)
LUA=$ROOT/bench/chat.lua
CLIENT=$ROOT/bench/client.py
ALL_CPUS=0-$(($(nproc) - 1))

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
CAN_PIN=0
command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ] && CAN_PIN=1
case $PIN in
both) PINS="pinned unpinned" ;;
1) PINS="pinned" ;;
0) PINS="unpinned" ;;
*) die "PIN must be both, 1 or 0 (not '$PIN')" ;;
esac
if [ "$CAN_PIN" = 0 ]; then
    [ "$PINS" = pinned ] && note "no taskset or fewer than 2 CPUs: running unpinned"
    [ "$ALONE" = 1 ] && note "no taskset or fewer than 2 CPUs: no alone rows"
    PINS="unpinned"
elif [ "$ALONE" = 1 ]; then
    PINS="$PINS alone"
fi
HAVE_NGINX=0
command -v "$NGINX" >/dev/null && HAVE_NGINX=1
HAVE_HAPROXY=0
command -v "$HAPROXY_BIN" >/dev/null && HAVE_HAPROXY=1
export USERS   # read by bench/chat.lua
# shellcheck source=bench/policies.sh
. "$ROOT/bench/policies.sh"

# A proxied stream holds two descriptors (client and upstream): raise the soft
# limit to the hard one and cap OPEN_STREAMS below it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$OPEN_STREAMS" -gt $(((NOFILE - 200) / 2)) ]; then
    note "open-file limit $NOFILE (hard): holding $(((NOFILE - 200) / 2)) streams instead of $OPEN_STREAMS"
    OPEN_STREAMS=$(((NOFILE - 200) / 2))
fi

TMP=$(mktemp -d /tmp/switchyard-bench.XXXXXX)
STAMP=$(date +%Y%m%d-%H%M%S)
OUT=$RESULTS/$STAMP
mkdir -p "$OUT"
ROWS=$OUT/rows.csv
echo "round,upstream,pinning,target,mode,conns,requests,duration_us,p50_us,p99_us,non2xx,socket_errors,proxy_cpu_us,upstream_cpu_us,proxy_rss_kb,proxy_hwm_kb,upstream_requests,upstream_by_endpoint,access_log_lines,other_cpu_pct" > "$ROWS"
: > "$OUT/skipped.txt"
: > "$OUT/extra.txt"   # key=value lines of the extra measurements, for the summary

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

# CPU time of a process, all its threads, in ns (schedstat: finer than clock ticks).
cpu_ns() { # PID
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{t += $1} END {printf "%.0f\n", t}'
}

# "busy total" clock ticks of CPU N since boot (steal counts as busy: not ours).
cpu_busy_total() { # N
    [ -n "$1" ] || return 0
    awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t}' /proc/stat
}

status_kb() { # PID FIELD
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

# Pin a running process, every thread of it, and all its descendants to CPUS:
# nginx's workers, and Portkey's node, which runs under npx and a shell (a
# grandchild: pinning children only left it on every CPU).
pin_pid() { # PID CPUS
    local p
    [ "$CAN_PIN" = 1 ] || return 0
    taskset -a -p -c "$2" "$1" > /dev/null 2>&1 || true
    for p in $(pgrep -P "$1" 2>/dev/null || true); do pin_pid "$p" "$2"; done
}

# POST a body to URL with what wrk sends (the client key switchyard-full asks for).
post() { # URL BODY_FILE [curl options...]
    local url=$1 body=$2
    shift 2
    curl -s -m 5 -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-bench-client' \
        "${CURL_EXTRA[@]}" --data-binary "@$body" "$@" "$url" 2>/dev/null
}
CURL_EXTRA=()

# Wait until URL answers the chat request with a mock answer; 0 when it does.
wait_ready() { # URL PID NAME [TRIES]
    for _ in $(seq 1 "${4:-100}"); do
        if ! kill -0 "$2" 2>/dev/null; then
            note "$3 exited during start-up"
            return 1
        fi
        if post "$1" "$BODY" | grep -q '"chat.completion"'; then
            return 0
        fi
        sleep 0.1
    done
    note "$3 did not answer the chat request at $1"
    return 1
}

# A streamed request through URL must come back as CHUNKS+1 SSE events, the last [DONE].
stream_ok() { # URL [SAVE_TO]
    post "$1" "$STREAM_BODY" -N | tee "${2:-/dev/null}" | python3 -c '
import sys
events = [l for l in sys.stdin.read().splitlines() if l.startswith("data:")]
ok = len(events) == int(sys.argv[1]) + 1 and events[-1].strip() == "data: [DONE]" \
    and all("chatcmpl-mock" in e for e in events[:-1])
sys.exit(0 if ok else 1)' "$CHUNKS"
}

skip() { # WHAT WHY
    note "skipping $1: $2"
    echo "$1: $2" >> "$OUT/skipped.txt"
}
extra() { echo "$*" >> "$OUT/extra.txt"; }

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

# --- upstreams ---------------------------------------------------------------
start_mock() { # NAME [mock options...]: sets MOCK_PID_<NAME>, MOCK_PORT_<NAME>
    local name=$1
    shift
    "$MOCK_BIN" --listen 127.0.0.1:0 --port-file "$TMP/$name.port" "$@" > "$TMP/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 50); do [ -s "$TMP/$name.port" ] && break; sleep 0.1; done
    [ -s "$TMP/$name.port" ] || die "mock-upstream did not start: $(cat "$TMP/$name.log")"
    printf -v "MOCK_PID_$name" %s "$pid"
    printf -v "MOCK_PORT_$name" %s "$(cat "$TMP/$name.port")"
}
start_mock main --chunks "$CHUNKS"
MOCK_PID=$MOCK_PID_main
MOCK_PORT=$MOCK_PORT_main
wait_ready "http://127.0.0.1:$MOCK_PORT/v1/chat/completions" "$MOCK_PID" mock-upstream ||
    die "mock-upstream does not answer"
declare -A UP_URL UP_PID   # upstream name -> base URL, process whose CPU is counted
UP_URL[mock]=http://127.0.0.1:$MOCK_PORT
UP_PID[mock]=$MOCK_PID

nginx_user_line() { [ "$(id -u)" = 0 ] && echo "user root;" || true; }
nginx_common() { # DIR
    cat <<EOF
    access_log off;
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
EOF
}
start_nginx() { # DIR NAME: runs DIR/nginx.conf, sets NGINX_PID and NGINX_WORKER
    "$NGINX" -p "$1" -c "$1/nginx.conf" -g 'daemon off;' > "$1/logs/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    NGINX_WORKER=""
    for _ in $(seq 1 50); do
        NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -n 1 || true)
        [ -n "$NGINX_WORKER" ] && break
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$NGINX_WORKER" ] || { skip "$2" "nginx did not start: $(tail -n 3 "$1/logs/error.log" "$1/logs/stdout.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
}

# nginx as the upstream: a static copy of the mock's answers. The plain answer,
# the stream (CHUNKS events and [DONE], chunked: sub_filter drops the length)
# and the model list; a request body of the plain body's length gets the plain
# answer, any other the stream (the proxies send the plain body as it is, and
# a streamed body is longer).
if [[ " $UPSTREAMS " == *" nginx "* ]]; then
    if [ "$HAVE_NGINX" = 0 ]; then
        skip "upstream nginx" "no nginx binary ($NGINX)"
        UPSTREAMS=${UPSTREAMS//nginx/}
    else
        d=$TMP/static
        mkdir -p "$d/logs"
        mock=http://127.0.0.1:$MOCK_PORT/v1
        post "$mock/chat/completions" "$BODY" > "$d/plain.txt"
        post "$mock/chat/completions" "$STREAM_BODY" -N > "$d/stream.txt"
        curl -s -m 5 "$mock/models" > "$d/models.txt"
        esc() { python3 -c 'import sys; t = open(sys.argv[1]).read(); assert "$" not in t and "\x27" not in t; print(t.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n"), end="")' "$1"; }
        port=$(free_port)
        cat > "$d/nginx.conf" <<EOF
# generated by bench/run.sh: nginx answering a static copy of mock-upstream's answers
$(nginx_user_line)
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
$(nginx_common "$d")
    map \$http_content_length \$answer {
        $(wc -c < "$BODY") plain;
        default stream;
    }
    server {
        listen 127.0.0.1:$port;
        location ~ /models\$ { default_type application/json; return 200 '$(esc "$d/models.txt")'; }
        location / { rewrite ^ /__\$answer last; }
        location = /__plain { default_type application/json; return 200 '$(esc "$d/plain.txt")'; }
        location = /__stream {
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            sub_filter_types text/event-stream;
            sub_filter '@@never@@' '';
            return 200 '$(esc "$d/stream.txt")';
        }
    }
}
EOF
        if start_nginx "$d" "upstream nginx" &&
            wait_ready "http://127.0.0.1:$port/v1/chat/completions" "$NGINX_PID" "static nginx"; then
            UP_URL[nginx]=http://127.0.0.1:$port
            UP_PID[nginx]=$NGINX_WORKER
            STATIC_NGINX_PID=$NGINX_PID
            note "static upstream: nginx on 127.0.0.1:$port (worker pid $NGINX_WORKER)"
        else
            UPSTREAMS=${UPSTREAMS//nginx/}
        fi
    fi
fi

# --- proxies -----------------------------------------------------------------
declare -A URL PROXY_PID ACCESS_LOGS HEADERS ADMIN_PORT   # key: target/upstream/mode (URL) or target/upstream
SERVER_PIDS=()   # every proxy process (pinned with the proxy under test)

# nginx as the proxy: one worker, a plain and a streaming server block per upstream.
start_nginx_proxy() {
    local d=$TMP/nginx u p sp blocks=""
    mkdir -p "$d/logs"
    for u in $UPSTREAMS; do
        p=$(free_port)
        sp=$(free_port)
        URL[nginx/$u/plain]=http://127.0.0.1:$p/v1/chat/completions
        URL[nginx/$u/stream]=http://127.0.0.1:$sp/v1/chat/completions
        blocks+="
    upstream up_$u {
        server ${UP_URL[$u]#http://};
        keepalive $NGINX_KEEPALIVE;
        keepalive_requests 1000000;
    }
    server {    # plain rows
        listen 127.0.0.1:$p;
        location / {
            proxy_pass http://up_$u;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }
    server {    # streamed rows: pass each event on as it comes
        listen 127.0.0.1:$sp;
        location / {
            proxy_pass http://up_$u;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering off;
        }
    }"
    done
    cat > "$d/nginx.conf" <<EOF
# generated by bench/run.sh: one worker reverse proxy
$(nginx_user_line)
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 4096; }
http {
$(nginx_common "$d")
$blocks
}
EOF
    start_nginx "$d" nginx || return 1
    for u in $UPSTREAMS; do
        wait_ready "${URL[nginx/$u/plain]}" "$NGINX_PID" nginx || { skip nginx "does not proxy to $u"; return 1; }
        PROXY_PID[nginx/$u]=$NGINX_WORKER
    done
    SERVER_PIDS+=("$NGINX_PID")
    note "nginx $("$NGINX" -v 2>&1 | sed 's/.*\///') as the proxy (worker pid $NGINX_WORKER)"
}

# HAProxy as the proxy, the same fairness as nginx: one thread, keep-alive to the
# client and to the upstream (idle upstream connections shared between clients:
# http-reuse always), no log, generous timeouts. HAProxy buffers no response
# body, but by default it sends what it forwards of an unfinished answer with
# MSG_MORE, and the kernel then holds a lone SSE event up to 200 ms (measured:
# every event but the last ~200 ms late from a mock pacing them): the streamed
# rows go to a second frontend with "option http-no-delay", as nginx's go to a
# server block with proxy_buffering off; the plain rows keep the defaults.
haproxy_global() { # MAXCONN
    # HAProxy needs two descriptors a connection (and a few): it refuses to start
    # when the open-file limit is lower, so cap maxconn there.
    local m=$1
    [ "$NOFILE" != unlimited ] && [ "$m" -gt $(((NOFILE - 100) / 2)) ] && m=$(((NOFILE - 100) / 2))
    cat <<EOF
global
    nbthread 1
    maxconn $m
defaults
    mode http
    option http-keep-alive
    http-reuse always
    maxconn $m
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout http-request 300s
    timeout http-keep-alive 300s
EOF
}
start_haproxy() { # DIR NAME: runs DIR/haproxy.cfg in the foreground, sets HAPROXY_PID
    if ! "$HAPROXY_BIN" -c -q -f "$1/haproxy.cfg" > "$1/check.log" 2>&1; then
        skip "$2" "the generated haproxy.cfg does not load: $(tail -n 3 "$1/check.log" | tr '\n' ' ')"
        return 1
    fi
    "$HAPROXY_BIN" -db -f "$1/haproxy.cfg" > "$1/stdout.log" 2>&1 &
    HAPROXY_PID=$!
    PIDS+=("$HAPROXY_PID")
}
start_haproxy_proxy() {
    local d=$TMP/haproxy u p sp blocks=""
    mkdir -p "$d"
    for u in $UPSTREAMS; do
        p=$(free_port)
        sp=$(free_port)
        URL[haproxy/$u/plain]=http://127.0.0.1:$p/v1/chat/completions
        URL[haproxy/$u/stream]=http://127.0.0.1:$sp/v1/chat/completions
        blocks+="
frontend plain_$u    # plain rows
    bind 127.0.0.1:$p
    default_backend up_$u
frontend stream_$u   # streamed rows: each event sent on as it comes
    bind 127.0.0.1:$sp
    option http-no-delay
    default_backend up_$u
backend up_$u
    server up ${UP_URL[$u]#http://}"
    done
    cat > "$d/haproxy.cfg" <<EOF
# generated by bench/run.sh: one-thread reverse proxy
$(haproxy_global 8192)
$blocks
EOF
    cp "$d/haproxy.cfg" "$OUT/"
    start_haproxy "$d" haproxy || return 1
    for u in $UPSTREAMS; do
        wait_ready "${URL[haproxy/$u/plain]}" "$HAPROXY_PID" haproxy || { skip haproxy "does not proxy to $u: $(tail -n 3 "$d/stdout.log" | tr '\n' ' ')"; return 1; }
        PROXY_PID[haproxy/$u]=$HAPROXY_PID
    done
    SERVER_PIDS+=("$HAPROXY_PID")
    note "$("$HAPROXY_BIN" -v 2>&1 | head -n 1 | awk '{print "HAProxy", $3}') as the proxy (pid $HAPROXY_PID)"
}

# switchyard on POLICY_FN's policy in front of upstream U: sets SY_LAST_PID.
start_switchyard() { # TARGET UPSTREAM WORKERS [NAME]
    local target=$1 u=$2 workers=$3 name=${4:-$1-$2} port policy log=""
    port=$(free_port)
    policy=$TMP/$name.yaml
    if [ "$target" = switchyard ]; then
        minimal_policy "$port" "${UP_URL[$u]}" > "$policy"
    else
        log=$TMP/$name-access.log
        full_policy "$port" "${UP_URL[$u]}" "$log" "$TMP/$name-state.json" > "$policy"
    fi
    cp "$policy" "$OUT/"
    if ! "$SY_BIN" validate "$policy" > "$TMP/$name-validate.log" 2>&1; then
        skip "$name" "the generated policy does not validate: $(head -n 3 "$TMP/$name-validate.log" | tr '\n' ' ')"
        return 1
    fi
    "$SY_BIN" serve -c "$policy" --workers "$workers" > "$OUT/$name.log" 2>&1 &
    SY_LAST_PID=$!
    PIDS+=("$SY_LAST_PID")
    SY_LAST_URL=http://127.0.0.1:$port/v1/chat/completions
    SY_LAST_LOG=$log
    SY_LAST_PORT=$port
    if ! wait_ready "$SY_LAST_URL" "$SY_LAST_PID" "$name"; then
        skip "$name" "serve did not start or did not proxy: $(tail -n 3 "$OUT/$name.log" | tr '\n' ' ')"
        return 1
    fi
}

start_portkey() {
    local port
    port=$(free_port)
    # shellcheck disable=SC2086
    (cd "$TMP" && exec $PORTKEY_CMD --port="$port" --headless) > "$OUT/portkey.log" 2>&1 &
    PORTKEY_PID=$!
    PIDS+=("$PORTKEY_PID")
    for u in $UPSTREAMS; do
        URL[portkey/$u/plain]=http://127.0.0.1:$port/v1/chat/completions
        URL[portkey/$u/stream]=http://127.0.0.1:$port/v1/chat/completions
        HEADERS[portkey/$u]="x-portkey-provider: openai|x-portkey-custom-host: ${UP_URL[$u]}/v1"
    done
    local u0
    u0=$(echo $UPSTREAMS | awk '{print $1}')
    CURL_EXTRA=(-H "x-portkey-provider: openai" -H "x-portkey-custom-host: ${UP_URL[$u0]}/v1")
    if ! wait_ready "${URL[portkey/$u0/plain]}" "$PORTKEY_PID" portkey 1200; then
        CURL_EXTRA=()
        skip portkey "did not start or did not proxy: $(tail -n 3 "$OUT/portkey.log" | tr '\n' ' ')"
        return 1
    fi
    CURL_EXTRA=()
    # node runs a few processes (npx, sh, node): count the one listening.
    local p
    p=$(ss -ltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
    # npx does not pass its TERM on: stop the listening node at cleanup too.
    [ -n "$p" ] && [ "$p" != "$PORTKEY_PID" ] && PIDS+=("$p")
    for u in $UPSTREAMS; do PROXY_PID[portkey/$u]=${p:-$PORTKEY_PID}; done
    SERVER_PIDS+=("$PORTKEY_PID")
    note "portkey on 127.0.0.1:$port (pid ${p:-$PORTKEY_PID})"
}

ACTIVE=()   # targets that started
for target in $TARGETS; do
    case $target in
    direct)
        for u in $UPSTREAMS; do
            URL[direct/$u/plain]=${UP_URL[$u]}/v1/chat/completions
            URL[direct/$u/stream]=${UP_URL[$u]}/v1/chat/completions
            PROXY_PID[direct/$u]=""
        done
        ACTIVE+=(direct)
        ;;
    nginx)
        if [ "$HAVE_NGINX" = 0 ]; then
            skip nginx "no nginx binary ($NGINX)"
        elif start_nginx_proxy; then
            ACTIVE+=(nginx)
        fi
        ;;
    haproxy)
        if [ "$HAVE_HAPROXY" = 0 ]; then
            skip haproxy "no haproxy binary ($HAPROXY_BIN; Debian: apt-get install haproxy)"
        elif start_haproxy_proxy; then
            ACTIVE+=(haproxy)
        fi
        ;;
    switchyard | switchyard-full)
        if [ ! -x "$SY_BIN" ]; then
            skip "$target" "$SY_BIN not built"
            continue
        fi
        ok=1
        for u in $UPSTREAMS; do
            if start_switchyard "$target" "$u" 1; then
                URL[$target/$u/plain]=$SY_LAST_URL
                URL[$target/$u/stream]=$SY_LAST_URL
                PROXY_PID[$target/$u]=$SY_LAST_PID
                ACCESS_LOGS[$target/$u]=$SY_LAST_LOG
                ADMIN_PORT[$target/$u]=$SY_LAST_PORT
                SERVER_PIDS+=("$SY_LAST_PID")
                note "$target in front of $u on ${URL[$target/$u/plain]} (pid $SY_LAST_PID)"
            else
                ok=0
            fi
        done
        [ "$ok" = 1 ] && ACTIVE+=("$target")
        ;;
    portkey)
        start_portkey && ACTIVE+=(portkey)
        ;;
    *)
        die "unknown target '$target' (direct, nginx, haproxy, switchyard, switchyard-full, portkey)"
        ;;
    esac
done

# Which targets pass a whole stream, per upstream.
declare -A STREAM_OK
if [[ " $MODES " == *" stream "* ]]; then
    for t in "${ACTIVE[@]}"; do
        for u in $UPSTREAMS; do
            CURL_EXTRA=()
            [ -n "${HEADERS[$t/$u]:-}" ] && IFS='|' read -r -a hs <<< "${HEADERS[$t/$u]}" &&
                for h in "${hs[@]}"; do CURL_EXTRA+=(-H "$h"); done
            if stream_ok "${URL[$t/$u/stream]}" "$OUT/stream-check-$t-$u.txt"; then
                STREAM_OK[$t/$u]=1
            else
                skip "$t/$u (stream)" "a test stream did not come back as $((CHUNKS + 1)) events ending in [DONE] (see stream-check-$t-$u.txt)"
            fi
            CURL_EXTRA=()
        done
    done
fi

# --- the interleaved table ---------------------------------------------------
apply_pinning() { # pinned|unpinned|alone
    local pid u s_cpus=$ALL_CPUS m_cpus=$ALL_CPUS
    NOISE_CPU=""
    NOISE_HAS_UPSTREAM=1
    if [ "$1" = pinned ]; then
        s_cpus=$SERVER_CPUS
        m_cpus=$MOCK_CPUS
        ON_WRK=(taskset -c "$WRK_CPUS")
        # With proxy and upstream alone on one CPU, what else ran there is measurable.
        [[ $SERVER_CPUS =~ ^[0-9]+$ ]] && [ "$MOCK_CPUS" = "$SERVER_CPUS" ] && NOISE_CPU=$SERVER_CPUS
    elif [ "$1" = alone ]; then
        # The proxy has its CPU to itself; the upstream shares wrk's.
        s_cpus=$SERVER_CPUS
        m_cpus=$WRK_CPUS
        ON_WRK=(taskset -c "$WRK_CPUS")
        [[ $SERVER_CPUS =~ ^[0-9]+$ ]] && NOISE_CPU=$SERVER_CPUS
        NOISE_HAS_UPSTREAM=0
    else
        ON_WRK=()
    fi
    EXPECT_CPUS=""
    [ "$1" != unpinned ] && EXPECT_CPUS=$s_cpus
    for pid in "${SERVER_PIDS[@]}"; do pin_pid "$pid" "$s_cpus"; done
    pin_pid "$MOCK_PID" "$m_cpus"
    [ -n "${STATIC_NGINX_PID:-}" ] && pin_pid "$STATIC_NGINX_PID" "$m_cpus"
    return 0
}
ON_WRK=()
EXPECT_CPUS=""

mock_stats() { # FILE: what each mock endpoint saw so far (GET /_stats)
    curl -s "http://127.0.0.1:$MOCK_PORT/_stats" > "$1"
}

run_row() { # ROUND UPSTREAM PINNING TARGET MODE CONNS
    local round=$1 u=$2 pinning=$3 t=$4 mode=$5 c=$6 url body proxy up log line
    local p0 p1 m0 m1 n0 n1 alog="" alog_lines="" extra_h=""
    url=${URL[$t/$u/$mode]}
    body=$(body_of "$mode")
    proxy=${PROXY_PID[$t/$u]}
    up=${UP_PID[$u]}
    extra_h=${HEADERS[$t/$u]:-}
    alog=${ACCESS_LOGS[$t/$u]:-}
    log=$OUT/wrk-r$round-$u-$pinning-$t-$mode-c$c.txt
    if [ -n "$proxy" ] && [ -n "$EXPECT_CPUS" ]; then
        # A row is only what it says if the measured process really is where it should be.
        local got
        got=$(taskset -c -p "$proxy" 2>/dev/null | awk -F': ' '{print $2}')
        local warn="$t (pid $proxy) ran on CPUs $got in the $pinning rows, not $EXPECT_CPUS"
        if [ "$got" != "$EXPECT_CPUS" ] && [[ "$BUSY" != *"$warn"* ]]; then
            note "warning: $warn"
            BUSY="${BUSY:+$BUSY; }$warn"
        fi
    fi
    if [ "$WARMUP" != 0 ] && [ "$WARMUP" != 0s ]; then
        EXTRA_HEADERS=$extra_h BODY_FILE=$body "${ON_WRK[@]}" wrk -t1 -c"$c" -d"$WARMUP" -s "$LUA" "$url" > "$TMP/warmup.txt" 2>&1 ||
            die "wrk failed warming up $t ($u, $mode): $(head -n 3 "$TMP/warmup.txt" | tr '\n' ' ')"
    fi
    if [ -n "$alog" ]; then
        sleep 0.5   # the server flushes its log every 200 ms: let the last lines land
        : > "$alog"
    fi
    [ "$u" = mock ] && mock_stats "$TMP/stats0.json"
    n0=$(cpu_busy_total "$NOISE_CPU")
    m0=$(cpu_ns "$up")
    p0=${proxy:+$(cpu_ns "$proxy")}
    EXTRA_HEADERS=$extra_h BODY_FILE=$body "${ON_WRK[@]}" wrk -t1 -c"$c" -d"$DURATION" --timeout 5s -s "$LUA" "$url" > "$log"
    m1=$(cpu_ns "$up")
    p1=${proxy:+$(cpu_ns "$proxy")}
    n1=$(cpu_busy_total "$NOISE_CPU")
    if [ "$u" = mock ]; then mock_stats "$TMP/stats1.json"; else echo '{}' > "$TMP/stats0.json"; echo '{}' > "$TMP/stats1.json"; fi
    if [ -n "$alog" ]; then
        sleep 0.5
        alog_lines=$(wc -l < "$alog")
    fi
    line=$(grep '^BENCH ' "$log") || die "wrk printed no result for $t ($u, $mode) at $c connections (see $log)"
    python3 - "$line" "$round,$u,$pinning,$t,$mode,$c" "$m0" "$m1" "${p0:-}" "${p1:-}" \
        "${proxy:+$(status_kb "$proxy" VmRSS)}" "${proxy:+$(status_kb "$proxy" VmHWM)}" \
        "$TMP/stats0.json" "$TMP/stats1.json" "$alog_lines" "$n0" "$n1" "$(getconf CLK_TCK)" \
        "$NOISE_HAS_UPSTREAM" >> "$ROWS" <<'EOF'
import json, sys
line, key, m0, m1, p0, p1, rss, hwm, s0, s1, alog, n0, n1, tck, with_up = sys.argv[1:]
kv = dict(f.split("=") for f in line.split()[1:])
req = int(kv["requests"])
per = lambda a, b: "%.2f" % ((int(b) - int(a)) / 1000.0 / req) if a and req else ""
sock = sum(int(kv[k]) for k in ("connect_err", "read_err", "write_err", "timeouts"))
before, after = json.load(open(s0)), json.load(open(s1))
seen = lambda st, name: st.get("endpoints", {}).get(name, {}).get("requests", 0)
by_ep = " ".join("%s:%d" % (n, seen(after, n) - seen(before, n)) for n in sorted(after.get("endpoints", {}))
                 if seen(after, n) > seen(before, n))
upstream = str(after["total"] - before["total"]) if "total" in after else ""
# Other work on the servers' CPU: its busy time that was neither the proxy's nor the upstream's
# (nor the proxy's alone, when the upstream runs elsewhere).
noise = ""
if n0 and n1:
    (b0, t0), (b1, t1) = map(int, n0.split()), map(int, n1.split())
    ours = ((int(m1) - int(m0) if with_up == "1" else 0) + (int(p1) - int(p0) if p0 else 0)) / 1e9 * int(tck)
    noise = "%.0f" % max(0.0, 100.0 * (b1 - b0 - ours) / (t1 - t0)) if t1 > t0 else ""
print(",".join(str(x) for x in (key, req, kv["duration_us"], kv["p50_us"], kv["p99_us"],
                               kv["non2xx"], sock, per(p0, p1), per(m0, m1), rss, hwm,
                               upstream, by_ep, alog, noise)))
EOF
    tail -n 1 "$ROWS" | awk -F, '{printf "bench: r%s %-5s %-8s %-15s %-6s c=%-4s %8.0f req/s  p50 %s us  p99 %s us  CPU %s us/req\n", $1, $2, $3, $4, $5, $6, $7 / ($8 / 1e6), $9, $10, $13}' >&2
}

for round in $(seq 1 "$ROUNDS"); do
    for u in $UPSTREAMS; do
        for pinning in $PINS; do
            apply_pinning "$pinning"
            conns=$CONNS
            [ "$pinning" = alone ] && conns=$ALONE_CONNS
            for mode in $MODES; do
                for c in $conns; do
                    for t in "${ACTIVE[@]}"; do
                        [ "$mode" = stream ] && [ -z "${STREAM_OK[$t/$u]:-}" ] && continue
                        run_row "$round" "$u" "$pinning" "$t" "$mode" "$c"
                    done
                done
            done
        done
    done
done

# Breakers, health and retries as the run left them: all closed and healthy.
for u in $UPSTREAMS; do
    if [ -n "${ADMIN_PORT[switchyard-full/$u]:-}" ]; then
        curl -s -m 5 -H "Authorization: Bearer $SY_BENCH_ADMIN_KEY" \
            "http://127.0.0.1:${ADMIN_PORT[switchyard-full/$u]}/admin/status" > "$OUT/switchyard-full-$u-admin-status.json" || true
        curl -s -m 5 -H "Authorization: Bearer $SY_BENCH_ADMIN_KEY" \
            "http://127.0.0.1:${ADMIN_PORT[switchyard-full/$u]}/metrics" > "$OUT/switchyard-full-$u-metrics.txt" || true
    fi
done

# --- first SSE chunk added over direct ----------------------------------------
# One streamed request at a time on one keep-alive connection (bench/client.py),
# through each target in front of the mock, pinned as in the pinned rows.
if [ "$FIRST_CHUNK" -gt 0 ] && [[ " $MODES " == *" stream "* ]] && [[ " $UPSTREAMS " == *" mock "* ]]; then
    apply_pinning "$(echo $PINS | awk '{print $1}')"
    # Interleaved in rounds, as the table's rows are: every target once per round,
    # so that what else the machine does at one moment does not land on one target.
    per_round=$(( (FIRST_CHUNK + FIRST_ROUNDS - 1) / FIRST_ROUNDS ))
    for ((fr = 1; fr <= FIRST_ROUNDS; fr++)); do
        for t in "${ACTIVE[@]}"; do
            [ -n "${STREAM_OK[$t/mock]:-}" ] || continue
            hargs=()
            if [ -n "${HEADERS[$t/mock]:-}" ]; then
                IFS='|' read -r -a hs <<< "${HEADERS[$t/mock]}"
                for h in "${hs[@]}"; do hargs+=(--header "$h"); done
            fi
            r=$("${ON_WRK[@]}" python3 "$CLIENT" first-chunk "${URL[$t/mock/stream]}" "$STREAM_BODY" \
                --requests "$per_round" --warmup 100 "${hargs[@]}") || { skip "first chunk $t" "client failed"; continue; }
            note "first chunk, round $fr, $t: $r"
            extra "first_chunk $t round=$fr $r"
        done
    done
fi

# --- fresh proxies for the stream sections -----------------------------------
# A fresh TARGET in front of upstream U (UP_URL[U]), set up for streams as in the
# streamed rows: nginx with proxy_buffering off and room for the connections,
# HAProxy with option http-no-delay, switchyard on its policy. Sets FRESH_PID (the
# process measured: nginx's worker), FRESH_KILL (the one to stop) and FRESH_URL;
# 1 for a target that has no such proxy (direct, portkey) or did not start.
start_fresh_proxy() { # TARGET UPSTREAM NAME MAXCONN
    local t=$1 u=$2 name=$3 maxconn=$4 d p
    case $t in
    nginx)
        d=$TMP/$name
        mkdir -p "$d/logs"
        p=$(free_port)
        cat > "$d/nginx.conf" <<EOF
$(nginx_user_line)
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections $((NOFILE - 50)); }
http {
$(nginx_common "$d")
    upstream up { server ${UP_URL[$u]#http://}; keepalive $NGINX_KEEPALIVE; }
    server {
        listen 127.0.0.1:$p backlog=4096;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
        start_nginx "$d" "nginx ($name)" || return 1
        FRESH_PID=$NGINX_WORKER
        FRESH_KILL=$NGINX_PID
        FRESH_URL=http://127.0.0.1:$p/v1/chat/completions
        wait_ready "$FRESH_URL" "$NGINX_PID" nginx || return 1
        ;;
    haproxy)
        d=$TMP/$name
        mkdir -p "$d"
        p=$(free_port)
        cat > "$d/haproxy.cfg" <<EOF
$(haproxy_global "$maxconn")
frontend fe_stream
    bind 127.0.0.1:$p
    option http-no-delay
    default_backend be_stream
backend be_stream
    server up ${UP_URL[$u]#http://}
EOF
        start_haproxy "$d" "haproxy ($name)" || return 1
        FRESH_PID=$HAPROXY_PID
        FRESH_KILL=$HAPROXY_PID
        FRESH_URL=http://127.0.0.1:$p/v1/chat/completions
        wait_ready "$FRESH_URL" "$HAPROXY_PID" haproxy || return 1
        ;;
    switchyard | switchyard-full)
        start_switchyard "$t" "$u" 1 "$name" || return 1
        FRESH_PID=$SY_LAST_PID
        FRESH_KILL=$SY_LAST_PID
        FRESH_URL=$SY_LAST_URL
        ;;
    *) return 1 ;;
    esac
}
stop_fresh_proxy() {
    kill -TERM "$FRESH_KILL" 2>/dev/null || true
    wait "$FRESH_KILL" 2>/dev/null || true
}

# --- paced events -------------------------------------------------------------
# The first-chunk section's mock sends a whole stream at once, and the end of an
# answer flushes whatever a proxy held back; a proxy that holds an event while
# the stream is unfinished (HAProxy without http-no-delay: up to 200 ms) shows
# only against an upstream that pauses. A second mock pauses PACED_DELAY_MS
# between content events; bench/client.py paced sends PACED streamed requests one
# at a time on one connection through a fresh proxy of each target (direct first:
# the reference) and notes when every event arrives. Unpinned: the pauses are
# milliseconds, far above what pinning changes.
if [ "$PACED" -gt 0 ] && [[ " $MODES " == *" stream "* ]]; then
    apply_pinning unpinned
    start_mock paced --chunks "$CHUNKS" --chunk-delay-ms "$PACED_DELAY_MS"
    UP_URL[paced]=http://127.0.0.1:$MOCK_PORT_paced
    for t in direct "${ACTIVE[@]}"; do
        case $t in
        direct)
            [ -s "$OUT/paced-direct.csv" ] && continue
            purl=${UP_URL[paced]}/v1/chat/completions
            ;;
        portkey) continue ;;
        *)
            if ! start_fresh_proxy "$t" paced "$t-paced" 100; then
                skip "paced events $t" "the proxy did not start"
                continue
            fi
            purl=$FRESH_URL
            ;;
        esac
        # direct is measured against its own medians: the lateness's noise floor
        if r=$(python3 "$CLIENT" paced "$purl" "$STREAM_BODY" --requests "$PACED" --warmup 5 \
            --events $((CHUNKS + 1)) --save "$OUT/paced-$t.csv" --reference "$OUT/paced-direct.csv" 2> "$TMP/paced.err"); then
            note "paced events, $t: $r"
            extra "paced $t delay_ms=$PACED_DELAY_MS $r"
        else
            skip "paced events $t" "$(tail -n 2 "$TMP/paced.err" | tr '\n' ' ')"
            [ "$t" = direct ] && break   # no reference: nothing to compare with
        fi
        [ "$t" = direct ] || stop_fresh_proxy
    done
    kill -TERM "$MOCK_PID_paced" 2>/dev/null || true
    wait "$MOCK_PID_paced" 2>/dev/null || true
fi

# --- --workers 2 against --workers 1 ------------------------------------------
# On a 2-core machine wrk and the upstream share the cores with the proxy, so a
# second worker cannot show twice the throughput here. Measured: unpinned,
# switchyard-full in front of the cheapest upstream (static nginx if there, else
# the mock), wrk with 2 threads at 256 connections, workers 1, 2, 1, 2 in turn:
# requests/s, the proxy's CPU per request (equal for 1 and 2 workers: no lock or
# shared cache line costs per request), how many cores the proxy used, and
# requests/s per proxy core (what 2 workers on 2 free cores would scale from).
if [ "$WORKERS_CHECK" = 1 ] && [ -x "$SY_BIN" ] && [[ " $TARGETS " == *" switchyard-full "* ]]; then
    apply_pinning unpinned
    wu=mock
    [[ " $UPSTREAMS " == *" nginx "* ]] && wu=nginx
    declare -A WPID WURL
    for w in 1 2; do
        if start_switchyard switchyard-full "$wu" "$w" "workers$w-$wu"; then
            WPID[$w]=$SY_LAST_PID
            WURL[$w]=$SY_LAST_URL
        fi
    done
    if [ -n "${WPID[1]:-}" ] && [ -n "${WPID[2]:-}" ]; then
        for mode in $MODES; do
            body=$(body_of "$mode")
            for w in 1 2 1 2; do
                BODY_FILE=$body wrk -t2 -c256 -d"$WARMUP" -s "$LUA" "${WURL[$w]}" > /dev/null 2>&1 || true
                t0=$(date +%s%N)
                p0=$(cpu_ns "${WPID[$w]}")
                BODY_FILE=$body wrk -t2 -c256 -d"$DURATION" --timeout 5s -s "$LUA" "${WURL[$w]}" > "$TMP/w.txt"
                p1=$(cpu_ns "${WPID[$w]}")
                t1=$(date +%s%N)
                line=$(grep '^BENCH ' "$TMP/w.txt")
                r=$(python3 - "$line" "$p0" "$p1" "$t0" "$t1" <<'EOF'
import sys
line, p0, p1, t0, t1 = sys.argv[1:]
kv = dict(f.split("=") for f in line.split()[1:])
req, dur = int(kv["requests"]), int(kv["duration_us"]) / 1e6
cpu = (int(p1) - int(p0)) / 1e9
errs = int(kv["non2xx"]) + sum(int(kv[k]) for k in ("connect_err", "read_err", "write_err", "timeouts"))
cores = cpu / ((int(t1) - int(t0)) / 1e9)
print("rps=%.0f cpu_us=%.1f cores=%.2f rps_per_core=%.0f p99_us=%s errors=%d"
      % (req / dur, cpu * 1e6 / req, cores, req / dur / cores if cores else 0, kv["p99_us"], errs))
EOF
)
                note "workers $w, $mode ($wu upstream): $r"
                extra "workers $w $mode $wu $r"
            done
        done
    fi
    for w in 1 2; do [ -n "${WPID[$w]:-}" ] && kill -TERM "${WPID[$w]}" 2>/dev/null; done
    for w in 1 2; do [ -n "${WPID[$w]:-}" ] && { wait "${WPID[$w]}" 2>/dev/null || true; }; done
fi

# --- RSS with N open streams --------------------------------------------------
# A second mock streams slowly (one event a second, for an hour); bench/client.py
# opens OPEN_STREAMS streams through the proxy in batches, waits until every one
# has its first event, and holds them. RSS before and while they are held,
# per stream. Fresh processes (nginx with room for the connections).
if [ "$OPEN_STREAMS" -gt 0 ] && [[ " $MODES " == *" stream "* ]]; then
    apply_pinning unpinned
    start_mock slow --chunks 3600 --chunk-delay-ms 1000
    UP_URL[slow]=http://127.0.0.1:$MOCK_PORT_slow
    for t in "${ACTIVE[@]}"; do
        start_fresh_proxy "$t" slow "$t-open-streams" $((OPEN_STREAMS + 100)) || continue
        spid=$FRESH_PID
        kpid=$FRESH_KILL
        surl=$FRESH_URL
        rss0=$(status_kb "$spid" VmRSS)
        rm -f "$TMP/release"
        python3 "$CLIENT" hold "$surl" "$STREAM_BODY" --streams "$OPEN_STREAMS" \
            --hold-file "$TMP/release" > "$TMP/hold.txt" 2> "$TMP/hold.err" &
        hpid=$!
        for _ in $(seq 1 600); do
            grep -q READY "$TMP/hold.txt" 2>/dev/null && break
            kill -0 "$hpid" 2>/dev/null || break
            sleep 0.5
        done
        if grep -q READY "$TMP/hold.txt"; then
            sleep 2
            rss1=$(status_kb "$spid" VmRSS)
            hwm=$(status_kb "$spid" VmHWM)
            r="streams=$(awk '{print $2}' "$TMP/hold.txt") rss0_kb=$rss0 rss_kb=$rss1 hwm_kb=$hwm per_stream_kb=$(awk -v a="$rss0" -v b="$rss1" -v n="$OPEN_STREAMS" 'BEGIN {printf "%.1f", (b - a) / n}') open_s=$(awk '{print $3}' "$TMP/hold.txt")"
            note "open streams, $t: $r"
            extra "open_streams $t $r"
        else
            skip "open streams $t" "$(tail -n 2 "$TMP/hold.err" | tr '\n' ' ')"
        fi
        touch "$TMP/release"
        wait "$hpid" 2>/dev/null || true
        kill -TERM "$kpid" 2>/dev/null || true
        wait "$kpid" 2>/dev/null || true
    done
    kill -TERM "$MOCK_PID_slow" 2>/dev/null || true
fi

# --- RSS over a long run at load ----------------------------------------------
# SOAK seconds of plain and streamed load at once (two wrk, 32 connections each)
# on a fresh switchyard-full in front of the mock, unpinned; VmRSS every SOAK_EVERY s.
if [ "$SOAK" -gt 0 ] && [ -x "$SY_BIN" ]; then
    apply_pinning unpinned
    if start_switchyard switchyard-full mock 1 soak; then
        spid=$SY_LAST_PID
        BODY_FILE=$BODY wrk -t1 -c32 -d"${SOAK}s" --timeout 5s -s "$LUA" "$SY_LAST_URL" > "$OUT/soak-plain.txt" &
        w1=$!
        BODY_FILE=$STREAM_BODY wrk -t1 -c32 -d"${SOAK}s" --timeout 5s -s "$LUA" "$SY_LAST_URL" > "$OUT/soak-stream.txt" &
        w2=$!
        : > "$OUT/soak-rss.csv"
        start=$(date +%s)
        while kill -0 "$w1" 2>/dev/null || kill -0 "$w2" 2>/dev/null; do
            echo "$(($(date +%s) - start)),$(status_kb "$spid" VmRSS)" >> "$OUT/soak-rss.csv"
            sleep "$SOAK_EVERY"
        done
        wait "$w1" "$w2" 2>/dev/null || true
        r=$(python3 - "$OUT/soak-rss.csv" "$OUT/soak-plain.txt" "$OUT/soak-stream.txt" <<'EOF'
import sys
rows = [tuple(map(int, l.split(","))) for l in open(sys.argv[1]) if l.strip()]
rss = [r for _, r in rows]
reqs = errs = 0
for f in sys.argv[2:]:
    for line in open(f):
        if line.startswith("BENCH "):
            kv = dict(x.split("=") for x in line.split()[1:])
            reqs += int(kv["requests"])
            errs += int(kv["non2xx"]) + sum(int(kv[k]) for k in ("connect_err", "read_err", "write_err", "timeouts"))
after1m = [r for t, r in rows if t >= 60] or rss
print("samples=%d first_kb=%d last_kb=%d max_kb=%d min_after_60s_kb=%d max_after_60s_kb=%d requests=%d errors=%d"
      % (len(rss), rss[0], rss[-1], max(rss), min(after1m), max(after1m), reqs, errs))
EOF
)
        note "soak: $r"
        extra "soak switchyard-full $SOAK $r"
        kill -TERM "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
    fi
fi

# --- report ----------------------------------------------------------------
HAPROXY_BIN=$HAPROXY_BIN python3 "$ROOT/bench/report.py" "$ROWS" "$OUT/extra.txt" "$OUT/skipped.txt" \
    "$BODY" "$STREAM_BODY" "$CHUNKS" "$USERS" "$NGINX" "$BUSY" "$IDLE" "$DURATION" \
    "wrk on CPU $WRK_CPUS; proxy on CPU $SERVER_CPUS; upstream on CPU $MOCK_CPUS" \
    "proxy alone on CPU $SERVER_CPUS; upstream and wrk on CPU $WRK_CPUS" "$NOFILE" > "$OUT/summary.md"
cat "$OUT/summary.md"
note "results in $OUT"
