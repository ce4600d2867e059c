#!/usr/bin/env python3
"""The router's HTTP/1.1 upstream client against a raw-socket server written here, which
decides exactly which bytes go out and counts connections and requests per connection:
keep-alive reuse, a reused connection the server closed (sent again once on a new one),
`Connection: close`, HTTP/1.0 answers framed by the close, 100 Continue, chunk extensions
and trailers, junk after an answer, malformed and cut answers, and a streamed answer.

Runs twice (tests/integration/meson.build): with the built-in client (the default for an
http:// upstream given by IP literal) and with SWITCHYARD_TEST_HTTP_CLIENT=curl (libcurl).
Both must behave the same; where they legitimately differ, the test says why."""

import json
import os
import socket
import struct
import threading
import time

import harness
from harness import IntegrationCase, chat_body, sse_events, stream_request

CLIENT = os.environ.get("SWITCHYARD_TEST_HTTP_CLIENT") or "builtin"
WAIT = 10.0  # generous bound for anything the raw server waits for

# Steps a script may return besides bytes to send and seconds to sleep.
CLOSE = object()  # close the connection (FIN) at this point
RESET = object()  # close it with a reset (SO_LINGER 0)


def chat_answer(content="Hello from the raw upstream.", model="gpt-4o-mini"):
    return json.dumps({
        "id": "chatcmpl-raw", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
    }, separators=(",", ":")).encode()


def http_answer(body, version=b"HTTP/1.1", extra=b"", length=True):
    head = version + b" 200 OK\r\nContent-Type: application/json\r\n" + extra
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def chunked(body, sizes, ext=b"", trailer=b""):
    """body as a chunked payload cut into pieces of the given sizes (the rest in one more)."""
    out, off = b"", 0
    for n in list(sizes) + [len(body)]:
        piece = body[off:off + n]
        if not piece:
            break
        out += b"%x%s\r\n%s\r\n" % (len(piece), ext, piece)
        off += len(piece)
    return out + b"0\r\n" + trailer + b"\r\n"


def read_request(sock, buf):
    """One request from sock (buf: bytes already read). (request dict, rest) or (None, b"")
    when the peer closed before a whole request."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            return None, b""
        buf += d
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise AssertionError("a chunked request body: not expected from the router")
    n = int(headers.get("content-length", "0"))
    while len(buf) < n:
        d = sock.recv(65536)
        if not d:
            return None, b""
        buf += d
    return {"method": method, "path": path, "version": version, "headers": headers,
            "body": buf[:n]}, buf[n:]


class RawUpstream:
    """A listening socket on 127.0.0.1 and one thread per connection. For each request,
    script(conn_no, req_no, request) returns the steps to run: bytes are sent as they are
    (one sendall each), numbers are seconds to sleep, callables are called (to wait for
    something), CLOSE / RESET end the connection. Without one the connection waits for
    its next request."""

    def __init__(self, script):
        self.script = script
        self.lock = threading.Lock()
        self.conns = []    # per accepted connection: the requests read on it
        self.errors = []   # exceptions in the server's threads
        self.socks = []
        self.stopped = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def base_url(self):
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self):
        while not self.stopped:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(30)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                idx = len(self.conns)
                self.conns.append([])
                self.socks.append(sock)
            threading.Thread(target=self._serve, args=(sock, idx), daemon=True).start()

    def _serve(self, sock, idx):
        buf = b""
        req_no = 0
        try:
            while True:
                req, buf = read_request(sock, buf)
                if req is None:
                    return
                with self.lock:
                    self.conns[idx].append(req)
                steps = self.script(idx, req_no, req)
                req_no += 1
                for s in steps:
                    if s is CLOSE:
                        return
                    if s is RESET:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        return
                    if isinstance(s, (int, float)):
                        time.sleep(s)
                    elif callable(s):
                        s()
                    else:
                        sock.sendall(s)
        except ConnectionError:
            pass  # the router dropped the connection (a reset, say): its right
        except Exception as e:  # noqa: BLE001 - reported by the test
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def stop(self):
        self.stopped = True
        self.listener.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass
        self.thread.join(5)

    # what the server saw -------------------------------------------------
    def counts(self):
        """Requests read on each connection, in accept order."""
        with self.lock:
            return [len(c) for c in self.conns]

    def requests(self):
        with self.lock:
            return [r for c in self.conns for r in c]


def policy(upstream, max_attempts=1):
    """One provider (plugin openai) with one endpoint on the raw server; no retries by the
    engine (max_attempts 1), so what the server sees is the transport's doing alone."""
    return "\n".join([
        "version: 1", "server:", "  listen: 127.0.0.1:1", "  request_timeout: 20s",
        "  access_log: \"off\"", f"  admin_key: {harness.secret_ref(harness.ADMIN_KEY)}",
        "providers:", "  primary:", "    plugin: openai",
        f"    api_key: {harness.secret_ref(harness.PRIMARY_KEY)}", "    endpoints:",
        f"      - {{name: raw, base_url: \"{upstream.base_url()}\"}}",
        "retry:", f"  max_attempts: {max_attempts}",
        "  backoff: {base: 5ms, max: 20ms, jitter: none}",
        "breaker:", "  failure_threshold: 1000", "  success_threshold: 1", "  open_for: 1s",
        "  half_open_max_calls: 1",
        "migration:", "  stable: primary"]) + "\n"


