-- wrk script: POST bench/chat-1k.json (path in BODY_FILE, default bench/chat-1k.json) on every request.
local path = os.getenv("BODY_FILE") or "bench/chat-1k.json"
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-client"

-- No response() hook: it would cost wrk a Lua call per answer. wrk counts non-2xx/3xx
-- answers itself (summary.errors.status), which run.sh checks.
function done(summary, latency, requests)
  local errs = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.1f " ..
    "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, errs.status, errs.connect, errs.read, errs.write, errs.timeout))
end
