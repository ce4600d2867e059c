#!/usr/bin/env python3
"""Hardening of the executor and the upstream layer (issue 6, items 2, 5, 7 and 10):
huge non-streamed answers are bounded (server.max_response, server.max_response_memory),
a Retry-After beyond what the router may wait moves on at once and ends in a 429/503 with
Retry-After, streams cut by the end of a drain get an error event and a proper end,
CR-delimited SSE, a huge upstream header, non-UTF-8 model names, upstream_ms of aborted
requests, streamed attempts in the metrics, and the rate-limit headers passed through."""

import json
import os
import re
import signal
import socket
import struct
import threading
import time

import harness
from harness import IntegrationCase, chat_body, in_thread, policy_yaml, sse_events, stream_request


def with_retry_after(policy, max_wait):
    """policy_yaml's text with retry.retry_after.max set."""
    return policy.replace("retry:\n", f"retry:\n  retry_after: {{honor: true, max: {max_wait}}}\n", 1)


def access_records(path):
    with open(path) as fh:
        return [json.loads(l) for l in fh.read().splitlines() if l.strip()]


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/PID/status")


def attempts_metric(router, provider, endpoint, code):
    r = router.get("/metrics")
    assert r.status == 200, r
    total = 0.0
    for m in re.finditer(r"^switchyard_upstream_attempts_total\{([^}]*)\} (\S+)$", r.body.decode(), re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels == {"provider": provider, "endpoint": endpoint, "code": str(code)}:
            total += float(m.group(2))
    return total


# ---------------------------------------------------------------------------------------------
# Item 2: huge non-streamed answers

class HugeAnswers(IntegrationCase):
    def start(self, **server):
        mock = self.start_mock()
        router = self.start_router(policy_yaml(mock.port, server_extra=server))
        return mock, router

    def check_too_large(self, chunked):
        mock, router = self.start(max_response="1MiB")
        mock.control("r1", {"body_bytes": 5_000_000, "chunked": chunked})
        mock.control("r2", {"body_bytes": 5_000_000, "chunked": chunked})
        r = router.chat(chat_body("gpt-4.1"), timeout=30)  # gpt-4.1 has a fallback route too
        err = self.assertErrorEnvelope(r, 502)
        self.assertEqual(err["code"], "response_too_large", r)
        self.assertIn("server.max_response (1 MiB)", err["message"])
        st = mock.stats()
        self.assertEqual(st["total"], 1, f"a too-large answer must not be retried or re-routed: {st}")

    def test_too_large_answer_is_502_naming_the_limit_and_not_retried(self):
        self.check_too_large(chunked=False)  # Content-Length announces it: refused at once

    def test_too_large_chunked_answer_is_cut_off_and_not_retried(self):
        self.check_too_large(chunked=True)   # no length: cut off when it grows past the limit

    def test_answer_below_the_limit_passes(self):
        mock, router = self.start(max_response="1MiB")
        for chunked in (False, True):
            mock.control("r1", {"body_bytes": 500_000, "chunked": chunked})
            r = router.chat(timeout=30)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(len(r.body), 500_000, "the padded answer arrives whole")
            content = r.json()["choices"][0]["message"]["content"]
            self.assertEqual(content.rstrip("x"), "Hello from mock-upstream.")

    def test_memory_budget_full_answers_503_not_growing(self):
        # A budget smaller than one answer: the shared budget runs out before max_response.
        mock, router = self.start(max_response="4MiB", max_response_memory="1MiB")
        for chunked in (False, True):
            mock.reset_stats()
            mock.control("r1", {"body_bytes": 2_000_000, "chunked": chunked})
            r = router.chat(timeout=30)
            err = self.assertErrorEnvelope(r, 503)
            self.assertEqual(err["code"], "response_memory_full", r)
            self.assertIn("server.max_response_memory (1 MiB)", err["message"])
            self.assertEqual(r.header("retry-after"), "1")
            self.assertEqual(mock.stats()["total"], 1, "no retry when memory is what is missing")
        # The memory was given back: small answers still pass.
        mock.control("r1", {})
        for _ in range(3):
            self.assertEqual(router.chat().status, 200)

    def test_memory_stays_bounded_with_concurrent_huge_answers(self):
        if harness.sanitized_build():
            self.skipTest("ASan's allocator keeps freed memory: RSS says nothing there")
        mock, router = self.start(max_response="1MiB")
        mock.control("r1", {"body_bytes": 40_000_000, "chunked": True})
        router.chat(chat_body("gpt-4o-mini"))  # warm up: threads, connections, allocator
        before = peak_rss_kib(router.pid)
        handles = [in_thread(router.chat, chat_body("gpt-4o-mini"), timeout=60) for _ in range(8)]
        for h in handles:
            r = h.join(90)
            self.assertEqual(r.status, 502, r)
        grown = peak_rss_kib(router.pid) - before
        # 8 answers of 40 MB, each cut off at 1 MiB: a router buffering them would peak at
        # hundreds of MB.
        self.assertLess(grown, 48 * 1024, f"peak RSS grew by {grown} KiB")


# ---------------------------------------------------------------------------------------------
# Item 5: Retry-After beyond what the router may wait

class RetryAfterBeyondTheCap(IntegrationCase):
    def test_next_endpoint_answers_at_once(self):
        mock = self.start_mock()
        router = self.start_router(with_retry_after(policy_yaml(mock.port), "5s"))
        mock.control("r1", {"fail_next": 1, "error_status": 429, "retry_after": "100"})
        t0 = time.monotonic()
        r = router.chat(chat_body("gpt-4.1"), timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertLess(took, 2.0, "a Retry-After beyond retry_after.max must not be waited")
        self.assertEqual(r.header("x-switchyard-model"), "gpt-4.1", "the same route...")
        self.assertEqual(r.header("x-switchyard-endpoint"), "r2", "...on its next endpoint")
        self.assertEqual(r.header("x-switchyard-attempts"), "2")

    def test_next_route_answers_at_once(self):
        # Both endpoints rate-limit gpt-4.1 for 100 s: the fallback model's route
        # answers at once. Cooldowns are per model (providers rate-limit per model),
        # so gpt-4o-mini on the same r1 is not held back.
        mock = self.start_mock()
        router = self.start_router(with_retry_after(policy_yaml(mock.port), "5s"))
        for ep in ("r1", "r2"):
            mock.control(ep, {"fail_next": 1, "error_status": 429, "retry_after": "100"})
        t0 = time.monotonic()
        r = router.chat(chat_body("gpt-4.1"), timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertLess(took, 2.0, "a Retry-After beyond retry_after.max must not be waited")
        self.assertEqual(r.header("x-switchyard-model"), "gpt-4o-mini", "the next route answered")
        self.assertEqual(r.header("x-switchyard-attempts"), "3")
        # A second request for gpt-4.1 finds both endpoints cooling for it: straight
        # to the fallback, no upstream request for gpt-4.1 at all.
        before = mock.stats()["total"]
        r = router.chat(chat_body("gpt-4.1"), timeout=30)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("x-switchyard-model"), "gpt-4o-mini")
        self.assertEqual(mock.stats()["total"], before + 1)

    def test_every_route_cooling_answers_429_with_retry_after(self):
        mock = self.start_mock()
        router = self.start_router(with_retry_after(policy_yaml(mock.port), "5s"))
        for ep in ("r1", "r2"):
            mock.control(ep, {"error_rate": 1, "error_status": 429, "retry_after": "100"})
        t0 = time.monotonic()
        r = router.chat(chat_body("gpt-4.1"), timeout=30)
        took = time.monotonic() - t0
        err = self.assertErrorEnvelope(r, 429)
        self.assertLess(took, 2.0, r)
        self.assertIn(r.header("retry-after"), ("99", "100"), r.headers)
        self.assertNotIn("request_timeout", err["message"])
        # r1, r2 for gpt-4.1, then r1, r2 for the fallback gpt-4o-mini (cooldowns
        # are per model): one try per endpoint and model, no waiting.
        self.assertEqual(mock.stats()["total"], 4)

    def test_retry_after_beyond_the_deadline_is_not_a_504(self):
        mock = self.start_mock()
        # retry_after.max (60s) allows it, but request_timeout (3s) could not wait 10 s.
        router = self.start_router(policy_yaml(mock.port, request_timeout="3s"))
        for ep in ("r1", "r2"):
            mock.control(ep, {"error_rate": 1, "error_status": 503, "retry_after": "10"})
        t0 = time.monotonic()
        r = router.chat(chat_body("gpt-4o-mini"), timeout=30)
        self.assertErrorEnvelope(r, 503)
        self.assertLess(time.monotonic() - t0, 2.0, r)
        self.assertIn(r.header("retry-after"), ("9", "10"), r.headers)

    def test_retry_after_of_the_soonest_route(self):
        mock = self.start_mock()
        # Canary (relay/hs1) first, then the stable route (primary r1, r2).
        router = self.start_router(with_retry_after(
            policy_yaml(mock.port, percent=100, canary_endpoints=("hs1",)), "5s"))
        mock.control("hs1", {"error_rate": 1, "error_status": 429, "retry_after": "100"})
        for ep in ("r1", "r2"):
            mock.control(ep, {"error_rate": 1, "error_status": 429, "retry_after": "30"})
        r = router.chat(chat_body("gpt-4o-mini"), headers={"x-user-id": "u1"}, timeout=30)
        self.assertErrorEnvelope(r, 429)
        self.assertIn(r.header("retry-after"), ("29", "30"), r.headers)

    def test_short_retry_after_is_still_waited(self):
        # One endpoint: nowhere else to go on this route, so the 1 s is waited
        # (with two, the next endpoint would be tried at once instead).
        mock = self.start_mock()
        router = self.start_router(with_retry_after(policy_yaml(mock.port, endpoints=("r1",)), "5s"))
        mock.control("r1", {"fail_next": 1, "error_status": 429, "retry_after": "1"})
        t0 = time.monotonic()
        r = router.chat(chat_body("gpt-4.1"), timeout=30)
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9, "a Retry-After within the cap is honoured")
        self.assertEqual(r.header("x-switchyard-model"), "gpt-4.1", "the same route, after the wait")


# ---------------------------------------------------------------------------------------------
# Item 7: streams at the end of the drain

def read_head(f):
    status = int(f.readline().split()[1])
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            return status, headers
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()


def read_chunk(f):
    """One chunk's data; b"" for the last chunk. Raises when the connection ends first."""
    size_line = f.readline()
    if not size_line:
        raise AssertionError("the connection closed without the last chunk")
    size = int(size_line.split(b";")[0].strip(), 16)
    if size == 0:
        f.readline()
        return b""
    data = f.read(size)
    if len(data) != size or f.readline() != b"\r\n":
        raise AssertionError("the connection closed inside a chunk")
    return data


class ShutdownCutsStreams(IntegrationCase):
    def start(self, **mock_kw):
        self.log = self.path("access.log")
        mock = self.start_mock(**mock_kw)
        router = self.start_router(policy_yaml(mock.port, access_log=self.log,
                                               server_extra={"shutdown_grace": "1s"}))
        return mock, router

    def test_stream_gets_error_event_and_proper_end(self):
        mock, router = self.start(chunks=60, chunk_delay_ms=500)  # a 30 s stream
        sock, f = self.connect(router.port, timeout=15)
        body = chat_body("gpt-4o-mini", stream=True)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status, headers = read_head(f)
        self.assertEqual(status, 200)
        self.assertIn("chunked", headers.get("transfer-encoding", ""))
        rid = headers["x-request-id"]
        data = [read_chunk(f)]  # the stream is under way
        router.signal(signal.SIGTERM)
        while data[-1]:
            data.append(read_chunk(f))  # raises if the last chunk never comes
        events = sse_events(b"".join(data))
        errors = [json.loads(e["data"]) for e in events if "error" in e.get("data", "")]
        self.assertEqual(len(errors), 1, events)
        self.assertEqual(errors[0]["error"]["code"], "server_shutdown")
        self.assertNotIn({"data": "[DONE]"}, events)
        self.assertEqual(router.wait(10), 0, router.logs())
        rec = {r["request_id"]: r for r in access_records(self.log)}[rid]
        self.assertEqual(rec["status"], 503, rec)
        self.assertTrue(rec["stream_cut"], rec)
        self.assertFalse(rec["client_aborted"], rec)
        self.assertIn("shutdown", rec["error"], rec)
        self.assertGreater(rec["upstream_ms"], 500, rec)

    def test_request_still_waiting_gets_503(self):
        mock, router = self.start()
        mock.control("r1", {"latency_ms": 30000})
        h = in_thread(router.chat, chat_body("gpt-4o-mini"), timeout=15)
        harness.wait_for(lambda: mock.requests_to("r1") == 1, 5, what="the request upstream")
        router.signal(signal.SIGTERM)
        r = h.join(15)
        err = self.assertErrorEnvelope(r, 503)
        self.assertEqual(err["code"], "server_shutdown")
        self.assertEqual(router.wait(10), 0, router.logs())
        rec = [x for x in access_records(self.log) if x["request_id"] == r.header("x-request-id")][0]
        self.assertEqual(rec["status"], 503, rec)
        self.assertFalse(rec["client_aborted"], rec)


# ---------------------------------------------------------------------------------------------
# Item 10: the smaller ones

class SmallerOnes(IntegrationCase):
    def test_cr_delimited_sse_ends_cleanly(self):
        mock, router = self.start_pair()
        mock.control("r1", {"sse_cr": True})
        r, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body.endswith(b"data: [DONE]\r\r"), r.body[-200:])
        self.assertNotIn(b"error", r.body, "[DONE] was seen: no error event")

    def test_huge_upstream_header_is_named(self):
        mock, router = self.start_pair(endpoints=("r1",), max_attempts=1, canary=False)
        for size in (200_000, 80_000):  # over curl's own line limit, and over the router's
            mock.control("r1", {"header_bytes": size})
            r = router.chat(chat_body("gpt-4o-mini"))
            err = self.assertErrorEnvelope(r, 502)
            self.assertIn("upstream header too large", err["message"])
            self.assertNotIn("memory", err["message"].lower())

    def test_non_utf8_model_is_refused(self):
        mock, router = self.start_pair()
        r = router.chat(b'{"model":"gpt-\xff\xfe","messages":[]}')
        err = self.assertErrorEnvelope(r, 400)
        self.assertEqual(err["code"], "invalid_model")
        self.assertIn("UTF-8", err["message"])
        self.assertEqual(mock.stats()["total"], 0)

    def test_non_ascii_model_is_percent_encoded_in_headers(self):
        mock, router = self.start_pair()
        r = router.chat(chat_body("modèle 100%"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(mock.endpoint_stats("r1")["last_model"], "modèle 100%")
        self.assertEqual(r.header("x-switchyard-model"), "mod%C3%A8le%20100%25")

    def test_upstream_ms_of_an_aborted_request(self):
        log = self.path("access.log")
        mock, router = self.start_pair(access_log=log)
        mock.control("r1", {"latency_ms": 3000})
        sock = harness.raw_connect(router.port)  # no makefile: close() must really close
        self.sockets.append(sock)
        body = chat_body("gpt-4o-mini")
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-request-id: abort-1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        harness.wait_for(lambda: mock.requests_to("r1") == 1, 5, what="the request upstream")
        time.sleep(0.5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset: the client is gone
        router.signal(signal.SIGTERM)
        self.assertEqual(router.wait(10), 0, router.logs())
        rec = [x for x in access_records(log) if x["request_id"] == "abort-1"][0]
        self.assertEqual(rec["status"], 499, rec)
        self.assertGreater(rec["upstream_ms"], 400, rec)

    def test_streamed_attempts_are_counted(self):
        mock, router = self.start_pair()
        before = attempts_metric(router, "primary", "r1", 200)
        for _ in range(2):
            r, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True))
            self.assertEqual(r.status, 200, r)
        self.assertEqual(attempts_metric(router, "primary", "r1", 200) - before, 2)

    RATE_HEADERS = {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-remaining-tokens": "29000",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-reset-tokens": "6m0s",
    }

    def test_rate_limit_headers_are_passed_through(self):
        mock, router = self.start_pair()
        mock.control("r1", {"headers": dict(self.RATE_HEADERS, **{"x-other": "kept-upstream"})})
        r = router.chat()
        self.assertEqual(r.status, 200, r)
        r2, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True))
        self.assertEqual(r2.status, 200, r2)
        for resp in (r, r2):
            for k, v in self.RATE_HEADERS.items():
                self.assertEqual(resp.header(k), v, resp.headers)
            self.assertIsNone(resp.header("x-other"), "only the documented list is passed")
        # An error answer passed through carries them too.
        mock.control("r1", {"headers": self.RATE_HEADERS, "fail_next": 1, "error_status": 400})
        r3 = router.chat()
        self.assertEqual(r3.status, 400, r3)
        self.assertEqual(r3.header("x-ratelimit-remaining-requests"), "499")

    def test_odd_rate_limit_values_are_dropped(self):
        mock, router = self.start_pair()
        mock.control("r1", {"headers": {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-limit-tokens": "9" * 65,             # too long
            "x-ratelimit-reset-tokens": "6m\u00ff",            # not ASCII
            "x-ratelimit-reset-requests": "1s\u0001",          # a control byte
        }})
        r = router.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("x-ratelimit-limit-requests"), "500")
        for k in ("x-ratelimit-limit-tokens", "x-ratelimit-reset-tokens", "x-ratelimit-reset-requests"):
            self.assertIsNone(r.header(k), r.headers)


