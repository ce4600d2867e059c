#!/usr/bin/env python3
"""The HTTP surface the router answers itself: client keys, admin key, limits and errors,
health, /v1/models, /metrics and the access log."""

import http.client
import json
import re
import signal
import time

import harness
from harness import (ADMIN_KEY, PRIMARY_KEY, RELAY_KEY, IntegrationCase, chat_body, peer_closed,
                     read_raw_response, stream_request)


class ClientKeys(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock, self.router = self.start_pair(client_keys="k1,k2")

    def test_missing_and_wrong_key_get_401_and_upstream_sees_nothing(self):
        before = self.mock.stats()["total"]
        cases = [
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Bearer k1x"},
            {"Authorization": "Bearer k"},
            {"Authorization": "Bearer "},
            {"Authorization": "Basic azE6"},
            {"Authorization": "k1"},
            {"Authorization": "Bearer k1,k2"},
        ]
        for h in cases:
            r = self.router.chat(headers=h)
            self.assertErrorEnvelope(r, 401)
            self.assertNotIn(b"k2", r.body)
        r, _ = stream_request(self.router.port, "/v1/chat/completions",
                              chat_body(stream=True), headers={"Authorization": "Bearer nope"})
        self.assertErrorEnvelope(r, 401)
        r = self.router.get("/v1/models", headers={"Authorization": "Bearer nope"})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(self.mock.stats()["total"], before, "the upstream must not be called")

    def test_right_keys_pass(self):
        for k in ("k1", "k2"):
            r = self.router.chat(headers={"Authorization": f"Bearer {k}"})
            self.assertEqual(r.status, 200, r)
        ep = self.mock.endpoint_stats("r1")
        self.assertEqual(ep["last_authorization"], f"Bearer {PRIMARY_KEY}")

    def test_health_needs_no_key(self):
        self.assertEqual(self.router.get("/healthz").status, 200)
        self.assertEqual(self.router.get("/readyz").status, 200)


class Admin(IntegrationCase):
    def test_admin_status(self):
        mock, router = self.start_pair(percent=25)
        for h in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {ADMIN_KEY}x"}):
            r = router.get("/admin/status", headers=h)
            self.assertErrorEnvelope(r, 401)
        router.chat()
        r = router.get("/admin/status", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        self.assertEqual(r.status, 200, r)
        self.assertIn("application/json", r.header("content-type", ""))
        doc = r.json()
        text = json.dumps(doc)
        for secret in (ADMIN_KEY, PRIMARY_KEY, RELAY_KEY):
            self.assertNotIn(secret, text)
        # spec.md: policy version, rollout percent and state, breaker and health per endpoint
        self.assertEqual(doc["policy"]["version"], 1, text)
        self.assertEqual(doc["rollout"]["percent"], 25, text)
        self.assertIsInstance(doc["rollout"]["state"], str)
        self.assertTrue(doc["rollout"]["state"])
        eps = {(e["provider"], e["endpoint"]): e for e in doc["endpoints"]}
        self.assertEqual(set(eps), {("primary", "r1"), ("primary", "r2"), ("relay", "hs1")}, text)
        for e in eps.values():
            self.assertIn("breaker", e)
            self.assertIn("health", e)

    def test_admin_refused_without_admin_key_in_policy(self):
        mock, router = self.start_pair(admin_key=None)
        for h in ({}, {"Authorization": "Bearer anything"}):
            r = router.get("/admin/status", headers=h)
            self.assertIn(r.status, (401, 403, 404), r)


class Limits(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock, self.router = self.start_pair(max_body="1KiB")

    def test_body_too_large(self):
        big = chat_body(content="x" * 2000)
        r = self.router.chat(big)
        self.assertErrorEnvelope(r, 413)
        self.assertEqual(self.mock.stats()["total"], 0)
        # just under the limit is fine
        ok = chat_body(content="x" * 800)
        self.assertLess(len(ok), 1024)
        self.assertEqual(self.router.chat(ok).status, 200)

    def test_bad_requests(self):
        r = self.router.chat(b'{"model": "gpt-4o-mini", "messages": [')
        self.assertErrorEnvelope(r, 400)
        r = self.router.chat(b'not json at all')
        self.assertErrorEnvelope(r, 400)
        r = self.router.chat(b'["model"]')
        self.assertErrorEnvelope(r, 400)
        r = self.router.chat(json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode())
        self.assertErrorEnvelope(r, 400)
        r = self.router.chat(json.dumps({"model": 42, "messages": []}).encode())
        self.assertErrorEnvelope(r, 400)
        r = self.router.chat(b"")
        self.assertErrorEnvelope(r, 400)
        self.assertEqual(self.mock.stats()["total"], 0, "refused requests never reach the upstream")

    def test_unknown_path_and_wrong_method(self):
        r = self.router.get("/v1/nope")
        self.assertErrorEnvelope(r, 404)
        r = self.router.post("/nope", chat_body())
        self.assertErrorEnvelope(r, 404)
        r = self.router.get("/v1/chat/completions")
        self.assertErrorEnvelope(r, 405)
        self.assertIn("POST", r.header("allow", "POST"))
        r = harness.request(self.router.port, "DELETE", "/v1/embeddings")
        self.assertErrorEnvelope(r, 405)

    def test_health(self):
        self.assertEqual(self.router.get("/healthz").status, 200)
        self.assertEqual(self.router.get("/readyz").status, 200)

    def test_models(self):
        r = self.router.get("/v1/models")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc.get("object"), "list")
        ids = {m["id"] for m in doc["data"]}
        self.assertTrue({"gpt-4.1", "gpt-4o-mini"} <= ids, ids)
        for m in doc["data"]:
            self.assertEqual(m.get("object"), "model")


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
PROM_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prom(text):
    """[(name, {label: value}, float)] for every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = PROM_LINE.match(line)
        if not m:
            raise AssertionError(f"not a Prometheus sample line: {line!r}")
        labels = dict(PROM_LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


class Metrics(IntegrationCase):
    def test_requests_and_duration(self):
        mock, router = self.start_pair()
        for _ in range(3):
            self.assertEqual(router.chat().status, 200)
        stream_request(router.port, "/v1/chat/completions", chat_body(stream=True))
        mock.control("r1", {"fail_next": 1, "error_status": 400})
        self.assertEqual(router.chat().status, 400)

        want_ok = {"arm": "stable", "provider": "primary", "endpoint": "r1",
                   "model": "gpt-4o-mini", "code": "200"}

        def scrape_ok():
            r = router.get("/metrics")
            self.assertEqual(r.status, 200, r)
            samples = parse_prom(r.body.decode())
            tot = [v for n, lb, v in samples if n == "switchyard_requests_total"
                   and all(lb.get(k) == x for k, x in want_ok.items())]
            return (r, samples) if tot and tot[0] == 4 else None
        r, samples = harness.wait_for(scrape_ok, 3.0, what="switchyard_requests_total == 4")
        self.assertIn("text/plain", r.header("content-type", ""))
        text = r.body.decode()
        self.assertIn("# TYPE switchyard_requests_total counter", text)
        self.assertIn("# TYPE switchyard_request_duration_seconds histogram", text)
        bad = [v for n, lb, v in samples if n == "switchyard_requests_total" and lb.get("code") == "400"]
        self.assertEqual(bad, [1.0], text)
        counts = [(lb, v) for n, lb, v in samples if n == "switchyard_request_duration_seconds_count"
                  and lb.get("arm") == "stable" and lb.get("provider") == "primary"
                  and lb.get("endpoint") == "r1"]
        self.assertTrue(counts, text)
        self.assertEqual(sum(v for _, v in counts), 5.0, text)
        inf = [v for n, lb, v in samples if n == "switchyard_request_duration_seconds_bucket"
               and lb.get("le") == "+Inf" and lb.get("endpoint") == "r1"]
        self.assertEqual(sum(inf), 5.0)
        for secret in (PRIMARY_KEY, RELAY_KEY, ADMIN_KEY):
            self.assertNotIn(secret, text)


class AccessLog(IntegrationCase):
    def test_one_json_line_per_request(self):
        log = self.path("access.log")
        mock, router = self.start_pair(access_log=log, client_keys="client-secret-1")
        auth = {"Authorization": "Bearer client-secret-1"}
        marker = "PROMPT-MARKER-8d2f"
        ids = []
        for i in range(3):
            r = router.chat(chat_body(content=f"{marker} {i}"), headers=auth)
            self.assertEqual(r.status, 200)
            ids.append(r.header("x-request-id"))
        r, _ = stream_request(router.port, "/v1/chat/completions",
                              chat_body(content=marker, stream=True), headers=auth)
        ids.append(r.header("x-request-id"))
        r = router.chat(chat_body(content=marker), headers={"Authorization": "Bearer wrong"})
        self.assertEqual(r.status, 401)
        # Stop the router so any buffer is flushed, then read the file.
        router.signal(signal.SIGTERM)
        self.assertEqual(router.wait(10), 0, router.logs())
        with open(log) as fh:
            text = fh.read()
        lines = [l for l in text.splitlines() if l.strip()]
        recs = [json.loads(l) for l in lines]
        by_id = {rec.get("request_id"): rec for rec in recs}
        for rid in ids:
            self.assertIn(rid, by_id, text)
            rec = by_id[rid]
            self.assertEqual(rec.get("status"), 200, rec)
            self.assertEqual(rec.get("provider"), "primary", rec)
            self.assertEqual(rec.get("endpoint"), "r1", rec)
        self.assertEqual(len(recs), 5, "one line per request, the refused one included")
        for secret in (marker, "client-secret-1", PRIMARY_KEY, RELAY_KEY, ADMIN_KEY):
            self.assertNotIn(secret, text)
        self.assertEqual(router.stdout().count("request_id"), 0,
                         "the access log goes to the file, not stdout")


class Timeouts(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock, self.router = self.start_pair(
            endpoints=("r1",), request_timeout="600ms",
            server_extra={"idle_timeout": "400ms", "header_timeout": "400ms",
                          "shutdown_grace": "700ms"})

    def test_deadline_gives_504(self):
        self.mock.control("r1", {"hang": True})
        t0 = time.monotonic()
        r = self.router.chat()
        took = time.monotonic() - t0
        self.assertErrorEnvelope(r, 504)
        self.assertGreater(took, 0.5)
        self.assertLess(took, 2.0, "request_timeout is the whole request's deadline")
        self.mock.control("r1", {})
        self.assertEqual(self.router.chat().status, 200)

    def test_slow_client_headers_are_cut(self):
        s, f = self.connect(self.router.port)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n")
        t0 = time.monotonic()
        self.assertTrue(peer_closed(s, timeout=3.0), "a client that never finishes its headers")
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_slow_client_body_is_cut(self):
        s, f = self.connect(self.router.port)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nContent-Length: 100\r\n\r\n{")
        t0 = time.monotonic()
        self.assertTrue(peer_closed(s, timeout=3.0), "a client that never finishes its body")
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertEqual(self.mock.stats()["total"], 0)

    def test_idle_keep_alive_is_closed(self):
        s, f = self.connect(self.router.port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n")
        self.assertEqual(read_raw_response(f, "GET").status, 200)
        t0 = time.monotonic()
        self.assertTrue(peer_closed(s, timeout=3.0))
        self.assertGreater(time.monotonic() - t0, 0.3)
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_shutdown_grace_ends_hung_requests(self):
        self.mock.control("r1", {"hang": True})
        h = harness.in_thread(self.router.chat, timeout=5)
        time.sleep(0.1)
        t0 = time.monotonic()
        self.router.signal(signal.SIGTERM)
        code = self.router.wait(4)
        self.assertEqual(code, 0, "exit 0 once the grace period is over")
        self.assertLess(time.monotonic() - t0, 2.0)
        try:
            r = h.join(5)
        except (ConnectionError, http.client.HTTPException):
            return  # cut off after the grace: acceptable
        self.assertGreaterEqual(r.status, 500, r)


if __name__ == "__main__":
    harness.main()
