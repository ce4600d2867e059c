#!/usr/bin/env python3
"""Fault injection against the real binary and the mock upstream (issue 7): Retry-After
waits, circuit breakers per endpoint, per-attempt first-byte timeouts, the failover chain
canary -> stable -> fallback model, the retry budget in an error storm, the status table
(400 passed through, 401 skips the provider), switchyard_retries_total, and the stream
bounds after the commit point (a cut stream, stream_idle_timeout, request_timeout)."""

import json
import re
import socket
import struct
import threading
import time

import harness
from harness import IntegrationCase, chat_body, secret_ref, sse_events, stream_request

CANARY_KEY = "sk-canary-holysheep-3b8d"


# ---------------------------------------------------------------------------------------------
# Policies

def provider_yaml(mock_port, name, plugin, key, endpoints, extra=None):
    """A provider whose endpoints are the mock's endpoints of the same names, by priority in
    the order given. extra: provider keys (connect_timeout, first_byte_timeout, ...)."""
    lines = [f"  {name}:", f"    plugin: {plugin}", f"    api_key: {secret_ref(key)}"]
    for k, v in (extra or {}).items():
        lines.append(f"    {k}: {v}")
    lines.append("    endpoints:")
    for i, ep in enumerate(endpoints):
        lines.append(f"      - {{name: {ep}, base_url: \"http://127.0.0.1:{mock_port}/{ep}/v1\", "
                     f"priority: {i + 1}}}")
    return lines