class ResolverSockets(IntegrationCase):
    """curl's threaded resolver hands the router a socketpair to watch and closes it
    itself. An event left registered on such a descriptor made the next client
    connection that got its number invisible to the event loop (it hung until
    header_timeout)."""

    def test_client_connections_after_name_lookups_are_served(self):
        policy = "\n".join([
            "version: 1", "server:", "  listen: 127.0.0.1:1", "  access_log: \"off\"",
            "providers:", "  primary:", "    plugin: openai",
            f"    api_key: {harness.secret_ref(harness.PRIMARY_KEY)}", "    endpoints:",
            "      - {name: nowhere, base_url: \"http://no-such-host.invalid/v1\"}",
            "retry:", "  max_attempts: 2", "  backoff: {base: 5ms, max: 20ms, jitter: none}",
            "migration:", "  stable: primary"]) + "\n"
        router = self.start_router(policy)
        for _ in range(3):  # each attempt runs a name lookup
            self.assertErrorEnvelope(router.chat(), 502)
        socks = []
        for _ in range(20):  # new connections take the lowest free descriptors
            sock = harness.raw_connect(router.port, timeout=3)
            self.sockets.append(sock)
            socks.append(sock)
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        unanswered = 0
        for sock in socks:
            try:
                if not sock.recv(64).startswith(b"HTTP/1.1 200"):
                    unanswered += 1
            except socket.timeout:
                unanswered += 1
        self.assertEqual(unanswered, 0, "connections the event loop never saw")


if __name__ == "__main__":
    harness.main()
