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


RESPONSE = {"model": "gpt-4.1", "input": "Say hello."}
RESPONSE_EVENTS = (["response.created", "response.in_progress", "response.output_item.added",
                    "response.content_part.added"] + ["response.output_text.delta"] * 5 +
                   ["response.output_text.done", "response.content_part.done",
                    "response.output_item.done", "response.completed"])


def typed_events(raw_body):
    """(event name, data dict) of a Responses stream body."""
    out = []
    for block in raw_body.decode().replace("\r", "\n").split("\n\n"):
        lines = [l for l in block.split("\n") if l]
        if not lines:
            continue
        name = next((l[7:] for l in lines if l.startswith("event: ")), None)
        data = "\n".join(l[6:] for l in lines if l.startswith("data: "))
        try:
            data = json.loads(data)
        except ValueError:
            pass
        out.append((name, data))
    return out


def output_text(resp):
    return "".join(p["text"] for item in resp["output"] for p in item["content"])


class ResponsesApiTest(unittest.TestCase):
    """The Responses API: answers, typed-event streams, per-endpoint state, faults."""

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock()

    @classmethod
    def tearDownClass(cls):
        assert cls.mock.stop() == 0

    def create(self, endpoint, **extra):
        body = dict(RESPONSE, **extra)
        data = json.dumps(body).encode()
        status, hdrs, out = self.mock.request("POST", f"/{endpoint}/v1/responses", data)
        return status, hdrs, out, len(data)

    def test_non_stream_shape_and_usage(self):
        status, hdrs, out, n = self.create("ra", instructions="Be brief.")
        self.assertEqual(status, 200, out)
        self.assertEqual(hdrs["x-mock-endpoint"], "ra")
        r = json.loads(out)
        self.assertRegex(r["id"], r"^resp_[0-9a-f]{48}$")
        self.assertEqual((r["object"], r["created_at"], r["status"], r["model"]),
                         ("response", 1700000000, "completed", "gpt-4.1"))
        self.assertEqual(output_text(r), "Hello from mock-upstream.")
        msg = r["output"][0]
        self.assertEqual((msg["type"], msg["role"], msg["status"]), ("message", "assistant", "completed"))
        self.assertRegex(msg["id"], r"^msg_[0-9a-f]{48}$")
        self.assertEqual(msg["content"][0]["annotations"], [])
        self.assertEqual(r["usage"], {"input_tokens": n // 4, "input_tokens_details": {"cached_tokens": 0},
                                      "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0},
                                      "total_tokens": n // 4 + 7})
        self.assertEqual((r["previous_response_id"], r["store"], r["instructions"], r["error"]),
                         (None, True, "Be brief.", None))
        self.assertEqual(r["reasoning"], {"effort": None, "summary": None})
        _, _, out, _ = self.create("ra", reasoning={"effort": "low"}, store=False)
        r2 = json.loads(out)
        self.assertEqual(r2["usage"]["output_tokens_details"]["reasoning_tokens"], 3)
        self.assertEqual(r2["usage"]["output_tokens"], 7)
        self.assertEqual(r2["reasoning"]["effort"], "low")
        self.assertIs(r2["store"], False)
        self.assertNotEqual(r2["id"], r["id"])
        _, _, out, _ = self.create("rb")
        self.assertNotEqual(json.loads(out)["id"], r["id"], "ids are unique across endpoints")
        status, _, out, _ = self.create("ra", model="")
        self.assertEqual(status, 400, out)

    def test_stream_typed_events(self):
        data = json.dumps(dict(RESPONSE, stream=True)).encode()
        status, hdrs, out = self.mock.request("POST", "/rs/v1/responses", data)
        self.assertEqual(status, 200, out)
        self.assertEqual(hdrs["content-type"], "text/event-stream")
        evs = typed_events(out)
        self.assertEqual([e for e, _ in evs], RESPONSE_EVENTS)
        for i, (name, d) in enumerate(evs):
            self.assertEqual((d["type"], d["sequence_number"]), (name, i))
        self.assertNotIn(b"[DONE]", out)
        created, completed = evs[0][1]["response"], evs[-1][1]["response"]
        self.assertEqual((created["status"], created["output"], created["usage"]), ("in_progress", [], None))
        self.assertEqual(completed["id"], created["id"])
        deltas = [d["delta"] for e, d in evs if e == "response.output_text.delta"]
        self.assertEqual(deltas, ["Hello", " from", " mock", "-upstream", "."])
        self.assertEqual(evs[9][1]["text"], "Hello from mock-upstream.")
        self.assertEqual(output_text(completed), "Hello from mock-upstream.")
        msg_id = evs[2][1]["item"]["id"]
        self.assertTrue(all(d["item_id"] == msg_id for e, d in evs[3:11]))
        self.assertEqual(completed["usage"]["input_tokens"], len(data) // 4)
        # The streamed response is stored, with the streamed text.
        status, _, got = self.mock.request("GET", f"/rs/v1/responses/{created['id']}")
        self.assertEqual(status, 200, got)
        self.assertEqual(json.loads(got), completed)

    def test_state_is_per_endpoint(self):
        status, _, out, _ = self.create("s1", input=[{"role": "user", "content": "One."},
                                                     {"type": "message", "role": "user", "id": "msg_x",
                                                      "content": [{"type": "input_text", "text": "Two."}]}])
        rid = json.loads(out)["id"]
        status, _, got = self.mock.request("GET", f"/s1/v1/responses/{rid}?include=x")
        self.assertEqual(status, 200, got)
        self.assertEqual(json.loads(got), json.loads(out))
        status, _, items = self.mock.request("GET", f"/s1/v1/responses/{rid}/input_items")
        items = json.loads(items)
        self.assertEqual([i["content"][0]["text"] for i in items["data"]], ["One.", "Two."])
        self.assertEqual((items["object"], items["has_more"], items["last_id"]), ("list", False, "msg_x"))
        self.assertEqual(items["first_id"], items["data"][0]["id"])
        # Another endpoint does not know it.
        status, _, miss = self.mock.request("GET", f"/s2/v1/responses/{rid}")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(miss), {"error": {
            "message": f"Response with id '{rid}' not found.", "type": "invalid_request_error",
            "param": None, "code": None}})
        status, _, out2, _ = self.create("s2", previous_response_id=rid)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(out2), {"error": {
            "message": f"Previous response with id '{rid}' not found.", "type": "invalid_request_error",
            "param": "previous_response_id", "code": "previous_response_not_found"}})
        self.assertEqual(self.mock.stats()["endpoints"]["s2"]["not_found"], 2)
        self.assertEqual(self.mock.stats()["endpoints"]["s2"]["stored"], 0)
        # Its own endpoint continues it, cancels (a no-op: it is complete), deletes it.
        status, _, out3, _ = self.create("s1", previous_response_id=rid)
        self.assertEqual(status, 200, out3)
        self.assertEqual(json.loads(out3)["previous_response_id"], rid)
        status, _, c = self.mock.request("POST", f"/s1/v1/responses/{rid}/cancel", b"")
        self.assertEqual((status, json.loads(c)["id"]), (200, rid))
        self.assertEqual(self.mock.stats()["endpoints"]["s1"]["stored"], 2)
        status, _, d = self.mock.request("DELETE", f"/s1/v1/responses/{rid}")
        self.assertEqual((status, json.loads(d)), (200, {"id": rid, "object": "response", "deleted": True}))
        for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/input_items")):
            status, _, _ = self.mock.request(method, f"/s1/v1/responses/{rid}{path}")
            self.assertEqual(status, 404, (method, path))
        self.assertEqual(self.create("s1", previous_response_id=rid)[0], 400)
        # store: false keeps nothing.
        _, _, out4, _ = self.create("s1", store=False)
        self.assertEqual(self.mock.request("GET", f"/s1/v1/responses/{json.loads(out4)['id']}")[0], 404)
        # Methods and paths.
        status, hdrs, _ = self.mock.request("PUT", f"/s1/v1/responses/{rid}", b"{}")
        self.assertEqual((status, hdrs.get("allow")), (405, "GET, DELETE"))
        self.assertEqual(self.mock.request("GET", "/s1/v1/responses")[0], 405)
        self.assertEqual(self.mock.request("GET", f"/s1/v1/responses/{rid}/other")[0], 404)
        self.assertEqual(self.mock.request("GET", "/s1/v1/responses/bad%20id")[0], 404)

    def test_store_is_bounded(self):
        ids = [json.loads(self.create("bound")[2])["id"] for _ in range(1030)]
        self.assertEqual(self.mock.stats()["endpoints"]["bound"]["stored"], 1024)
        self.assertEqual(self.mock.request("GET", f"/bound/v1/responses/{ids[0]}")[0], 404)
        self.assertEqual(self.mock.request("GET", f"/bound/v1/responses/{ids[-1]}")[0], 200)
        self.assertEqual(len(set(ids)), len(ids))

    def test_faults_apply(self):
        self.mock.control("rf", {"truncate_after": 3})
        data = json.dumps(dict(RESPONSE, stream=True)).encode()
        out = self.mock.raw(post_raw("/rf/v1/responses", dict(RESPONSE, stream=True)))
        self.assertEqual(out.count(b"event: "), 3)
        self.assertNotIn(b"0\r\n\r\n", out, "a cut stream has no last chunk")
        self.mock.control("rf", {"truncate_after": 1000})
        out = self.mock.raw(post_raw("/rf/v1/responses", dict(RESPONSE, stream=True)))
        self.assertIn(b"event: response.output_item.done", out)
        self.assertNotIn(b"response.completed", out, "however late, a cut never completes")
        self.mock.control("rf", {"fail_next": 1, "error_status": 429, "retry_after": "2"})
        status, hdrs, out = self.mock.request("POST", "/rf/v1/responses", data)
        self.assertEqual((status, hdrs["retry-after"]), (429, "2"))
        self.mock.control("rf", {"malformed": True})
        status, _, out = self.mock.request("POST", "/rf/v1/responses", data)
        evs = typed_events(out)
        self.assertEqual(len(evs), 1)
        self.assertIsInstance(evs[0][1], str, "the broken event is not JSON")
        self.mock.control("rf", {"sse_cr": True, "headers": {"x-ratelimit-remaining": "5"}})
        status, hdrs, out = self.mock.request("POST", "/rf/v1/responses", data)
        self.assertIn(b"event: response.created\rdata: ", out)
        self.assertEqual(hdrs["x-ratelimit-remaining"], "5")
        self.mock.control("rf", {"error_rate": 1, "error_status": 503})
        rid = json.loads(self.create("rg")[2])["id"]
        self.mock.control("rg", {"fail_next": 1})
        self.assertEqual(self.mock.request("GET", f"/rg/v1/responses/{rid}")[0], 500)
        self.assertEqual(self.mock.request("GET", f"/rg/v1/responses/{rid}")[0], 200)
        self.assertEqual(self.mock.request("POST", "/rf/v1/responses", data)[0], 503)
        st = self.mock.stats()["endpoints"]
        self.assertEqual(st["rf"]["last_path"], "/rf/v1/responses")
        self.assertEqual(st["rg"]["failures"], 1)
        self.assertEqual(st["rg"]["last_path"], f"/rg/v1/responses/{rid}")
        self.assertIsNone(st["rg"]["last_model"])


class ResponsesPacingTest(unittest.TestCase):
    def test_chunks_and_delay_apply(self):
        mock = Mock("--chunks", "3", "--chunk-delay-ms", "60")
        try:
            t0 = time.monotonic()
            status, _, out = mock.request("POST", "/v1/responses", dict(RESPONSE, stream=True))
            took = time.monotonic() - t0
            evs = typed_events(out)
            self.assertEqual([d["delta"] for e, d in evs if e == "response.output_text.delta"],
                             ["Hello", " from", " mock"])
            self.assertEqual(evs[-1][1]["response"]["output"][0]["content"][0]["text"], "Hello from mock")
            self.assertEqual(len(evs), 11)
            self.assertGreaterEqual(took, 0.12, "two pauses between three deltas")
        finally:
            self.assertEqual(mock.stop(), 0)


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