class UpstreamClientCase(IntegrationCase):
    def start(self, script):
        up = RawUpstream(script)
        self.addCleanup(up.stop)
        self.up = up
        self.router = self.start_router(policy(up))
        return up, self.router

    def tearDown(self):
        super().tearDown()
        up = getattr(self, "up", None)
        if up is not None:
            self.assertEqual(up.errors, [], "the raw server's threads failed")

    def assertAnswer(self, r, content="Hello from the raw upstream."):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["choices"][0]["message"]["content"], content, r)

    def assertServes(self, router):
        """The router is alive and still answers its own endpoints."""
        self.assertTrue(router.alive(), "the router died")
        self.assertEqual(router.get("/healthz").status, 200)

    def assertSameRequest(self, a, b):
        self.assertEqual((a["method"], a["path"], a["body"]), (b["method"], b["path"], b["body"]))
        self.assertEqual(a["headers"].get("authorization"), b["headers"].get("authorization"))


class KeepAlive(UpstreamClientCase):
    def test_admin_status_names_the_client(self):
        # /admin/status says which client sends each endpoint's requests: the built-in
        # one for http:// by address (the default), libcurl with server.http_client: curl
        # (the -curl run) and for https:// whatever the setting.
        up = RawUpstream(lambda c, n, req: [http_answer(chat_answer())])
        self.addCleanup(up.stop)
        self.up = up
        text = policy(up).replace(
            f"      - {{name: raw, base_url: \"{up.base_url()}\"}}\n",
            f"      - {{name: raw, base_url: \"{up.base_url()}\", priority: 1}}\n"
            "      - {name: tls, base_url: \"https://127.0.0.1:9/v1\", priority: 2}\n"
            "  relay:\n    plugin: holysheep\n"
            f"    api_key: {harness.secret_ref(harness.RELAY_KEY)}\n"
            "    endpoints:\n      - {name: derived, region: cn-north}\n")
        router = self.start_router(text)
        r = router.get("/admin/status", headers={"Authorization": f"Bearer {harness.ADMIN_KEY}"})
        self.assertEqual(r.status, 200, r)
        eps = {e["endpoint"]: e for e in r.json()["endpoints"]}
        want = os.environ.get("SWITCHYARD_TEST_HTTP_CLIENT") or "builtin"
        self.assertEqual(eps["raw"]["http_client"], want, eps["raw"])
        self.assertEqual(eps["tls"]["http_client"], "curl", eps["tls"])
        # No base_url: the plugin derives it from the region (https://...), so libcurl.
        self.assertEqual(eps["derived"]["http_client"], "curl", eps["derived"])
        self.assertAnswer(router.chat(chat_body()))
        self.assertEqual(up.counts(), [1])

    def test_sequential_requests_reuse_one_connection(self):
        up, router = self.start(lambda c, n, req: [http_answer(chat_answer(f"answer {n}"))])
        for i in range(5):
            self.assertAnswer(router.chat(chat_body(content=f"q{i}")), f"answer {i}")
        self.assertEqual(up.counts(), [5], "five requests on one kept-alive connection")
        reqs = up.requests()
        self.assertEqual([json.loads(r["body"])["messages"][0]["content"] for r in reqs],
                         [f"q{i}" for i in range(5)])
        for r in reqs:
            self.assertEqual((r["method"], r["path"], r["version"]),
                             ("POST", "/v1/chat/completions", "HTTP/1.1"))
            self.assertEqual(r["headers"].get("authorization"), f"Bearer {harness.PRIMARY_KEY}")
            self.assertNotEqual(r["headers"].get("connection", "").lower(), "close")

    def test_connection_close_answers_get_a_new_connection_each(self):
        up, router = self.start(lambda c, n, req: [
            http_answer(chat_answer(), extra=b"Connection: close\r\n"), CLOSE])
        for _ in range(4):
            self.assertAnswer(router.chat())
        self.assertEqual(up.counts(), [1, 1, 1, 1])

    def test_connection_close_answer_not_closed_by_the_server_is_not_reused(self):
        # The server says close but keeps the socket open: the client must not reuse it.
        up, router = self.start(lambda c, n, req: [
            http_answer(chat_answer(), extra=b"Connection: close\r\n")])
        for _ in range(3):
            self.assertAnswer(router.chat())
        self.assertEqual(up.counts(), [1, 1, 1])

    def test_idle_connection_closed_by_the_server_is_not_used(self):
        # The server closes each connection a moment after its answer (an idle timeout):
        # the next request goes on a new connection, no error and no resend.
        up, router = self.start(lambda c, n, req: [http_answer(chat_answer()), 0.05, CLOSE])
        for i in range(3):
            self.assertAnswer(router.chat())
            harness.wait_for(lambda: harness.established_to_port(up.port) == 0, WAIT,
                             what="the router to see the close")  # both ends of it gone
        self.assertEqual(up.counts(), [1, 1, 1])


