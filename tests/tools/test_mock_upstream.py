#!/usr/bin/env python3
"""Tests of tools/mock-upstream: the contract in tools/README.md.

Starts the real binary (MOCK_UPSTREAM_BIN) on a free loopback port and talks to
it with http.client and raw sockets. Python stdlib only.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ.get("MOCK_UPSTREAM_BIN")
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}]}


class Mock:
    """One running mock-upstream process."""

    def __init__(self, *args):
        self.dir = tempfile.TemporaryDirectory()
        port_file = os.path.join(self.dir.name, "port")
        self.proc = subprocess.Popen([BIN, "--listen", "127.0.0.1:0", "--port-file", port_file,
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on 127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError("mock-upstream did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(line.rsplit(":", 1)[1])
        with open(port_file) as f:
            assert int(f.read().strip()) == self.port, "port file and stdout disagree"

    def conn(self, timeout=5.0):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=5.0):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        c = self.conn(timeout)
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        try:
            c.request(method, path, body=data, headers=hdrs)
            r = c.getresponse()
            return (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def control(self, endpoint, faults):
        status, _, body = self.request("POST", "/_control/" + endpoint, faults)
        assert status == 200, body
        return json.loads(body)

    def stats(self):
        status, _, body = self.request("GET", "/_stats")
        assert status == 200, body
        return json.loads(body)

    def raw(self, data, timeout=3.0):
        """Send raw bytes, read until the server closes; returns the bytes read."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.sendall(data)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        s.close()
        return b"".join(chunks)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.dir.cleanup()
        # Under sanitizers a report is a failure even when the exit code is not.
        for mark in ("runtime error", "AddressSanitizer", "LeakSanitizer"):
            assert mark not in err, err
        return self.proc.returncode


def post_raw(path, body, extra=""):
    data = json.dumps(body).encode()
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + extra.encode() + b"Connection: close\r\nContent-Length: " + str(len(data)).encode()
            + b"\r\n\r\n" + data)


def sse_events(raw_body):
    """The data: payloads of an SSE body, in order."""
    return [line[6:] for line in raw_body.decode().split("\n") if line.startswith("data: ")]


class MockUpstreamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()

    @classmethod
    def tearDownClass(cls):
        rc = cls.mock.stop()
        assert rc == 0, "SIGTERM should exit 0, got %r" % rc

    def test_chat_non_stream_shape(self):
        body = json.dumps(CHAT).encode()
        status, hdrs, out = self.mock.request("POST", "/v1/chat/completions", body)
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["content-type"], "application/json")
        r = json.loads(out)
        self.assertEqual(r["id"], "chatcmpl-mock")
        self.assertEqual(r["object"], "chat.completion")
        self.assertEqual(r["created"], 1700000000)
        self.assertEqual(r["model"], "gpt-4o-mini")
        self.assertEqual(r["choices"][0]["message"],
                         {"role": "assistant", "content": "Hello from mock-upstream."})
        self.assertEqual(r["choices"][0]["finish_reason"], "stop")
        self.assertEqual(r["usage"], {"prompt_tokens": len(body) // 4, "completion_tokens": 7,
                                      "total_tokens": len(body) // 4 + 7})

    def test_model_echo_is_escaped(self):
        status, _, out = self.mock.request("POST", "/v1/chat/completions",
                                           {"model": 'we"ird\\m\u00e9del\n', "messages": []})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(out)["model"], 'we"ird\\m\u00e9del\n')

    def test_completions_embeddings_models(self):
        status, _, out = self.mock.request("POST", "/v1/completions", {"model": "m1", "prompt": "x"})
        self.assertEqual(status, 200)
        r = json.loads(out)
        self.assertEqual((r["object"], r["model"], r["choices"][0]["text"]),
                         ("text_completion", "m1", "Hello from mock-upstream."))
        status, _, out = self.mock.request("POST", "/v1/embeddings",
                                           {"model": "e1", "input": ["a", "b", "c"]})
        self.assertEqual(status, 200)
        r = json.loads(out)
        self.assertEqual(len(r["data"]), 3)
        self.assertEqual([d["index"] for d in r["data"]], [0, 1, 2])
        self.assertEqual(r["model"], "e1")
        status, _, out = self.mock.request("GET", "/v1/models")
        self.assertEqual(status, 200)
        r = json.loads(out)
        self.assertEqual(r["object"], "list")
        self.assertIn("gpt-4o-mini", [m["id"] for m in r["data"]])

    def test_bad_requests(self):
        for body, why in ((b'{"model": "x", "messages": [', "parse"),
                          (b'{"model": "x"} trailing', "parse"),
                          (b'{"messages": []}', "model"),
                          (b'{"model": ""}', "model"),
                          (b'[1, 2]', "object"),
                          (b'', "parse")):
            status, _, out = self.mock.request("POST", "/v1/chat/completions", body)
            self.assertEqual(status, 400, body)
            err = json.loads(out)["error"]
            self.assertIn(why, err["message"])
            self.assertEqual(err["type"], "invalid_request_error")
        status, _, _ = self.mock.request("GET", "/v1/chat/completions")
        self.assertEqual(status, 405)
        status, _, out = self.mock.request("GET", "/v1/nothing")
        self.assertEqual(status, 404)
        self.assertIn("error", json.loads(out))
        status, _, _ = self.mock.request("GET", "/elsewhere")
        self.assertEqual(status, 404)
        # A broken request line gets a 400 and the connection is closed.
        self.assertTrue(self.mock.raw(b"NOT A REQUEST\r\n\r\n").startswith(b"HTTP/1.1 400 "))

    def test_stream_chunks_and_done(self):
        c = self.mock.conn()
        c.request("POST", "/s1/v1/chat/completions",
                  body=json.dumps(dict(CHAT, stream=True)), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "text/event-stream")
        events = sse_events(r.read())
        c.close()
        self.assertEqual(len(events), 6)          # 5 chunks (the default) and [DONE]
        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        self.assertTrue(all(ch["object"] == "chat.completion.chunk" for ch in chunks))
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        text = "".join(ch["choices"][0]["delta"]["content"] for ch in chunks)
        self.assertEqual(text, "Hello from mock-upstream.")
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "stop")

    def test_stream_include_usage(self):
        body = json.dumps(dict(CHAT, stream=True, stream_options={"include_usage": True}))
        status, _, out = self.mock.request("POST", "/v1/chat/completions", body)
        events = sse_events(out)
        self.assertEqual(len(events), 7)
        usage = json.loads(events[-2])
        self.assertEqual(usage["choices"], [])
        self.assertEqual(usage["usage"]["prompt_tokens"], len(body) // 4)
        self.assertEqual(usage["usage"]["completion_tokens"], 7)

    def test_fail_next_per_endpoint(self):
        faults = self.mock.control("f1", {"fail_next": 2, "error_status": 429, "retry_after": "7"})
        self.assertEqual(faults["fail_next"], 2)
        for _ in range(2):
            # Another endpoint is not affected.
            status, _, _ = self.mock.request("POST", "/f2/v1/chat/completions", CHAT)
            self.assertEqual(status, 200)
            status, hdrs, out = self.mock.request("POST", "/f1/v1/chat/completions", CHAT)
            self.assertEqual(status, 429)
            self.assertEqual(hdrs.get("retry-after"), "7")
            err = json.loads(out)["error"]
            self.assertEqual(err["code"], "rate_limit_exceeded")
        status, hdrs, _ = self.mock.request("POST", "/f1/v1/chat/completions", CHAT)
        self.assertEqual(status, 200)
        self.assertNotIn("retry-after", hdrs)
        # error_status without retry_after: a plain 503, no Retry-After.
        self.mock.control("f1", {"fail_next": 1, "error_status": 503})
        status, hdrs, out = self.mock.request("POST", "/f1/v1/chat/completions", CHAT)
        self.assertEqual(status, 503)
        self.assertNotIn("retry-after", hdrs)
        self.assertEqual(json.loads(out)["error"]["type"], "server_error")
        self.assertEqual(self.mock.stats()["endpoints"]["f1"]["failures"], 3)

    def test_error_rate(self):
        self.mock.control("e1", {"error_rate": 1, "error_status": 502})
        self.assertEqual([self.mock.request("GET", "/e1/v1/models")[0] for _ in range(5)], [502] * 5)
        self.mock.control("e1", {"error_rate": 0})
        self.assertEqual(self.mock.request("GET", "/e1/v1/models")[0], 200)

    def test_control_clear_and_errors(self):
        self.mock.control("c1", {"fail_next": 5})
        self.assertEqual(self.mock.control("c1", {})["fail_next"], 0)
        self.assertEqual(self.mock.request("GET", "/c1/v1/models")[0], 200)
        status, _, out = self.mock.request("GET", "/_control/c1")
        self.assertEqual((status, json.loads(out)["error_status"]), (200, 500))
        for bad, word in (({"fail_nxt": 1}, "valid keys"), ({"error_rate": 2}, "between 0 and 1"),
                          ({"hang": "yes"}, "wrong type"), ([], "JSON object"),
                          ({"error_status": 200}, "400..599")):
            status, _, out = self.mock.request("POST", "/_control/c1", bad)
            self.assertEqual(status, 400, bad)
            self.assertIn(word, json.loads(out)["error"]["message"])

    def test_truncate_after(self):
        self.mock.control("t1", {"truncate_after": 2})
        raw = self.mock.raw(post_raw("/t1/v1/chat/completions", dict(CHAT, stream=True)))
        head, _, body = raw.partition(b"\r\n\r\n")
        self.assertIn(b"200 OK", head)
        events = sse_events(body)
        self.assertEqual(len(events), 2)
        self.assertNotIn("[DONE]", events)
        self.assertFalse(body.endswith(b"0\r\n\r\n"), "the chunked body must not be terminated")
        # http.client sees the cut as an error, as an SDK would.
        c = self.mock.conn()
        c.request("POST", "/t1/v1/chat/completions", body=json.dumps(dict(CHAT, stream=True)))
        r = c.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()
        # A non-stream answer is cut halfway through its body.
        raw = self.mock.raw(post_raw("/t1/v1/chat/completions", CHAT))
        head, _, body = raw.partition(b"\r\n\r\n")
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0]
                     .split(b":")[1])
        self.assertLess(len(body), length)

    def test_malformed(self):
        self.mock.control("m1", {"malformed": True})
        status, hdrs, out = self.mock.request("POST", "/m1/v1/chat/completions", CHAT)
        self.assertEqual(status, 200)
        with self.assertRaises(ValueError):
            json.loads(out)
        status, _, out = self.mock.request("POST", "/m1/v1/chat/completions", dict(CHAT, stream=True))
        events = sse_events(out)
        self.assertEqual(events[-1], "[DONE]")
        with self.assertRaises(ValueError):
            json.loads(events[0])

    def test_hang(self):
        self.mock.control("h1", {"hang": True})
        t0 = time.monotonic()
        with self.assertRaises(socket.timeout):
            self.mock.request("POST", "/h1/v1/chat/completions", CHAT, timeout=0.5)
        self.assertLess(time.monotonic() - t0, 2.0)
        # The mock still serves others while that connection hangs.
        self.assertEqual(self.mock.request("GET", "/v1/models")[0], 200)
        # It never answers, but closes when the client does.
        s = socket.create_connection(("127.0.0.1", self.mock.port), timeout=0.3)
        s.sendall(post_raw("/h1/v1/chat/completions", CHAT))
        with self.assertRaises(socket.timeout):
            s.recv(100)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(2.0)
        self.assertEqual(s.recv(100), b"")
        s.close()

    def test_latency(self):
        self.mock.control("l1", {"latency_ms": 300})
        t0 = time.monotonic()
        status, _, _ = self.mock.request("POST", "/l1/v1/chat/completions", CHAT)
        took = time.monotonic() - t0
        self.assertEqual(status, 200)
        self.assertGreaterEqual(took, 0.29)
        self.assertLess(took, 2.0)
        # Injected failures wait too.
        self.mock.control("l1", {"latency_ms": 200, "fail_next": 1})
        t0 = time.monotonic()
        self.assertEqual(self.mock.request("GET", "/l1/v1/models")[0], 500)
        self.assertGreaterEqual(time.monotonic() - t0, 0.19)
        # Jitter stays within latency_ms + latency_jitter_ms.
        self.mock.control("l1", {"latency_ms": 50, "latency_jitter_ms": 100})
        t0 = time.monotonic()
        self.mock.request("GET", "/l1/v1/models")
        self.assertTrue(0.049 <= time.monotonic() - t0 < 1.0)

    def test_stats_and_reset(self):
        self.mock.request("POST", "/st1/v1/chat/completions?x=1", CHAT,
                          headers={"Authorization": "Bearer sk-test-1", "X-Custom": "a"})
        self.mock.request("POST", "/st1/v1/embeddings", {"model": "emb", "input": "x"},
                          headers={"Authorization": "Bearer sk-test-2", "X-Custom": "b"})
        ep = self.mock.stats()["endpoints"]["st1"]
        self.assertEqual(ep["requests"], 2)
        self.assertEqual(ep["last_authorization"], "Bearer sk-test-2")
        self.assertEqual(ep["last_model"], "emb")
        self.assertEqual(ep["last_path"], "/st1/v1/embeddings")
        self.assertEqual(ep["last_headers"]["x-custom"], "b")
        self.mock.request("GET", "/st2/v1/models")
        ep = self.mock.stats()["endpoints"]["st2"]
        self.assertIsNone(ep["last_authorization"])
        self.assertIsNone(ep["last_model"])

    def test_pipelining_and_chunked_body(self):
        body = json.dumps(CHAT).encode()
        one = (b"POST /p1/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)
        chunked = (b"POST /p1/v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   + b"%x\r\n" % 10 + body[:10] + b"\r\n"
                   + b"%x\r\n" % (len(body) - 10) + body[10:] + b"\r\n0\r\n\r\n")
        raw = self.mock.raw(one + one + chunked)
        self.assertEqual(raw.count(b"HTTP/1.1 200 OK"), 3)
        self.assertEqual(raw.count(b'"model":"gpt-4o-mini"'), 3)


class MockUpstreamCommandLineTest(unittest.TestCase):
    def test_fault_option_and_chunk_pacing(self):
        m = Mock("--fault", "r9:fail_next=1,error_status=503,retry_after=2", "--chunks", "3",
                 "--chunk-delay-ms", "60")
        try:
            status, hdrs, _ = m.request("GET", "/r9/v1/models")
            self.assertEqual((status, hdrs.get("retry-after")), (503, "2"))
            self.assertEqual(m.request("GET", "/r9/v1/models")[0], 200)
            t0 = time.monotonic()
            status, _, out = m.request("POST", "/v1/chat/completions", dict(CHAT, stream=True))
            self.assertGreaterEqual(time.monotonic() - t0, 0.115)   # two pauses between 3 chunks
            self.assertEqual(len(sse_events(out)), 4)
            # Reset zeroes the counters.
            self.assertEqual(m.stats()["total"], 3)
            self.assertEqual(m.request("POST", "/_stats/reset")[0], 200)
            self.assertEqual(m.stats(), {"total": 0, "endpoints": {}})
        finally:
            self.assertEqual(m.stop(), 0)

    def test_sigterm_with_open_connections(self):
        m = Mock("--fault", "default:hang=true")
        s = socket.create_connection(("127.0.0.1", m.port), timeout=2)
        s.sendall(post_raw("/v1/chat/completions", CHAT))
        time.sleep(0.05)
        try:
            self.assertEqual(m.stop(), 0)
            self.assertEqual(s.recv(100), b"")
        finally:
            s.close()

    def test_bad_options(self):
        for args in (["--fault", "r1:nope=1"], ["--fault", "r1:error_rate=x"], ["--chunks", "-1"],
                     ["--listen", "nonsense"], ["--threads", "0"]):
            p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=5)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("mock-upstream:", p.stderr)

    def test_threads(self):
        m = Mock("--threads", "2")
        try:
            for _ in range(4):
                self.assertEqual(m.request("POST", "/v1/chat/completions", CHAT)[0], 200)
            self.assertEqual(m.stats()["total"], 4)
        finally:
            self.assertEqual(m.stop(), 0)


if __name__ == "__main__":
    if not BIN:
        sys.exit("MOCK_UPSTREAM_BIN is not set")
    unittest.main(verbosity=2)
