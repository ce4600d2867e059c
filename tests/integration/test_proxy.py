#!/usr/bin/env python3
"""Proxying through the `openai` and `holysheep` plugins over real HTTP: answers byte for
byte, the x-switchyard-* headers, the upstream's Authorization, streaming chunk by chunk,
cut streams and an upstream killed mid-stream."""

import io
import json
import signal
import socket
import time

import harness
from harness import (PRIMARY_KEY, RELAY_KEY, IntegrationCase, chat_body, sse_events,
                     stream_request)

CLIENT_KEY = "client-key-3c9d"


class NonStream(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock, self.router = self.start_pair(client_keys=CLIENT_KEY)
        self.auth = {"Authorization": f"Bearer {CLIENT_KEY}"}

    def check_passthrough(self, path, body, model):
        direct = self.mock.direct("r1", path, body)
        self.assertEqual(direct.status, 200, direct)
        self.mock.reset_stats()
        r = self.router.post(f"/v1{path}", body, headers=self.auth)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, direct.body, "router must pass the upstream body through unchanged")
        self.assertIn("application/json", r.header("content-type", ""))
        self.assertTrue(r.header("x-request-id"), r.headers)
        self.assertEqual(r.header("x-switchyard-arm"), "stable")
        self.assertEqual(r.header("x-switchyard-provider"), "primary")
        self.assertEqual(r.header("x-switchyard-endpoint"), "r1")
        self.assertEqual(r.header("x-switchyard-model"), model)
        self.assertEqual(r.header("x-switchyard-attempts"), "1")
        st = self.mock.stats()
        ep = st["endpoints"]["r1"]
        self.assertEqual(ep["requests"], 1, st)
        self.assertEqual(ep["last_authorization"], f"Bearer {PRIMARY_KEY}")
        self.assertEqual(ep["last_model"], model)
        self.assertTrue(ep["last_path"].endswith(f"/r1/v1{path}"), ep)
        self.assertNotIn(CLIENT_KEY, json.dumps(st), "the client's key must never reach an upstream")
        return r

    def test_chat_completions(self):
        r = self.check_passthrough("/chat/completions", chat_body("gpt-4o-mini"), "gpt-4o-mini")
        doc = r.json()
        self.assertEqual(doc["choices"][0]["message"]["content"], "Hello from mock-upstream.")

    def test_completions(self):
        body = json.dumps({"model": "gpt-4o-mini", "prompt": "Say hi"}).encode()
        self.check_passthrough("/completions", body, "gpt-4o-mini")

    def test_embeddings(self):
        body = json.dumps({"model": "text-embedding-3-small", "input": "hello"}).encode()
        self.check_passthrough("/embeddings", body, "text-embedding-3-small")

    def test_request_ids_differ(self):
        ids = {self.router.chat(headers=self.auth).header("x-request-id") for _ in range(5)}
        self.assertEqual(len(ids), 5, ids)

    def test_client_cannot_choose_upstream(self):
        # Headers that some proxies honour must not redirect the request.
        self.mock.reset_stats()
        r = self.router.chat(headers=dict(self.auth, **{
            "Host": "evil.example:1", "X-Forwarded-Host": "evil.example",
            "X-Switchyard-Endpoint": "r2", "X-Switchyard-Provider": "relay"}))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("x-switchyard-endpoint"), "r1")
        self.assertEqual(self.mock.requests_to("r1"), 1)
        self.assertEqual(self.mock.requests_to("r2"), 0)


