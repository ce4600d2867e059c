#!/usr/bin/env python3
"""bench/report.py - the markdown summary of a bench/run.sh run (called by run.sh).

Arguments: ROWS_CSV EXTRA_TXT SKIPPED_TXT BODY STREAM_BODY CHUNKS USERS NGINX BUSY IDLE
DURATION PINNING ALONE NOFILE. Rows of several rounds are shown as the median, with the
range of CPU per request and of its ratio to nginx.
"""
import csv
import os
import platform
import statistics
import subprocess
import sys
from datetime import date

(rows_file, extra_file, skipped_file, body, stream_body, chunks, users, nginx, busy, idle,
 duration, pinning, alone, nofile) = sys.argv[1:]
rows = list(csv.DictReader(open(rows_file)))
extra = [l.split() for l in open(extra_file) if l.strip()]
skipped = [l.strip() for l in open(skipped_file) if l.strip()]
TARGETS = ["direct", "nginx", "haproxy", "switchyard", "switchyard-full", "portkey"]
# Issue 12's targets.
CPU_MAX, P99_MAX, FIRST_MAX_US, STREAM_KB_MAX, PORTKEY_MIN = 1.5, 1.5, 100, 20, 50


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


def kv(fields):
    return dict(f.split("=", 1) for f in fields if "=" in f)


def med(xs):
    return statistics.median(xs) if xs else None


def rng(xs, fmt):
    if not xs:
        return "—"
    lo, hi = min(xs), max(xs)
    return fmt % lo if fmt % lo == fmt % hi else (fmt % lo) + "–" + (fmt % hi)


# group rows: (upstream, pinning, mode, conns, target) -> list of rows (rounds)
groups = {}
for r in rows:
    groups.setdefault((r["upstream"], r["pinning"], r["mode"], r["conns"], r["target"]), []).append(r)
rounds = len({r["round"] for r in rows})
cpu = lambda rs: [float(r["proxy_cpu_us"]) for r in rs if r["proxy_cpu_us"]]
rps = lambda r: int(r["requests"]) / (int(r["duration_us"]) / 1e6)

print("# switchyard benchmark\n")
print("- %s; machine: %s, %d CPUs, Linux %s; %s%% idle before the run"
      % (date.today().isoformat(), cpu_model(), os.cpu_count(), platform.release(), idle))
print("- %s; %s" % (version([nginx, "-v"]), version(["wrk", "-v"]).split("[")[0].strip()))
if any(r["target"] == "haproxy" for r in rows):
    print("- %s: one thread, http mode, keep-alive both sides, `http-reuse always`, "
          "`option http-no-delay` for streams, no log"
          % " ".join(version([os.environ.get("HAPROXY_BIN", "haproxy"), "-v"]).split()[:3]))
print("- load: wrk, 1 thread, keep-alive, POST of %s (%d bytes), %s per row, %d round%s interleaved "
      "(every target at one setting, then the next setting)"
      % (os.path.basename(body), os.path.getsize(body), duration, rounds, "" if rounds == 1 else "s"))
print("- pinned: %s; unpinned: no taskset" % pinning)
if any(r["pinning"] == "alone" for r in rows):
    print("- alone: %s (the proxy is the only thing on its CPU: at saturation its requests/s is its "
          "throughput)" % alone)
if int(users):
    print("- every request carries `x-user-id: u1` ... `u%s` in turn (bench/chat.lua)" % users)
print('- stream rows: the same body with `"stream": true` (%d bytes): %s chunk events and `data: [DONE]`, '
      "%d SSE events per request" % (os.path.getsize(stream_body), chunks, int(chunks) + 1))
print("- upstream `mock`: tools/mock-upstream (1 thread); `nginx`: one nginx worker answering a static "
      "copy of the mock's answers")
print("- CPU/req: CPU time of the process (all threads, /proc/PID/task/*/schedstat) across the row, divided "
      "by the requests wrk completed; × nginx: that over nginx's at the same setting; RSS: VmRSS after "
      "the row (VmHWM, the peak, in brackets); nginx: its worker")
if busy:
    print("- **warning: %s**" % busy)
print("- other (pinned rows): share of the servers' CPU that neither the proxy nor the upstream used "
      "(other processes, interrupts, steal); above 5 %, distrust the row")
print()