def policy(mock_port, *, stable=("primary", "openai", harness.PRIMARY_KEY, ("r1", "r2")),
           canary=None, percent=100, provider_extra=None, max_attempts=3, retry_on=None,
           backoff="{base: 5ms, max: 20ms, jitter: none}", retry_after_max="5s",
           budget="{ratio: 1.0, min_per_second: 1000}", failure_threshold=1000,
           success_threshold=1, open_for="1s", half_open_max_calls=1, request_timeout="10s",
           server_extra=None, fallbacks=(("gpt-4.1", "gpt-4o-mini"),), fallback_to_stable=True):
    """stable and canary are (name, plugin, key, endpoint names). With a canary, every
    request with an x-user-id goes to it at percent 100. Backoff is short: the tests that
    care about a wait use Retry-After, which must not be confused with it."""
    lines = ["version: 1", "server:", "  listen: 127.0.0.1:1", f"  request_timeout: {request_timeout}",
             f"  admin_key: {secret_ref(harness.ADMIN_KEY)}"]
    for k, v in (server_extra or {}).items():
        lines.append(f"  {k}: {v}")
    lines.append("providers:")
    extra = provider_extra or {}
    lines += provider_yaml(mock_port, *stable, extra=extra.get(stable[0]))
    if canary:
        lines += provider_yaml(mock_port, *canary, extra=extra.get(canary[0]))
    on = retry_on or ["connect_error", "timeout", 429, 500, 502, 503, 504]
    lines += ["retry:", f"  max_attempts: {max_attempts}",
              "  on: [" + ", ".join(str(x) for x in on) + "]",
              f"  backoff: {backoff}",
              f"  retry_after: {{honor: true, max: {retry_after_max}}}",
              f"  budget: {budget}",
              "breaker:", f"  failure_threshold: {failure_threshold}",
              f"  success_threshold: {success_threshold}", f"  open_for: {open_for}",
              f"  half_open_max_calls: {half_open_max_calls}",
              "models:"]
    if fallbacks:
        lines.append("  fallbacks:")
        for frm, to in fallbacks:
            lines.append(f"    {frm}: [{to}]")
    lines += ["  prices:", "    gpt-4.1: {input: 2.00, output: 8.00}",
              "    gpt-4o-mini: {input: 0.15, output: 0.60}",
              "migration:", f"  stable: {stable[0]}"]
    if canary:
        lines += [f"  canary: {canary[0]}", "  rollout:", "    id: resilience", f"    percent: {percent}",
                  "    sticky_by: [header:x-user-id]"]
    lines.append(f"  fallback_to_stable: {'true' if fallback_to_stable else 'false'}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Reading /admin/status and /metrics

ADMIN = {"Authorization": f"Bearer {harness.ADMIN_KEY}"}


def endpoint_status(router, provider, endpoint):
    r = router.get("/admin/status", headers=ADMIN)
    assert r.status == 200, r
    for e in r.json()["endpoints"]:
        if e["provider"] == provider and e["endpoint"] == endpoint:
            return e
    raise AssertionError(f"{provider}/{endpoint} not in /admin/status: {r.body[:2000]!r}")


def metric(router, name, required=False, **labels):
    """The sum of the samples of name whose labels include labels: 0 when there is none,
    or an AssertionError when required."""
    r = router.get("/metrics")
    assert r.status == 200, r
    total, found = 0.0, 0
    for m in re.finditer(r"^" + re.escape(name) + r"(?:\{([^}]*)\})? (\S+)$", r.body.decode(), re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
            found += 1
    assert found or not required, f"no sample of {name} with {labels} in /metrics"
    return total


def error_events(body):
    out = []
    for e in sse_events(body):
        d = e.get("data", "")
        if d.startswith("{") and '"error"' in d:
            out.append(json.loads(d)["error"])
    return out


CANARY_USER = {"x-user-id": "u-canary"}


# ---------------------------------------------------------------------------------------------
# 429 with Retry-After

class RetryAfter(IntegrationCase):
    def test_retry_after_2s_is_waited_once_then_success(self):
        mock = self.start_mock()
        # One endpoint: nowhere else to go on this route, so the 2 s are waited. The
        # backoff is 5 ms: an answer well before 2 s means the router backed off instead.
        router = self.start_router(policy(mock.port, stable=("primary", "openai", harness.PRIMARY_KEY, ("r1",))))
        mock.control("r1", {"fail_next": 1, "error_status": 429, "retry_after": "2"})
        t0 = time.monotonic()
        r = router.chat(chat_body("gpt-4.1"), timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(took, 1.9, "Retry-After: 2 must be waited, not the 5 ms backoff")
        self.assertLess(took, 6.0, "one wait of about 2 s, not several")
        self.assertEqual(r.header("x-switchyard-model"), "gpt-4.1", "the same route, after the wait")
        self.assertEqual(r.header("x-switchyard-attempts"), "2")
        self.assertEqual(mock.stats()["total"], 2, "exactly the 429 and the retry")
        # A 429 is not a failure: the breaker did not count it.
        self.assertEqual(endpoint_status(router, "primary", "r1")["consecutive_failures"], 0)


# ---------------------------------------------------------------------------------------------
# Circuit breaker per endpoint

class Breaker(IntegrationCase):
    HS = ("holysheep", "holysheep", CANARY_KEY, ("cn-north", "cn-east"))

    def test_opens_after_threshold_skips_endpoint_probes_once_and_closes(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, stable=self.HS, failure_threshold=5,
                                          success_threshold=2, half_open_max_calls=2, open_for="1s"))
        mock.control("cn-north", {"error_rate": 1, "error_status": 503})

        def state(ep="cn-north"):
            return endpoint_status(router, "holysheep", ep)

        # Four 503s: closed still, counting. Each request is served by cn-east.
        for i in range(4):
            r = router.chat(chat_body("gpt-4o-mini"))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("x-switchyard-endpoint"), "cn-east")
        st = state()
        self.assertEqual((st["breaker"], st["consecutive_failures"]), ("closed", 4), st)
        # The fifth opens it.
        r = router.chat(chat_body("gpt-4o-mini"))
        t_open = time.monotonic()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(mock.requests_to("cn-north"), 5)
        # While open (open_for 1 s; these few local calls take milliseconds): no attempt on
        # cn-north, the requests go straight to cn-east.
        for _ in range(3):
            r = router.chat(chat_body("gpt-4o-mini"))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("x-switchyard-endpoint"), "cn-east")
            self.assertEqual(r.header("x-switchyard-attempts"), "1", "cn-north was not tried")
        st = state()
        phase = time.monotonic() - t_open
        self.assertLess(phase, 0.9, "the open phase checks must run inside open_for (1 s)")
        self.assertEqual(mock.requests_to("cn-north"), 5, "an open breaker sends nothing")
        self.assertEqual(st["breaker"], "open", st)
        self.assertEqual(st["breaker_opens"], 1, st)
        self.assertGreater(st["open_for_ms"], 0, st)
        self.assertLessEqual(st["open_for_ms"], 1000, st)
        self.assertEqual(metric(router, "switchyard_breaker_state", required=True,
                                provider="holysheep", endpoint="cn-north"), 2)
        self.assertEqual(metric(router, "switchyard_breaker_opens_total", provider="holysheep",
                                endpoint="cn-north"), 1)
        self.assertEqual(metric(router, "switchyard_breaker_state", required=True,
                                provider="holysheep", endpoint="cn-east"), 0)

        # After open_for: exactly one probe reaches cn-north; it fails (the fault is still
        # there) and opens the breaker again; the request is served by cn-east.
        time.sleep(max(0.0, 1.2 - (time.monotonic() - t_open)))
        for _ in range(3):
            r = router.chat(chat_body("gpt-4o-mini"))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("x-switchyard-endpoint"), "cn-east")
        t_reopen = time.monotonic()
        self.assertEqual(mock.requests_to("cn-north"), 6, "one probe, then open again")
        st = state()
        self.assertEqual((st["breaker"], st["breaker_opens"]), ("open", 2), st)

        # Fault cleared: after open_for the probes succeed; success_threshold (2) successes
        # close it.
        mock.control("cn-north", {})
        time.sleep(max(0.0, 1.2 - (time.monotonic() - t_reopen)))
        r = router.chat(chat_body("gpt-4o-mini"))
        self.assertEqual((r.status, r.header("x-switchyard-endpoint")), (200, "cn-north"), r)
        self.assertEqual(state()["breaker"], "half_open")
        self.assertEqual(metric(router, "switchyard_breaker_state", provider="holysheep",
                                endpoint="cn-north"), 1)
        r = router.chat(chat_body("gpt-4o-mini"))
        self.assertEqual((r.status, r.header("x-switchyard-endpoint")), (200, "cn-north"), r)
        st = state()
        self.assertEqual((st["breaker"], st["consecutive_failures"], st["breaker_opens"]),
                         ("closed", 0, 2), st)
        self.assertEqual(metric(router, "switchyard_breaker_state", provider="holysheep",
                                endpoint="cn-north"), 0)
        self.assertEqual(metric(router, "switchyard_breaker_opens_total", provider="holysheep",
                                endpoint="cn-north"), 2)
        self.assertEqual(mock.requests_to("cn-north"), 8)

    def open_cn_north(self, mock, router):
        """Open cn-north's breaker (failure_threshold 1) with one 503; returns when it opened."""
        mock.control("cn-north", {"fail_next": 1, "error_status": 503})
        r = router.chat(chat_body("gpt-4o-mini"))
        t_open = time.monotonic()
        self.assertEqual((r.status, r.header("x-switchyard-endpoint")), (200, "cn-east"), r)
        self.assertEqual(endpoint_status(router, "holysheep", "cn-north")["breaker"], "open")
        return t_open

    def test_half_open_lets_one_probe_through_among_concurrent_requests(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, stable=self.HS, failure_threshold=1,
                                          success_threshold=1, half_open_max_calls=1, open_for="1s"))
        t_open = self.open_cn_north(mock, router)
        # The probe will be slow (and fail): the other requests arrive while it is out.
        mock.control("cn-north", {"error_rate": 1, "error_status": 503, "latency_ms": 800})
        time.sleep(max(0.0, 1.2 - (time.monotonic() - t_open)))
        handles = [harness.in_thread(router.chat, chat_body("gpt-4o-mini"), timeout=20) for _ in range(4)]
        for h in handles:
            r = h.join(30)
            self.assertEqual((r.status, r.header("x-switchyard-endpoint")), (200, "cn-east"), r)
        self.assertEqual(mock.requests_to("cn-north"), 2, "one probe among four requests")
        st = endpoint_status(router, "holysheep", "cn-north")
        self.assertEqual((st["breaker"], st["breaker_opens"]), ("open", 2), st)

    def test_probe_slot_comes_back_when_the_client_goes(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, stable=self.HS, failure_threshold=1,
                                          success_threshold=1, half_open_max_calls=1, open_for="1s"))
        t_open = self.open_cn_north(mock, router)
        mock.control("cn-north", {"hang": True})
        time.sleep(max(0.0, 1.2 - (time.monotonic() - t_open)))
        # The probe hangs; its client gives up (a reset: a half-close after a whole request
        # still wants its answer, as HAProxy allows).
        sock = harness.raw_connect(router.port)
        self.sockets.append(sock)
        body = chat_body("gpt-4o-mini")
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        harness.wait_for(lambda: mock.requests_to("cn-north") == 2, 10, what="the probe upstream")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        harness.wait_for(lambda: endpoint_status(router, "holysheep", "cn-north")["in_flight"] == 0, 5,
                         what="the router to drop the abandoned probe")
        self.assertEqual(endpoint_status(router, "holysheep", "cn-north")["breaker"], "half_open",
                         "a client gone is neither a success nor a failure of the probe")
        # Its slot was handed back: the next request probes, succeeds and closes the breaker.
        mock.control("cn-north", {})
        r = router.chat(chat_body("gpt-4o-mini"))
        self.assertEqual((r.status, r.header("x-switchyard-endpoint")), (200, "cn-north"), r)
        self.assertEqual(endpoint_status(router, "holysheep", "cn-north")["breaker"], "closed")