class StaleConnection(UpstreamClientCase):
    """The server answers the first request on a connection and keeps it; the second one it
    reads and then closes without a byte. A request on a reused connection that died
    before any answer byte is sent again once on a new connection (both clients do)."""

    def check(self, how):
        def script(c, n, req):
            if n == 0:
                return [http_answer(chat_answer(f"conn {c}"))]
            return [how]
        up, router = self.start(script)
        self.assertAnswer(router.chat(chat_body(content="first")), "conn 0")
        self.assertAnswer(router.chat(chat_body(content="second")), "conn 1")
        self.assertEqual(up.counts(), [2, 1], "the second request again, on a new connection")
        reqs = up.requests()
        self.assertSameRequest(reqs[1], reqs[2])
        self.assertEqual(json.loads(reqs[2]["body"])["messages"][0]["content"], "second")
        # The new connection is kept; the next request on it meets the same fate, and is
        # sent again once more (the once is per request).
        self.assertAnswer(router.chat(chat_body(content="third")), "conn 2")
        self.assertEqual(up.counts(), [2, 2, 1])
        self.assertSameRequest(up.requests()[3], up.requests()[4])

    def test_closed_after_reading_the_request_is_sent_again(self):
        self.check(CLOSE)

    def test_reset_after_reading_the_request_is_sent_again(self):
        self.check(RESET)

    def test_only_once(self):
        # The reused connection dies, and so does the new one the request goes on next
        # (an empty reply there): one resend, then the error.
        def script(c, n, req):
            if c == 0 and n == 0:
                return [http_answer(chat_answer())]
            return [CLOSE]
        up, router = self.start(script)
        self.assertAnswer(router.chat())
        err = self.assertErrorEnvelope(router.chat(), 502)
        self.assertIn("Empty reply from server", err["message"])  # libcurl's words, and ours
        self.assertEqual(up.counts(), [2, 1], "sent again once, not more")
        self.assertServes(router)


