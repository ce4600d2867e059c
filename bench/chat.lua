-- wrk script: POST the body in BODY_FILE (default bench/chat-1k.json) on every request.
--
-- USERS=N (N > 0, run.sh's default 1000): each request also carries `x-user-id: u<k>`,
-- k going 1, 2, ..., N, 1, ... on each connection's thread, so a sticky rollout splits
-- the load by user as real traffic would. The N requests are formatted once per thread
-- in init(); request() only hands the next one out. USERS=0: one static request, no Lua
-- call per request.
local path = os.getenv("BODY_FILE") or "bench/chat-1k.json"
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-client"
-- EXTRA_HEADERS="Name: value|Name: value": more headers on every request (Portkey's
-- x-portkey-provider and x-portkey-custom-host).
for h in string.gmatch(os.getenv("EXTRA_HEADERS") or "", "[^|]+") do
  local name, value = string.match(h, "^%s*([^:]+):%s*(.-)%s*$")
  if name then wrk.headers[name] = value end
end

local users = math.floor(tonumber(os.getenv("USERS") or "0") or 0)
if users > 0 then
  local reqs, i = {}, 0
  function init(args)
    for k = 1, users do
      local h = {}
      for name, value in pairs(wrk.headers) do h[name] = value end
      h["x-user-id"] = "u" .. k
      reqs[k] = wrk.format(nil, nil, h)
    end
  end
  function request()
    i = i % users + 1
    return reqs[i]
  end
end

-- No response() hook: it would cost wrk a Lua call per answer. wrk counts non-2xx/3xx
-- answers itself (summary.errors.status), which run.sh checks.
function done(summary, latency, requests)
  local errs = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d mean_us=%.1f " ..
    "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, errs.status, errs.connect, errs.read, errs.write, errs.timeout))
end