# ---------------------------------------------------------------------------------------------
# A hung endpoint: first_byte_timeout, failover

class HungEndpoint(IntegrationCase):
    def check_failover(self, stream):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, request_timeout="10s",
                                          provider_extra={"primary": {"first_byte_timeout": "500ms"}}))
        mock.control("r1", {"hang": True})
        t0 = time.monotonic()
        if stream:
            r, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True), timeout=30)
        else:
            r = router.chat(chat_body("gpt-4o-mini"), timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        if stream:
            self.assertTrue(r.body.endswith(b"data: [DONE]\n\n"), r.body[-200:])
        self.assertEqual(r.header("x-switchyard-endpoint"), "r2", r.headers)
        self.assertEqual(r.header("x-switchyard-attempts"), "2")
        self.assertGreaterEqual(took, 0.45, "r1 was given its first_byte_timeout")
        self.assertLess(took, 2.0, "failover after first_byte_timeout, not request_timeout")
        self.assertEqual(mock.requests_to("r1"), 1)
        # The hung attempt is a failure for r1's breaker.
        self.assertEqual(endpoint_status(router, "primary", "r1")["consecutive_failures"], 1)

    def test_first_byte_timeout_fails_over_well_inside_request_timeout(self):
        self.check_failover(stream=False)

    def test_first_byte_timeout_fails_over_a_stream_before_its_commit_point(self):
        self.check_failover(stream=True)


# ---------------------------------------------------------------------------------------------
# canary -> stable -> fallback model -> 502

class FailoverChain(IntegrationCase):
    HS = ("holysheep", "holysheep", CANARY_KEY, ("cn-north", "cn-east"))
    OAI = ("openai-official", "openai", harness.PRIMARY_KEY, ("global",))

    def start(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, stable=self.OAI, canary=self.HS, percent=100,
                                          max_attempts=2))
        return mock, router

    def test_canary_down_stable_then_fallback_then_502(self):
        mock, router = self.start()
        for ep in ("cn-north", "cn-east"):
            mock.control(ep, {"error_rate": 1, "error_status": 503})

        # Every canary region down: the same model on stable.
        r = router.chat(chat_body("gpt-4.1"), headers=CANARY_USER)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.header("x-switchyard-arm"), r.header("x-switchyard-provider"),
                          r.header("x-switchyard-model")), ("stable", "openai-official", "gpt-4.1"), r.headers)
        self.assertEqual(r.header("x-switchyard-attempts"), "3", "cn-north, cn-east, global")

        # Stable down too, for gpt-4.1's two tries: the fallback model. Its canary route
        # is still down; its stable route answers (fail_next is used up by then).
        mock.reset_stats()
        mock.control("global", {"fail_next": 2, "error_status": 503})
        r = router.chat(chat_body("gpt-4.1"), headers=CANARY_USER)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.header("x-switchyard-provider"), r.header("x-switchyard-model")),
                         ("openai-official", "gpt-4o-mini"), r.headers)
        self.assertEqual(r.header("x-switchyard-attempts"), "7")
        self.assertEqual(mock.stats()["total"], 7)

        # All down: 502 listing each route tried, and why.
        mock.control("global", {"error_rate": 1, "error_status": 503})
        r = router.chat(chat_body("gpt-4.1"), headers=CANARY_USER)
        err = self.assertErrorEnvelope(r, 502)
        msg = err["message"]
        routes = ["holysheep/gpt-4.1", "openai-official/gpt-4.1", "holysheep/gpt-4o-mini",
                  "openai-official/gpt-4o-mini"]
        at = [msg.find(route + ": ") for route in routes]
        self.assertTrue(all(i >= 0 for i in at), f"each route and why: {msg!r}")
        self.assertEqual(at, sorted(at), f"in the order tried: {msg!r}")
        self.assertEqual(msg.count("503"), 4, f"each route's reason names the 503: {msg!r}")
        for secret in (CANARY_KEY, harness.PRIMARY_KEY):
            self.assertNotIn(secret, r.body.decode())


