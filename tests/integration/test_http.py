#!/usr/bin/env python3
"""HTTP/1.1 robustness over raw sockets: pipelining, smuggling attempts, chunked request
bodies, keep-alive, split writes, oversized headers and clients that go away mid-stream."""

import time

import harness
from harness import IntegrationCase, chat_body, peer_closed, read_raw_response, stream_request


def post_bytes(body, path="/v1/chat/completions", extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


class RawHttp(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock, self.router = self.start_pair(
            mock_kw={"chunks": 10, "chunk_delay_ms": 200}, endpoints=("r1",))

    def connect(self):
        return super().connect(self.router.port)

    def test_pipelined_requests_answered_in_order(self):
        s, f = self.connect()
        b1, b2 = chat_body("gpt-4.1"), chat_body("gpt-4o-mini")
        s.sendall(post_bytes(b1) + post_bytes(b2)
                  + b"GET /healthz HTTP/1.1\r\nHost: router\r\n\r\n" + post_bytes(chat_body("model-3")))
        r1, r2, r3, r4 = (read_raw_response(f, m) for m in ("POST", "POST", "GET", "POST"))
        self.assertEqual((r1.status, r2.status, r3.status, r4.status), (200, 200, 200, 200))
        self.assertEqual(r1.json()["model"], "gpt-4.1")
        self.assertEqual(r2.json()["model"], "gpt-4o-mini")
        self.assertEqual(r4.json()["model"], "model-3")
        self.assertEqual(r1.headers["x-switchyard-model"], "gpt-4.1")
        self.assertEqual(r2.headers["x-switchyard-model"], "gpt-4o-mini")

    def test_content_length_with_transfer_encoding_refused(self):
        s, f = self.connect()
        body = chat_body()
        req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: router\r\n"
               b"Content-Type: application/json\r\n"
               + f"Content-Length: {len(body)}\r\n".encode()
               + b"Transfer-Encoding: chunked\r\n\r\n"
               + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        s.sendall(req)
        r = read_raw_response(f)
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(peer_closed(s), "the connection must be closed after a smuggling attempt")
        self.assertEqual(self.mock.stats()["total"], 0)

    def test_conflicting_content_lengths_refused(self):
        s, f = self.connect()
        body = chat_body()
        s.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nContent-Length: {len(body)}\r\n"
                   f"Content-Length: {len(body) + 1}\r\n\r\n").encode() + body + b"x")
        r = read_raw_response(f)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(peer_closed(s))

    def test_chunked_request_body(self):
        body = chat_body("gpt-4o-mini")
        direct = self.mock.direct("r1", "/chat/completions", body)
        s, f = self.connect()
        parts = [body[:10], body[10:25], body[25:]]
        req = b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\n" \
              b"Transfer-Encoding: chunked\r\n\r\n"
        for p in parts:
            req += f"{len(p):x}\r\n".encode() + p + b"\r\n"
        req += b"0\r\n\r\n"
        s.sendall(req)
        r = read_raw_response(f)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, direct.body, "the upstream must have seen the same body")

    def test_bad_chunk_size_refused(self):
        s, f = self.connect()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"zz\r\nhello\r\n0\r\n\r\n")
        r = read_raw_response(f)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(peer_closed(s))

    def test_keep_alive_reuse(self):
        s, f = self.connect()
        for i in range(5):
            s.sendall(post_bytes(chat_body(f"m{i}")))
            r = read_raw_response(f)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["model"], f"m{i}")
            self.assertNotEqual(r.headers.get("connection", "").lower(), "close")
        # Connection: close is honoured
        s.sendall(post_bytes(chat_body(), extra="Connection: close\r\n"))
        r = read_raw_response(f)
        self.assertEqual(r.status, 200)
        self.assertTrue(peer_closed(s))

    def test_request_split_across_writes(self):
        s, f = self.connect()
        raw = post_bytes(chat_body("split-model"))
        for i in range(0, len(raw), 17):
            s.sendall(raw[i:i + 17])
            time.sleep(0.005)
        r = read_raw_response(f)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["model"], "split-model")

    def test_huge_header_refused(self):
        s, f = self.connect()
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: r\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
        except (ConnectionResetError, BrokenPipeError):
            pass  # refused before we finished sending: fine, as long as the router lives on
        try:
            r = read_raw_response(f, "GET")
        except (ConnectionResetError, BrokenPipeError):
            r = None
        if r is not None:
            self.assertIn(r.status, (400, 431), r)
        self.assertEqual(self.router.get("/healthz").status, 200)

    def test_garbage_request_line(self):
        s, f = self.connect()
        s.sendall(b"\x00\x01\x02 nonsense\r\n\r\n")
        r = read_raw_response(f)
        if r is not None:
            self.assertEqual(r.status, 400, r)
        self.assertTrue(peer_closed(s))
        self.assertEqual(self.router.get("/healthz").status, 200)

    def test_client_disconnect_mid_stream_cancels_upstream(self):
        # no upstream connection yet
        self.assertEqual(harness.established_to_port(self.mock.port), 0)
        s, f = self.connect()
        s.sendall(post_bytes(chat_body(stream=True)))
        line = b""
        t0 = time.monotonic()
        while b"data:" not in line:
            line = f.readline()
            self.assertTrue(line, "stream ended early")
            self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(harness.established_to_port(self.mock.port), 1,
                         "one upstream transfer while streaming")
        f.close()
        s.close()
        t_close = time.monotonic()
        # The stream would run ~2 s more; the upstream connection must go at once.
        harness.wait_for(lambda: harness.established_to_port(self.mock.port) == 0, 1.0,
                         what="router to drop the upstream connection after the client left")
        self.assertLess(time.monotonic() - t_close, 1.0)
        self.assertTrue(self.router.alive())
        r = self.router.chat()
        self.assertEqual(r.status, 200, r)
        r, _ = stream_request(self.router.port, "/v1/chat/completions", chat_body(stream=True))
        self.assertEqual(r.status, 200)
        self.assertIn(b"[DONE]", r.body)


if __name__ == "__main__":
    harness.main()