ratio_rows = []
for u in sorted({k[0] for k in groups}, key=lambda x: ["mock", "nginx"].index(x) if x in ("mock", "nginx") else 9):
    for pin in [p for p in ("pinned", "unpinned", "alone") if any(k[0] == u and k[1] == p for k in groups)]:
        print("## upstream %s, %s\n" % (u, pin))
        print("| answer | conns | target | req/s | p50 µs | p99 µs | proxy CPU µs/req | × nginx | upstream CPU µs/req | RSS MiB (peak) | other | errors |")
        print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for mode in ("plain", "stream"):
            for c in sorted({k[3] for k in groups if k[:3] == (u, pin, mode)}, key=int):
                base = groups.get((u, pin, mode, c, "nginx"), [])
                base_cpu = {r["round"]: float(r["proxy_cpu_us"]) for r in base if r["proxy_cpu_us"]}
                base_p99 = med([int(r["p99_us"]) for r in base])
                for t in TARGETS:
                    rs = groups.get((u, pin, mode, c, t))
                    if not rs:
                        continue
                    ratios = [float(r["proxy_cpu_us"]) / base_cpu[r["round"]] for r in rs
                              if r["proxy_cpu_us"] and base_cpu.get(r["round"])]
                    errs = []
                    for r in rs:
                        if int(r["non2xx"]):
                            errs.append("%s non-2xx" % r["non2xx"])
                        if int(r["socket_errors"]):
                            errs.append("%s socket" % r["socket_errors"])
                        if t != "direct" and r["upstream_requests"] and int(r["upstream_requests"]) < int(r["requests"]):
                            errs.append("upstream saw only %s" % r["upstream_requests"])
                        if r["access_log_lines"] and abs(int(r["access_log_lines"]) - int(r["requests"])) > 2 * int(c):
                            errs.append("access log has %s lines" % r["access_log_lines"])
                    p99 = med([int(r["p99_us"]) for r in rs])
                    rss = med([int(r["proxy_rss_kb"]) for r in rs if r["proxy_rss_kb"]])
                    hwm = max([int(r["proxy_hwm_kb"]) for r in rs if r["proxy_hwm_kb"]] or [0])
                    other = [int(r["other_cpu_pct"]) for r in rs if r["other_cpu_pct"]]
                    print("| %s | %s | %s | %.0f | %d | %d | %s | %s | %s | %s | %s | %s |" % (
                        "SSE" if mode == "stream" else "JSON", c, t, med([rps(r) for r in rs]),
                        med([int(r["p50_us"]) for r in rs]), p99,
                        rng(cpu(rs), "%.1f"), rng(ratios, "%.2f") if t != "nginx" and ratios else "",
                        rng([float(r["upstream_cpu_us"]) for r in rs if r["upstream_cpu_us"]], "%.1f"),
                        "%.1f (%.1f)" % (rss / 1024, hwm / 1024) if rss else "—",
                        rng(other, "%d %%") if other else "—", ", ".join(errs) or "none"))
                    if t.startswith("switchyard") and ratios:
                        ratio_rows.append((u, pin, mode, c, t, max(ratios),
                                           p99 / base_p99 if base_p99 else None))
        print()

if ratio_rows:
    print("## Against issue 12's targets\n")
    print("| upstream | pinning | answer | conns | target | CPU × nginx (worst round) | p99 × nginx |")
    print("|---|---|---|---:|---|---:|---:|")
    for u, pin, mode, c, t, ratio, p99r in ratio_rows:
        mark = " ✗" if ratio > CPU_MAX else ""
        pmark = " ✗" if p99r and c == "256" and p99r > P99_MAX else ""
        print("| %s | %s | %s | %s | %s | %.2f%s | %s%s |" % (
            u, pin, "SSE" if mode == "stream" else "JSON", c, t, ratio, mark,
            "%.2f" % p99r if p99r else "—", pmark))
    print("\nTargets: CPU per request at most %.1f× nginx's on every row; p99 at 256 connections at most "
          "%.1f× nginx's (✗ marks a miss).\n" % (CPU_MAX, P99_MAX))

# First SSE event: per target, the rounds (FIRST_ROUNDS) of one-at-a-time requests;
# a round's added latency is over direct's in the same round.
fc_rounds = {}
for e in extra:
    if e[0] == "first_chunk":
        fc_rounds.setdefault(e[1], []).append(kv(e[2:]))