# ---------------------------------------------------------------------------------------------
# A 50 % error storm and the retry budget

class RetryBudget(IntegrationCase):
    REQUESTS = 400
    THREADS = 4
    RATE = 200.0  # requests/s in all, paced: a storm, not a benchmark of this box

    def test_error_storm_stays_within_the_budget(self):
        mock = self.start_mock(faults=("r1:error_rate=0.5,error_status=503",
                                       "r2:error_rate=0.5,error_status=503"))
        # gpt-4o-mini has no fallback and there is no canary: the plan is one route, so
        # every upstream attempt after a request's first is a retry the budget decides on.
        router = self.start_router(policy(mock.port, max_attempts=3, fallbacks=(),
                                          budget="{ratio: 0.2, min_per_second: 1}"))
        per_thread = self.REQUESTS // self.THREADS
        statuses, messages, lock = [], [], threading.Lock()
        stop_at = time.monotonic() + 40  # bounded, however slow the box

        def client(k):
            t_next = time.monotonic()
            for i in range(per_thread):
                if time.monotonic() > stop_at:
                    return
                t_next += self.THREADS / self.RATE
                pause = t_next - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                r = router.chat(chat_body("gpt-4o-mini"), timeout=20)
                with lock:
                    statuses.append(r.status)
                    if r.status != 200:
                        messages.append(r.body.decode(errors="replace"))

        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(self.THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - t0
        self.assertFalse(any(t.is_alive() for t in threads), "the storm did not end")
        n = len(statuses)
        self.assertEqual(n, self.REQUESTS, f"only {n} requests in {elapsed:.1f} s")
        attempts = mock.stats()["total"]
        retries = attempts - n
        # The bound. The budget is a sliding window of 10 one-second buckets per provider:
        # a retry is made only while retries <= ratio * requests + min_per_second * 10 in
        # the window. While the whole storm fits in one window (it spans at most 10
        # distinct seconds, i.e. it took less than 9 s; at 200 req/s it takes 2), every
        # retry was checked against a window holding every earlier retry, so in all
        # retries <= 0.2 * n + 1 * 10 = 90 for n = 400: attempts <= 1.225 n.
        # If this box is so slow that the storm spans k windows, each window's retries are
        # bounded by 0.2 * (its own requests + the previous window's) + 10, so in all
        # retries <= 0.4 * n + 10 k: still far below the 1.75 n that 50 % errors and 3
        # attempts give with no budget.
        windows = int(elapsed // 10) + 2 if elapsed >= 9 else 1
        bound = 0.2 * n + 10 if windows == 1 else 0.4 * n + 10 * windows
        self.assertLessEqual(retries, bound,
                             f"{attempts} upstream attempts for {n} requests in {elapsed:.1f} s")
        # Demand is about 0.75 n retries (0.5 + 0.25): far above the budget, which is used.
        self.assertGreater(retries, 0.1 * n, f"{attempts} attempts for {n} requests: the budget allows retries")
        self.assertGreater(metric(router, "switchyard_retry_budget_exhausted_total", provider="primary"), 0)
        # A request refused a retry fails with a message that says so.
        self.assertTrue(any("retry budget exhausted" in m for m in messages), messages[:3])
        # Every request was answered one way or another: 200 or the upstream's failure.
        self.assertTrue(set(statuses) <= {200, 502, 503}, set(statuses))


# ---------------------------------------------------------------------------------------------
# The status table: 400 passed through, 401 skips the provider

class StatusTable(IntegrationCase):
    def test_400_is_returned_at_once_not_retried_breaker_untouched(self):
        mock = self.start_mock()
        # failure_threshold 1: a 400 counted as a failure would open r1's breaker at once.
        router = self.start_router(policy(mock.port, failure_threshold=1,
                                          retry_on=["connect_error", "timeout", 429, 500, 502, 503, 504]))
        mock.control("r1", {"fail_next": 1, "error_status": 400})
        direct = mock.direct("r1", "/chat/completions", chat_body("gpt-4.1"))
        self.assertEqual(direct.status, 400, direct)
        mock.reset_stats()
        mock.control("r1", {"fail_next": 1, "error_status": 400})
        r = router.chat(chat_body("gpt-4.1"))
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.body, direct.body, "the upstream's own error body, as it came")
        self.assertEqual(r.header("x-switchyard-attempts"), "1")
        self.assertEqual(mock.stats()["total"], 1, "not retried, no other endpoint, no fallback")
        st = endpoint_status(router, "primary", "r1")
        self.assertEqual((st["breaker"], st["consecutive_failures"], st["breaker_opens"]),
                         ("closed", 0, 0), st)
        self.assertEqual(router.chat(chat_body("gpt-4.1")).header("x-switchyard-endpoint"), "r1")

    HS = ("holysheep", "holysheep", CANARY_KEY, ("cn-north", "cn-east"))

    def refused_log_lines(self, router, provider):
        return [l for l in router.stderr().splitlines() if f"provider {provider} refused its API key" in l]

    def test_401_from_stable_is_not_retried_and_logged_once(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port))  # stable only: r1, r2, fallback model
        # echo_auth: the upstream quotes the key it refused, as careless upstreams do.
        mock.control("r1", {"error_rate": 1, "error_status": 401, "echo_auth": True})
        for _ in range(3):
            r = router.chat(chat_body("gpt-4.1"))
            err = self.assertErrorEnvelope(r, 502)  # no route left: every route failed
            self.assertIn("primary/gpt-4.1: HTTP 401", err["message"])
            self.assertEqual(r.header("x-switchyard-attempts"), "1", r)
        st = mock.stats()
        # One request each to r1; never r2, never the fallback model on the same provider.
        self.assertEqual(st["total"], 3, st)
        self.assertEqual(mock.requests_to("r2"), 0, st)
        lines = self.refused_log_lines(router, "primary")
        self.assertEqual(len(lines), 1, "logged at most once a minute: " + router.stderr()[-3000:])
        self.assertNotIn(harness.PRIMARY_KEY, router.stderr())
        self.assertNotIn(harness.PRIMARY_KEY, r.body.decode())
        # A refused key is the provider's, not the endpoint's fault: no breaker failure.
        self.assertEqual(endpoint_status(router, "primary", "r1")["consecutive_failures"], 0)

    def test_401_moves_to_the_next_providers_route(self):
        mock = self.start_mock()
        # A canary request: holysheep/gpt-4.1, primary/gpt-4.1, holysheep/gpt-4o-mini,
        # primary/gpt-4o-mini. max_attempts 1: one try per route.
        router = self.start_router(policy(mock.port, canary=self.HS, percent=100, max_attempts=1))
        mock.control("cn-north", {"fail_next": 1, "error_status": 503})
        mock.control("r1", {"error_rate": 1, "error_status": 401})
        r = router.chat(chat_body("gpt-4.1"), headers=CANARY_USER)
        self.assertEqual(r.status, 200, r)
        # The stable provider refused its key: its gpt-4o-mini route is skipped too, and the
        # next provider's route (the canary's fallback model) answers.
        self.assertEqual((r.header("x-switchyard-provider"), r.header("x-switchyard-model"),
                          r.header("x-switchyard-endpoint")), ("holysheep", "gpt-4o-mini", "cn-north"),
                         r.headers)
        self.assertEqual(r.header("x-switchyard-attempts"), "3")
        self.assertEqual(mock.requests_to("r1"), 1, "no second request to the refusing provider")
        self.assertEqual(mock.requests_to("r2"), 0)
        for _ in range(2):  # again: still one log line
            mock.control("cn-north", {"fail_next": 1, "error_status": 503})
            self.assertEqual(router.chat(chat_body("gpt-4.1"), headers=CANARY_USER).status, 200)
        self.assertEqual(mock.requests_to("r1"), 3)
        self.assertEqual(len(self.refused_log_lines(router, "primary")), 1, router.stderr()[-3000:])