class Framing(UpstreamClientCase):
    def test_http10_answer_ended_by_the_close(self):
        body = chat_answer("x" * 20000)  # more than one read
        up, router = self.start(lambda c, n, req: [
            http_answer(body[:100], version=b"HTTP/1.0", length=False), 0.05, body[100:], CLOSE])
        for _ in range(2):
            r = router.chat()
            self.assertAnswer(r, "x" * 20000)
            self.assertEqual(r.body, body, "the whole body, as sent")
        self.assertEqual(up.counts(), [1, 1])

    def test_http10_keep_alive_with_length_is_reused(self):
        up, router = self.start(lambda c, n, req: [
            http_answer(chat_answer(), version=b"HTTP/1.0", extra=b"Connection: keep-alive\r\n")])
        for _ in range(3):
            self.assertAnswer(router.chat())
        self.assertEqual(up.counts(), [3])

    def test_100_continue_then_the_answer(self):
        up, router = self.start(lambda c, n, req: [
            b"HTTP/1.1 100 Continue\r\n\r\n", 0.05,
            b"HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n" + http_answer(chat_answer())])
        for _ in range(3):
            r = router.chat()
            self.assertAnswer(r)
        self.assertEqual(up.counts(), [3], "the connection is still kept after interim answers")

    def test_chunked_with_extensions_and_a_trailer(self):
        body = chat_answer("chunks " * 50)
        payload = chunked(body, [1, 10, 100], ext=b";name=value;q=\"a b\"",
                          trailer=b"X-Trailer: one\r\nX-Other: two\r\n")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        up, router = self.start(lambda c, n, req: [head + payload])
        r = router.chat()
        self.assertAnswer(r, "chunks " * 50)
        self.assertEqual(r.body, body)
        self.assertIsNone(r.header("x-trailer"))
        self.assertAnswer(router.chat(), "chunks " * 50)
        self.assertEqual(up.counts(), [2], "kept after the trailer")

    def test_answer_in_small_pieces(self):
        # Every boundary lands somewhere odd: inside the status line, a header, a chunk-size
        # line, its extension, the CRLF after a chunk, the trailer.
        body = chat_answer("pieces")
        answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n"
                  + chunked(body, [3, 40], ext=b";e=1", trailer=b"X-T: 1\r\n"))
        steps = []
        for i in range(0, len(answer), 7):
            steps += [answer[i:i + 7], 0.002]
        up, router = self.start(lambda c, n, req: steps)
        for _ in range(2):
            r = router.chat()
            self.assertAnswer(r, "pieces")
            self.assertEqual(r.body, body)
        self.assertEqual(up.counts(), [2])

    def test_junk_after_a_complete_answer(self):
        # Bytes after the answer's end (in the same write): this answer is good, but the
        # connection can no longer be trusted, so the next request goes on a new one.
        up, router = self.start(lambda c, n, req: [http_answer(chat_answer(f"conn {c}"))
                                                   + b"JUNK\r\nmore junk\r\n"])
        for i in range(3):
            self.assertAnswer(router.chat(), f"conn {i}")
        self.assertEqual(up.counts(), [1, 1, 1])

    def test_junk_after_an_idle_answer(self):
        # The junk comes later, while the connection is idle: the connection is dropped, the
        # junk never read as the next request's answer.
        if CLIENT == "curl":
            # libcurl does not watch idle connections, and the one here (7.88) reuses one
            # with bytes waiting on it (its liveness check only looks for a close): it
            # reads them as the next answer, here one framed by a close that never comes,
            # so the request hangs until the deadline. Later libcurl releases treat such
            # a connection as dead. Not this router's to fix.
            self.skipTest("libcurl 7.88 reads bytes left on an idle connection as the next answer")
        junk_sent = threading.Semaphore(0)
        up, router = self.start(lambda c, n, req: [
            http_answer(chat_answer(f"conn {c}")), 0.05, b"HTTP/1.1 200 OK\r\n\r\n", junk_sent.release])
        for i in range(3):
            self.assertAnswer(router.chat(), f"conn {i}")
            self.assertTrue(junk_sent.acquire(timeout=WAIT))
            # The built-in client keeps reading idle connections and closes this one.
            harness.wait_for(lambda: harness.established_to_port(up.port) == 0, WAIT,
                             what="the router to drop the connection")
        self.assertEqual(up.counts(), [1, 1, 1])