class HolySheepPlugin(IntegrationCase):
    def test_canary_at_100_percent_goes_through_holysheep(self):
        mock, router = self.start_pair(percent=100, canary_endpoints=("hs1",))
        body = chat_body("gpt-4o-mini")
        direct = mock.direct("hs1", "/chat/completions", body)
        mock.reset_stats()
        r = router.chat(body, headers={"x-user-id": "user-7"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, direct.body)
        self.assertEqual(r.header("x-switchyard-arm"), "canary")
        self.assertEqual(r.header("x-switchyard-provider"), "relay")
        self.assertEqual(r.header("x-switchyard-endpoint"), "hs1")
        ep = mock.endpoint_stats("hs1")
        self.assertEqual(ep.get("requests"), 1)
        self.assertEqual(ep.get("last_authorization"), f"Bearer {RELAY_KEY}")


class Stream(IntegrationCase):
    def test_stream_equals_direct_and_arrives_incrementally(self):
        mock, router = self.start_pair(mock_kw={"chunks": 5, "chunk_delay_ms": 100})
        body = chat_body("gpt-4o-mini", stream=True)
        direct, _ = stream_request(mock.port, "/r1/v1/chat/completions", body,
                                   headers={"Authorization": f"Bearer {PRIMARY_KEY}"})
        self.assertEqual(direct.status, 200)
        t0 = time.monotonic()
        r, lines = stream_request(router.port, "/v1/chat/completions", body)
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/event-stream", r.header("content-type", ""))
        self.assertEqual(r.body, direct.body, "the SSE stream must pass through unchanged")
        self.assertEqual(r.header("x-switchyard-endpoint"), "r1")
        self.assertEqual(r.header("x-switchyard-attempts"), "1")
        data = [(t, l) for t, l in lines if l.startswith(b"data:")]
        self.assertEqual(len(data), 6, data)  # 5 chunks + [DONE]
        self.assertEqual(data[-1][1].strip(), b"data: [DONE]")
        first, last = data[0][0], data[-2][0]
        arrivals = [round(t - t0, 3) for t, _ in data]
        # 4 gaps of 100 ms between the first and the fifth chunk: a router that buffers the
        # answer (or holds the first chunk back) delivers them all at once.
        self.assertGreater(last - first, 0.3, f"chunks were not streamed: arrivals {arrivals}")
        # and the chunks show up about when the mock sends them, not in bursts
        gaps = sorted(data[i + 1][0] - data[i][0] for i in range(4))
        self.assertGreater(gaps[1], 0.05, f"arrivals {arrivals}")

    def test_stream_completions(self):
        mock, router = self.start_pair()
        body = json.dumps({"model": "gpt-4o-mini", "prompt": "hi", "stream": True}).encode()
        direct, _ = stream_request(mock.port, "/r1/v1/completions", body)
        r, _ = stream_request(router.port, "/v1/completions", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, direct.body)

    def test_cut_stream_ends_with_error_event_and_no_done(self):
        mock, router = self.start_pair(mock_kw={"chunks": 5})
        body = chat_body("gpt-4o-mini", stream=True)
        full, _ = stream_request(mock.port, "/r1/v1/chat/completions", body)
        full_events = sse_events(full.body)
        mock.control("r1", {"truncate_after": 2})
        r, _ = stream_request(router.port, "/v1/chat/completions", body)
        self.assertEqual(r.status, 200, r)  # the status line went out with the first chunk
        self.check_cut(r, full_events, 2)
        # the router is fine afterwards
        mock.control("r1", {})
        r2 = router.chat()
        self.assertEqual(r2.status, 200, r2)

    def check_cut(self, r, full_events, n_ok):
        events = sse_events(r.body)
        self.assertNotIn(b"[DONE]", r.body, "a cut stream must not end with [DONE]")
        self.assertGreaterEqual(len(events), n_ok + 1, r.body)
        self.assertEqual(events[:n_ok], full_events[:n_ok], "the chunks before the cut pass through")
        last = events[-1]
        self.assertIn("data", last, last)
        doc = json.loads(last["data"])
        self.assertIn("error", doc, doc)
        for k in ("message", "type", "code"):
            self.assertIn(k, doc["error"], doc)
        self.assertTrue(doc["error"]["message"])
        if "event" in last:
            self.assertEqual(last["event"], "error")

    def test_upstream_killed_mid_stream(self):
        mock, router = self.start_pair(mock_kw={"chunks": 10, "chunk_delay_ms": 150})
        body = chat_body("gpt-4o-mini", stream=True)
        seen = []

        def on_line(line):
            if line.startswith(b"data:"):
                seen.append(line)
                if len(seen) == 2:
                    mock.p.send_signal(signal.SIGKILL)

        t0 = time.monotonic()
        r, _ = stream_request(router.port, "/v1/chat/completions", body, on_line=on_line)
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertEqual(r.status, 200, r)
        events = sse_events(r.body)
        self.assertNotIn(b"[DONE]", r.body)
        self.assertGreaterEqual(len(events), 3, r.body)
        doc = json.loads(events[-1]["data"])
        self.assertIn("error", doc)
        for k in ("message", "type", "code"):
            self.assertIn(k, doc["error"], doc)
        # router alive, and the next request says the upstream is gone
        self.assertTrue(router.alive(), router.logs())
        self.assertEqual(router.get("/healthz").status, 200)
        r2 = router.chat()
        self.assertErrorEnvelope(r2, (502, 503))
        self.assertTrue(router.alive())

    def test_stream_with_include_usage(self):
        mock, router = self.start_pair()
        body = chat_body("gpt-4o-mini", stream=True, stream_options={"include_usage": True})
        direct, _ = stream_request(mock.port, "/r1/v1/chat/completions", body)
        r, _ = stream_request(router.port, "/v1/chat/completions", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, direct.body)
        self.assertTrue(any('"usage"' in e.get("data", "") for e in sse_events(r.body)))


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class SlowClient(IntegrationCase):
    CHUNKS = 60000  # about 12 MB of SSE

    def test_slow_client_pauses_upstream_instead_of_buffering(self):
        mock, router = self.start_pair(mock_kw={"chunks": self.CHUNKS}, endpoints=("r1",))
        body = chat_body(stream=True)
        direct = harness.request(mock.port, "POST", "/r1/v1/chat/completions", body=body,
                                 timeout=30)
        self.assertEqual(direct.status, 200)
        self.assertEqual(router.chat().status, 200)  # warm up
        rss0 = vm_rss_kib(router.pid)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sockets.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.settimeout(harness.NET_TIMEOUT)
        sock.connect(("127.0.0.1", router.port))
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        first = sock.recv(4096)
        self.assertTrue(first.startswith(b"HTTP/1.1 200"), first[:200])
        time.sleep(1.5)  # the client stalls; the upstream keeps trying to send
        rss_stalled = vm_rss_kib(router.pid)
        self.assertTrue(router.alive())
        self.assertEqual(router.get("/healthz").status, 200, "other clients are still served")
        # now read everything, fast
        f = sock.makefile("rb")
        self.sockets.append(f)
        parts = [first]
        tail = first[-16:]
        t_read = time.monotonic()
        while not tail.endswith(b"0\r\n\r\n") and time.monotonic() < t_read + 30:
            chunk = f.read1(1 << 20)
            if not chunk:
                break
            parts.append(chunk)
            tail = (tail + chunk)[-16:]
        r = harness.read_raw_response(io.BufferedReader(io.BytesIO(b"".join(parts))))
        self.assertEqual(r.status, 200)
        if r.body != direct.body:
            at = next((i for i in range(min(len(r.body), len(direct.body)))
                       if r.body[i] != direct.body[i]), min(len(r.body), len(direct.body)))
            self.fail(f"the stream after a stall differs from the upstream's: {len(r.body)} bytes "
                      f"instead of {len(direct.body)}, first difference at byte {at}: "
                      f"router {r.body[at:at + 120]!r} upstream {direct.body[at:at + 120]!r}")
        growth_mib = (rss_stalled - rss0) / 1024
        if harness.sanitized_build():
            return  # ASan's quarantine holds freed buffers: RSS cannot show pausing here
        self.assertLess(growth_mib, 4, f"router RSS grew {growth_mib:.1f} MiB while the client "
                        f"stalled on a {len(r.body) / 1e6:.0f} MB stream: it buffers instead of pausing")

if __name__ == "__main__":
    harness.main()