# ---------------------------------------------------------------------------------------------
# switchyard_retries_total

class RetriesCounted(IntegrationCase):
    def test_failed_attempt_then_success_on_next_endpoint_counts_one(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, max_attempts=3))
        before = metric(router, "switchyard_retries_total")
        mock.control("r1", {"fail_next": 1, "error_status": 503})
        r = router.chat(chat_body("gpt-4o-mini"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.header("x-switchyard-endpoint"), r.header("x-switchyard-attempts")), ("r2", "2"))
        self.assertEqual(metric(router, "switchyard_retries_total") - before, 1)
        self.assertEqual(metric(router, "switchyard_retries_total", provider="primary", endpoint="r1"), 1)

    def test_one_attempt_then_next_route_counts_none(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, max_attempts=1))
        before = metric(router, "switchyard_retries_total")
        mock.control("r1", {"fail_next": 1, "error_status": 503})
        r = router.chat(chat_body("gpt-4.1"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.header("x-switchyard-model"), r.header("x-switchyard-attempts")),
                         ("gpt-4o-mini", "2"), "the fallback route answered")
        self.assertEqual(metric(router, "switchyard_retries_total") - before, 0,
                         "moving to another route is not a retry")


# ---------------------------------------------------------------------------------------------
# Streams after the commit point