class BadAnswers(UpstreamClientCase):
    """A broken answer is a 502 with an error envelope; the router goes on serving. No
    retries (max_attempts 1), so the server sees each request once."""

    def check_bad(self, bad_steps, builtin_says, kind="io_error"):
        """Two requests meet bad_steps, each on a fresh connection: 502s whose message says
        `kind` (the engine's name for the failure) and, from the built-in client, builtin_says
        (libcurl words it its own way). Then a good answer passes."""
        state = {"bad": True}

        def script(c, n, req):
            if state["bad"]:
                return bad_steps
            return [http_answer(chat_answer(), extra=b"Connection: close\r\n"), CLOSE]
        up, router = self.start(script)
        for i in range(2):
            r = router.chat()
            err = self.assertErrorEnvelope(r, 502)
            self.assertEqual(err["code"], "upstream_failed", r)
            self.assertIn(kind, err["message"], r)
            if CLIENT != "curl":
                self.assertIn(builtin_says, err["message"], r)
            self.assertNotIn(harness.PRIMARY_KEY, r.body.decode("utf-8", "replace"))
        self.assertEqual(up.counts(), [1, 1], "each request once, each on a fresh connection")
        state["bad"] = False
        self.assertAnswer(router.chat())
        self.assertEqual(up.counts(), [1, 1, 1])
        self.assertServes(router)

    def test_malformed_status_line(self):
        self.check_bad([b"HTTP/1.1 OK\r\n\r\n", CLOSE], "malformed status line")

    def test_malformed_status_line_kept_open(self):
        # The server does not close after its garbage: the router must not wait for more.
        self.check_bad([b"HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\n{}"], "malformed status line")

    def test_not_http_at_all(self):
        self.check_bad([b"SSH-2.0-OpenSSH_9.0\r\n\r\n", CLOSE], "malformed status line")

    def test_cut_chunked_body(self):
        body = chat_answer()
        self.check_bad([b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n"
                        + b"%x\r\n%s" % (len(body), body[:20]), 0.05, body[20:40], CLOSE],
                       "closed the connection before the answer's end")

    def test_cut_length_body(self):
        body = chat_answer()
        self.check_bad([b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body) + body[:30], CLOSE],
                       "closed the connection before the answer's end")

    def test_bad_chunk_size(self):
        self.check_bad([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
                        CLOSE], "bad chunk size")

    def test_cut_inside_the_head(self):
        # libcurl takes a close inside the head as the head's end (a 200 with an empty
        # body), so there the engine's check of the answer fails rather than the transport;
        # a 502 either way.
        self.check_bad([b"HTTP/1.1 200 OK\r\nContent-Type: appl", CLOSE],
                       "closed the connection inside the answer's head",
                       kind="not a JSON object" if CLIENT == "curl" else "io_error")

    def test_empty_reply_on_a_fresh_connection(self):
        # A fresh connection is never sent again (it was not the pool's fault).
        self.check_bad([CLOSE], "Empty reply from server")

    def test_reset_on_a_fresh_connection(self):
        self.check_bad([RESET], "Connection reset by peer")

    def test_nothing_listening(self):
        up, router = self.start(lambda c, n, req: [])
        up.stop()  # the port is closed now: connect fails
        err = self.assertErrorEnvelope(router.chat(), 502)
        self.assertIn("connect_error", err["message"])
        self.assertServes(router)