if fc_rounds:
    n_rounds = max(len(v) for v in fc_rounds.values())
    per_round = int(next(iter(fc_rounds.values()))[0]["requests"])
    print("## First SSE event, one request at a time (mock upstream, %d requests per target in %d "
          "interleaved round%s)\n" % (per_round * n_rounds, n_rounds, "" if n_rounds == 1 else "s"))
    print("| target | first event p50 µs | added over direct (median round) | rounds | p90 µs | p99 µs "
          "| whole answer p50 µs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    direct = {v.get("round", "1"): float(v["first_p50_us"]) for v in fc_rounds.get("direct", [])}
    for t in TARGETS:
        if t not in fc_rounds:
            continue
        vs = fc_rounds[t]
        f = lambda k: "%.1f" % med([float(v[k]) for v in vs])
        adds = [float(v["first_p50_us"]) - direct[v.get("round", "1")] for v in vs
                if v.get("round", "1") in direct]
        add = med(adds) if adds and t != "direct" else None
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            t, f("first_p50_us"),
            "" if add is None else "%+.1f µs%s" % (add, " ✗" if t.startswith("switchyard") and add > FIRST_MAX_US else ""),
            "" if add is None else rng(adds, "%+.0f"), f("first_p90_us"), f("first_p99_us"), f("whole_p50_us")))
    print("\nTarget: switchyard adds at most %d µs to the first event (p50, the median of the rounds). The "
          "client is Python (bench/client.py); its own time is the same on every row and cancels in the "
          "difference.\n" % FIRST_MAX_US)

pc = {e[1]: kv(e[2:]) for e in extra if e[0] == "paced"}
if pc:
    v0 = next(iter(pc.values()))
    ms = lambda v, k: "%.1f" % (float(v[k]) / 1000)
    print("## Paced events: nothing held back (mock pausing %s ms between content events, %s requests "
          "one at a time)\n" % (v0["delay_ms"], v0["requests"]))
    print("| target | gap p50 ms | gap p99 ms | first event p50 ms | last event p50 ms "
          "| later than direct, p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for t in TARGETS:
        if t in pc:
            v = pc[t]
            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                t, ms(v, "gap_p50_us"), ms(v, "gap_p99_us"), ms(v, "first_p50_us"), ms(v, "last_p50_us"),
                ms(v, "late_p99_us"), ms(v, "late_max_us")))
    print("\nWhen each SSE event reached the client: the gap between consecutive content events is about "
          "%s ms through a proxy that passes each event on as it comes, and \"later than direct\" compares "
          "every event with direct's median arrival of the same event (direct's own row is the noise floor); "
          "a proxy holding events back shows gaps far from %s ms (near 0 when it sends them all together "
          "at the end, or far above) and events tens of ms later than direct.\n"
          % (v0["delay_ms"], v0["delay_ms"]))

os_ = {e[1]: kv(e[2:]) for e in extra if e[0] == "open_streams"}
if os_:
    print("## Open streams (open-file limit %s)\n" % nofile)
    print("| target | streams held | RSS before MiB | RSS with the streams MiB | per stream KiB |")
    print("|---|---:|---:|---:|---:|")
    for t in TARGETS:
        if t in os_:
            o = os_[t]
            per = float(o["per_stream_kb"])
            print("| %s | %s | %.1f | %.1f | %.1f%s |" % (t, o["streams"], int(o["rss0_kb"]) / 1024,
                                                       int(o["rss_kb"]) / 1024, per,
                                                       " ✗" if t.startswith("switchyard") and per > STREAM_KB_MAX else ""))
    print("\nEach stream: a client connection and an upstream connection held open by a mock that sends one "
          "event a second. Target: under %d KB per open stream. RSS counts user-space memory only "
          "(socket buffers are the kernel's).\n" % STREAM_KB_MAX)

wk = [e for e in extra if e[0] == "workers"]
if wk:
    print("## --workers 2 against --workers 1 (switchyard-full, %s upstream, unpinned, wrk -t2 -c256)\n" % wk[0][3])
    print("| answer | workers | req/s | proxy CPU µs/req | proxy cores used | req/s per proxy core | p99 µs | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    per = {}
    for e in wk:
        w, mode, v = e[1], e[2], kv(e[4:])
        per.setdefault((mode, w), []).append(v)
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % ("SSE" if mode == "stream" else "JSON", w, v["rps"],
                                                         v["cpu_us"], v["cores"], v["rps_per_core"], v["p99_us"], v["errors"]))
    print()
    for mode in ("plain", "stream"):
        if (mode, "1") in per and (mode, "2") in per:
            m = lambda w, k: med([float(v[k]) for v in per[(mode, w)]])
            print("- %s: 2 workers carry %.2f× the requests/s of 1 here, at %.2f× the CPU per request, using %.2f "
                  "cores against %.2f; requests/s per proxy core %.2f× 1 worker's" % (
                      "JSON" if mode == "plain" else "SSE", m("2", "rps") / m("1", "rps"),
                      m("2", "cpu_us") / m("1", "cpu_us"), m("2", "cores"), m("1", "cores"),
                      m("2", "rps_per_core") / m("1", "rps_per_core")))
    print("\nOn this 2-core machine wrk and the upstream share the cores with the proxy, so two workers "
          "cannot show twice one worker's throughput: the proxy gets at most what wrk and the upstream "
          "leave. What shows scaling is the CPU per request (the same with 2 workers: no lock or shared "
          "state paid per request) and the requests/s per proxy core; with the load generator elsewhere, "
          "2 workers on 2 free cores carry about 2 × (requests/s per proxy core).\n")