class StreamBounds(IntegrationCase):
    def test_upstream_cut_after_commit_gets_an_error_event(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port))
        mock.control("r1", {"truncate_after": 2})
        r, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True), timeout=20)
        self.assertEqual(r.status, 200, r)
        events = sse_events(r.body)
        errors = error_events(r.body)
        self.assertEqual(len(errors), 1, events)
        self.assertEqual(errors[0]["code"], "stream_interrupted", errors)
        self.assertNotIn({"data": "[DONE]"}, events)
        self.assertEqual(sum('"chat.completion.chunk"' in e.get("data", "") for e in events), 2)
        self.assertEqual(mock.stats()["total"], 1, "after the commit point nothing is retried")
        # A cut stream is a failure for the endpoint's breaker.
        self.assertEqual(endpoint_status(router, "primary", "r1")["consecutive_failures"], 1)

    def test_stream_idle_timeout_cuts_a_silent_stream(self):
        mock = self.start_mock(chunks=4, chunk_delay_ms=3000)  # the first chunk, then 3 s of silence
        router = self.start_router(policy(mock.port, server_extra={"stream_idle_timeout": "400ms"}))
        t0 = time.monotonic()
        r, lines = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True), timeout=20)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        errors = error_events(r.body)
        self.assertEqual(len(errors), 1, r.body)
        self.assertEqual(errors[0]["code"], "stream_idle_timeout", errors)
        events = sse_events(r.body)
        self.assertEqual(sum('"chat.completion.chunk"' in e.get("data", "") for e in events), 1,
                         "cut in the first silence")
        self.assertNotIn({"data": "[DONE]"}, events)
        self.assertLess(took, 2.9, "cut by stream_idle_timeout, before the next chunk came")

    def test_long_stream_with_regular_chunks_outlives_request_timeout(self):
        mock = self.start_mock(chunks=8, chunk_delay_ms=400)  # about 2.8 s of stream
        router = self.start_router(policy(mock.port, request_timeout="1s",
                                          server_extra={"stream_idle_timeout": "3s"}))
        t0 = time.monotonic()
        r, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True), timeout=20)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        events = sse_events(r.body)
        self.assertEqual(error_events(r.body), [], events)
        self.assertEqual(events[-1], {"data": "[DONE]"})
        self.assertEqual(sum('"chat.completion.chunk"' in e.get("data", "") for e in events), 8)
        self.assertGreater(took, 2.0, "the stream ran well past request_timeout (1 s)")