class Streaming(UpstreamClientCase):
    def test_stream_arrives_whole_in_order_as_it_is_sent(self):
        pieces = ["Hel", "lo ", "from ", "the ", "raw ", "stream."]
        events = []
        for i, p in enumerate(pieces):
            delta = {"content": p}
            if i == 0:
                delta["role"] = "assistant"
            events.append(b"data: " + json.dumps({
                "id": "chatcmpl-raw", "object": "chat.completion.chunk", "created": 1700000000,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": "stop" if i == len(pieces) - 1 else None}]},
                separators=(",", ":")).encode() + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        seen = []  # content pieces the client has read so far
        cond = threading.Condition()

        def client_saw(k):
            def wait():
                with cond:
                    if not cond.wait_for(lambda: len(seen) >= k, WAIT):
                        raise AssertionError(f"the client never saw event {k}: the stream is held back")
            return wait

        def script(c, n, req):
            if not json.loads(req["body"]).get("stream"):
                return [http_answer(chat_answer())]
            steps = [b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"]
            for i, ev in enumerate(events):
                if i == 2:  # one event cut across two chunks, written apart
                    steps += [b"%x\r\n%s\r\n" % (10, ev[:10]), 0.03,
                              b"%x\r\n%s\r\n" % (len(ev) - 10, ev[10:])]
                elif i == 3:  # two events in one chunk
                    continue
                elif i == 4:
                    both = events[3] + ev
                    steps += [b"%x\r\n%s\r\n" % (len(both), both)]
                else:
                    steps += [b"%x\r\n%s\r\n" % (len(ev), ev)]
                if i < len(pieces) and i != 3:
                    # Wait until the client has the event: a router that buffered the stream
                    # would hold it back and this would time out.
                    steps += [client_saw(i + 1), 0.02]
            steps.append(b"0\r\n\r\n")
            return steps
        up, router = self.start(script)

        def on_line(line):
            if line.startswith(b"data: {"):
                d = json.loads(line[6:])
                for ch in d.get("choices", []):
                    if "content" in ch.get("delta", {}):
                        with cond:
                            seen.append(ch["delta"]["content"])
                            cond.notify_all()
        r, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True),
                              timeout=30, on_line=on_line)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("content-type", "").startswith("text/event-stream"), r.headers)
        self.assertEqual(seen, pieces, "every piece, in order")
        evs = sse_events(r.body)
        self.assertEqual(evs[-1].get("data"), "[DONE]", r.body[-300:])
        self.assertNotIn(b"error", r.body)
        self.assertEqual(r.body.count(b"data: [DONE]"), 1)
        # The connection is kept after the stream's last chunk.
        self.assertAnswer(router.chat())
        self.assertEqual(up.counts(), [2])

    def test_stream_framed_by_the_close(self):
        events = [b"data: " + json.dumps({
            "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": {"content": f"p{i}"}, "finish_reason": None}]},
            separators=(",", ":")).encode() + b"\n\n" for i in range(4)] + [b"data: [DONE]\n\n"]
        steps = [b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"]
        for ev in events:
            steps += [ev, 0.02]
        steps.append(CLOSE)
        up, router = self.start(lambda c, n, req: steps)
        r, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True), timeout=30)
        self.assertEqual(r.status, 200, r)
        evs = sse_events(r.body)
        contents = [json.loads(e["data"])["choices"][0]["delta"]["content"]
                    for e in evs if e.get("data", "").startswith("{")]
        self.assertEqual(contents, [f"p{i}" for i in range(4)])
        self.assertEqual(evs[-1].get("data"), "[DONE]")
        self.assertEqual(up.counts(), [1])


if __name__ == "__main__":
    harness.main()