so = [e for e in extra if e[0] == "soak"]
if so:
    v = kv(so[0][3:])
    mib = lambda k: int(v[k]) / 1024
    print("## RSS over %s s at load (switchyard-full, mock upstream, plain and streamed at once)\n" % so[0][2])
    print("- %s samples: first %.1f MiB, last %.1f MiB, max %.1f MiB; after the first minute between %.1f and "
          "%.1f MiB; %s requests, %s errors (series in soak-rss.csv)\n" % (
              v["samples"], mib("first_kb"), mib("last_kb"), mib("max_kb"), mib("min_after_60s_kb"),
              mib("max_after_60s_kb"), v["requests"], v["errors"]))

if any(r["target"] == "portkey" for r in rows):
    rps_of = lambda g: med([rps(r) for r in g]) if g else None
    fmt = lambda v: "%.0f×" % v if v is not None else "—"
    print("## Portkey\n")
    # Throughput: what a proxy carries when it is the bottleneck, i.e. in the alone rows
    # (its own CPU; the upstream and wrk on the other), at the best connection count.
    best = {}
    for (u, pin, mode, c, t), rs in groups.items():
        if pin == "alone" and t in ("portkey", "switchyard-full", "nginx"):
            v = rps_of(rs)
            if v > best.get((u, mode, t), (0.0, ""))[0]:
                best[(u, mode, t)] = (v, c)
    judged = sorted({(u, mode) for (u, mode, t) in best if t == "portkey"})
    if judged:
        print("**Throughput**, the requests/s a proxy carries when it is the bottleneck: the alone rows "
              "(%s), the best connection count of each proxy.\n" % alone)
        print("| upstream | answer | switchyard-full req/s | Portkey req/s | switchyard-full × Portkey "
              "| nginx req/s | nginx × Portkey |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for u, mode in judged:
            pk, pc = best[(u, mode, "portkey")]
            sy, sc = best.get((u, mode, "switchyard-full"), (None, ""))
            ng, nc = best.get((u, mode, "nginx"), (None, ""))
            x = sy / pk if sy and pk else None
            print("| %s | %s | %s | %.0f (c=%s) | %s | %s | %s |" % (
                u, "SSE" if mode == "stream" else "JSON",
                "%.0f (c=%s)" % (sy, sc) if sy else "—", pk, pc,
                ("%.1f×%s" % (x, " ✗" if x < PORTKEY_MIN else "")) if x else "—",
                "%.0f (c=%s)" % (ng, nc) if ng else "—", fmt(ng / pk if ng and pk else None)))
        print("\nTarget: at least %d× Portkey's throughput (✗ marks a miss).\n" % PORTKEY_MIN)
    else:
        print("No alone rows with Portkey (ALONE=0 or no taskset): throughput is not judged.\n")
    print("**Every row**: req/s over Portkey's at the same setting, for switchyard-full and, as the "
          "ceiling the setting leaves, for nginx and for direct (wrk straight to the upstream, no proxy "
          "at all); and requests per CPU-second of the proxy process over Portkey's (its CPU per request "
          "over switchyard-full's). At one connection a row measures one request's round trip, not "
          "throughput, and in the pinned rows the proxy shares its CPU with the upstream.\n")
    print("| upstream | pinning | answer | conns | switchyard-full | nginx | direct | per CPU-second |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    n_rows = n_met = 0
    for (u, pin, mode, c, t), rs in sorted(groups.items()):
        if t != "portkey":
            continue
        pk = rps_of(rs)
        def over(target):
            v = rps_of(groups.get((u, pin, mode, c, target)))
            return v / pk if v and pk else None
        sy = groups.get((u, pin, mode, c, "switchyard-full"))
        if not sy:
            continue
        x = over("switchyard-full")
        n_rows += 1
        n_met += x is not None and x >= PORTKEY_MIN
        pcpu, scpu = cpu(rs), cpu(sy)
        per_cpu = med(pcpu) / med(scpu) if pcpu and scpu else None
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            u, pin, "SSE" if mode == "stream" else "JSON", c, "%.1f×" % x if x else "—",
            fmt(over("nginx")), fmt(over("direct")), fmt(per_cpu)))
    print("\nswitchyard-full's req/s is at least %d× Portkey's on %d of these %d rows.\n"
          % (PORTKEY_MIN, n_met, n_rows))

for s in skipped:
    print("- skipped %s" % s)