# ---------------------------------------------------------------------------------------------
# Active health checks

class HealthChecks(IntegrationCase):
    HC = "{path: /models, interval: 200ms, timeout: 150ms, unhealthy_after: 2, healthy_after: 2}"

    def start(self):
        mock = self.start_mock()
        router = self.start_router(policy(
            mock.port, stable=("relay", "holysheep", CANARY_KEY, ("cn-north", "cn-east")),
            provider_extra={"relay": {"health_check": self.HC}}))
        return mock, router

    def health(self, router, ep):
        return endpoint_status(router, "relay", ep)["health"]

    def test_a_failing_probe_takes_the_endpoint_out_before_any_request_fails(self):
        mock, router = self.start()
        harness.wait_for(lambda: self.health(router, "cn-north") == "healthy", 10,
                         what="the first probes")
        self.assertEqual(metric(router, "switchyard_endpoint_healthy", required=True,
                                provider="relay", endpoint="cn-north"), 1)
        # The probes carry the provider's key (GET {base_url}/models).
        self.assertEqual(mock.stats()["endpoints"]["cn-north"]["last_authorization"],
                         f"Bearer {CANARY_KEY}")
        mock.control("cn-north", {"error_rate": 1, "error_status": 503})
        harness.wait_for(lambda: self.health(router, "cn-north") == "unhealthy", 10,
                         what="cn-north marked down by its probes")
        self.assertEqual(metric(router, "switchyard_endpoint_healthy", provider="relay",
                                endpoint="cn-north"), 0)
        for _ in range(5):
            r = router.chat(chat_body("gpt-4o-mini"))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("x-switchyard-endpoint"), "cn-east")
            self.assertEqual(r.header("x-switchyard-attempts"), "1",
                             "no request failed on cn-north first")
        # Recovered: marked up after healthy_after good probes, and used again.
        mock.control("cn-north", {})
        harness.wait_for(lambda: self.health(router, "cn-north") == "healthy", 10,
                         what="cn-north marked up again")
        r = router.chat(chat_body("gpt-4o-mini"))
        self.assertEqual((r.status, r.header("x-switchyard-endpoint")), (200, "cn-north"), r)
        self.assertEqual(metric(router, "switchyard_endpoint_healthy", provider="relay",
                                endpoint="cn-north"), 1)
        self.assertIn("cn-north is down", router.logs())

    def test_readyz_is_503_when_no_stable_endpoint_is_usable(self):
        mock, router = self.start()
        self.assertEqual(router.get("/readyz").status, 200)
        for ep in ("cn-north", "cn-east"):
            mock.control(ep, {"error_rate": 1, "error_status": 503})
        harness.wait_for(lambda: router.get("/readyz").status == 503, 10,
                         what="/readyz to say not ready")
        self.assertIn("stable provider", router.get("/readyz").body.decode())
        for ep in ("cn-north", "cn-east"):
            mock.control(ep, {})
        harness.wait_for(lambda: router.get("/readyz").status == 200, 10,
                         what="/readyz ready again")


if __name__ == "__main__":
    harness.main()
