#!/usr/bin/env python3
"""The HTTP front on a bad day: out of file descriptors (accepting pauses instead of
spinning, a bounded log, a /metrics counter), slow bodies (header_timeout is a deadline
for the whole request: 408), clients that half-close after their request (they get their
answer) and reloads that change what a running server cannot (a warning per key; what can
be applied is applied)."""

import os
import re
import resource
import select
import signal
import socket
import threading
import time

import harness
from harness import IntegrationCase, chat_body, peer_closed, policy_yaml, read_raw_response


def post_bytes(body, path="/v1/chat/completions", extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_text(path):
    with open(path) as fh:
        return fh.read()


def metric(router, name):
    r = router.get("/metrics")
    assert r.status == 200, r
    m = re.search(rf"^{name} (\S+)$", r.body.decode(), re.M)
    return float(m.group(1)) if m else None


class OutOfDescriptors(IntegrationCase):
    FD_LIMIT = 64  # the router raises its soft limit to the hard one: set both

    def start_limited_router(self, policy):
        """A router whose hard RLIMIT_NOFILE is FD_LIMIT (set in the child before exec)."""
        die_with_parent = harness._die_with_parent
        limit = self.FD_LIMIT

        def preexec():
            die_with_parent()
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
        harness._die_with_parent = preexec  # Proc looks it up when it starts the child
        try:
            return self.start_router(policy)
        finally:
            harness._die_with_parent = die_with_parent

    def test_idle_connections_past_the_limit(self):
        mock = self.start_mock()
        # Idle connections stay for header_timeout: long enough to outlast the test's load.
        router = self.start_limited_router(policy_yaml(
            mock.port, endpoints=("r1",), access_log="off",
            server_extra={"header_timeout": "30s"}))
        self.assertRegex(router.stderr(), rf"open-file limit: {self.FD_LIMIT}\b")
        self.assertEqual(router.chat().status, 200)

        idle = []
        for _ in range(3 * self.FD_LIMIT):  # the kernel completes them; they wait in the backlog
            s = socket.create_connection(("127.0.0.1", router.port), timeout=5)
            idle.append(s)
            self.sockets.append(s)
        time.sleep(0.5)  # the router takes what it can and runs out
        err_before = len(router.stderr())
        cpu0, t0 = cpu_seconds(router.pid), time.monotonic()
        time.sleep(2.0)
        share = (cpu_seconds(router.pid) - cpu0) / (time.monotonic() - t0)
        self.assertLess(share, 0.2, "out of descriptors, the router must not spin on accept")
        err = router.stderr()
        self.assertLess(len(err) - err_before, 4096, "the accept failure is logged rarely")
        accept_lines = [ln for ln in err.splitlines() if "accept" in ln]
        self.assertTrue(accept_lines, "the accept failure is logged")
        self.assertLessEqual(len(accept_lines), 5, accept_lines)
        self.assertIn("refused", accept_lines[0])

        for s in idle:
            s.close()
        r = router.chat(timeout=10)
        self.assertEqual(r.status, 200, r)
        refused = metric(router, "switchyard_accept_refused_total")
        self.assertIsNotNone(refused, "switchyard_accept_refused_total in /metrics")
        self.assertGreater(refused, 0)
        self.assertTrue(router.alive())


class SlowBodies(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock, self.router = self.start_pair(
            endpoints=("r1",), access_log="off", server_extra={"header_timeout": "2s"})

    def dribble(self, socks, stop, interval=1.0):
        """Send one body byte per interval on each socket until stop is set."""
        def run():
            while not stop.wait(interval):
                for s in socks:
                    try:
                        s.send(b"x")
                    except OSError:
                        pass
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def test_one_byte_per_second_body_gets_408(self):
        s, f = self.connect(self.router.port)
        t0 = time.monotonic()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 60\r\n\r\n{")
        stop = threading.Event()
        self.addCleanup(stop.set)
        self.dribble([s], stop)
        r = read_raw_response(f)
        took = time.monotonic() - t0
        stop.set()
        self.assertIsNotNone(r, "a 408 answer, not a silent close")
        err = self.assertErrorEnvelope(r, 408)
        self.assertEqual(err["type"], "invalid_request_error")
        self.assertGreater(took, 1.5)
        self.assertLess(took, 4.5, "header_timeout counts from the request's first byte")
        self.assertTrue(peer_closed(s, timeout=3.0))
        self.assertEqual(self.mock.stats()["total"], 0)

    def test_many_slow_clients_are_all_closed(self):
        n = 50
        socks = []
        t0 = time.monotonic()
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", self.router.port), timeout=5)
            self.sockets.append(s)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n"
                      b"Content-Length: 100\r\n\r\n{")
            socks.append(s)
        stop = threading.Event()
        self.addCleanup(stop.set)
        self.dribble(socks, stop)
        got = {s: b"" for s in socks}
        open_socks = set(socks)
        deadline = t0 + 8.0
        while open_socks and time.monotonic() < deadline:
            ready, _, _ = select.select(list(open_socks), [], [], 0.2)
            for s in ready:
                try:
                    d = s.recv(65536)
                except OSError:
                    d = b""
                if d:
                    got[s] += d
                else:
                    open_socks.discard(s)
        took = time.monotonic() - t0
        stop.set()
        self.assertEqual(len(open_socks), 0, f"slow clients still held after {took:.1f}s")
        self.assertLess(took, 6.0)
        for s in socks:
            self.assertTrue(got[s].startswith(b"HTTP/1.1 408 "), got[s][:200])
        self.assertEqual(self.router.chat().status, 200)

    def test_fast_enough_body_still_served(self):
        # A body that arrives in pieces but within the deadline is served.
        s, f = self.connect(self.router.port)
        raw = post_bytes(chat_body("pieces"))
        half = len(raw) // 2
        s.sendall(raw[:half])
        time.sleep(0.8)
        s.sendall(raw[half:])
        r = read_raw_response(f)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["model"], "pieces")


class HalfClose(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock, self.router = self.start_pair(
            mock_kw={"chunks": 4, "chunk_delay_ms": 50}, endpoints=("r1",), access_log="off")

    def send_and_half_close(self, data):
        s, f = self.connect(self.router.port)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return s, f

    def test_non_stream_answered(self):
        self.mock.control("r1", {"latency_ms": 200})  # the EOF arrives long before the answer
        s, f = self.send_and_half_close(post_bytes(chat_body("half-closed")))
        r = read_raw_response(f)
        self.assertIsNotNone(r, "the client half-closed after a complete request: answer it")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["model"], "half-closed")
        self.assertEqual(r.header("connection"), "close")
        self.assertTrue(peer_closed(s))

    def test_stream_answered(self):
        s, f = self.send_and_half_close(post_bytes(chat_body(stream=True)))
        r = read_raw_response(f)
        self.assertIsNotNone(r)
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"data: [DONE]", r.body)
        self.assertEqual(len([e for e in harness.sse_events(r.body) if "data" in e]), 5, r.body)
        self.assertTrue(peer_closed(s))

    def test_pipelined_requests_all_answered(self):
        s, f = self.send_and_half_close(
            post_bytes(chat_body("first")) + b"GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n"
            + post_bytes(chat_body("third")))
        r1, r2, r3 = (read_raw_response(f, m) for m in ("POST", "GET", "POST"))
        self.assertEqual((r1.status, r2.status, r3.status), (200, 200, 200))
        self.assertEqual(r1.json()["model"], "first")
        self.assertEqual(r3.json()["model"], "third")
        self.assertTrue(peer_closed(s))

    def test_local_answer(self):
        s, f = self.send_and_half_close(b"GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n")
        r = read_raw_response(f, "GET")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(peer_closed(s))

    def test_incomplete_request_just_closed(self):
        for data in (b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n",
                     b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nContent-Length: 50\r\n\r\n{"):
            s, f = self.send_and_half_close(data)
            s.settimeout(3.0)
            self.assertEqual(f.read(), b"", "no answer to half a request, just the close")
        self.assertEqual(self.mock.stats()["total"], 0)
        self.assertEqual(self.router.chat().status, 200)


class PolicyListenRouter(harness.Router):
    """A router that takes its address from the policy (no --listen)."""

    def __init__(self, workdir, policy_path, port):
        self.port = port
        self.policy_path = policy_path
        argv = [harness.switchyard_bin(), "serve", "-c", policy_path]
        env = dict(os.environ)
        env.update(harness.SECRET_ENV)
        harness.Proc.__init__(self, "router", argv, workdir, env=env, cwd=workdir)


class ReloadRestartKeys(IntegrationCase):
    def start(self, **server):
        self.mock = self.start_mock()
        self.port = harness.free_port()
        self.policy = lambda **kw: policy_yaml(self.mock.port, endpoints=("r1",),
                                               server_extra={"workers": 1, **server, **kw}).replace(
            "listen: 127.0.0.1:1\n", f"listen: 127.0.0.1:{self.port}\n")
        path = self.write("policy.yaml", self.policy())
        self.router = PolicyListenRouter(self.workdir, path, self.port)
        self.procs.append(self.router)
        self.router.wait_ready()

    def reload(self, text):
        n = self.router.stderr().count("reloaded")
        self.write("policy.yaml", text)
        self.router.signal(signal.SIGHUP)
        harness.wait_for(lambda: self.router.stderr().count("reloaded") > n, 5.0,
                         what="the reload")
        time.sleep(0.1)  # the lines after "reloaded"

    def test_listen_and_workers_need_a_restart(self):
        self.start()
        other = harness.free_port()
        self.reload(self.policy(workers=2).replace(f"127.0.0.1:{self.port}", f"127.0.0.1:{other}"))
        err = self.router.stderr()
        warn = [ln for ln in err.splitlines() if "server.listen" in ln]
        self.assertTrue(warn, err[-2000:])
        self.assertIn("restart", warn[0])
        self.assertIn(f"127.0.0.1:{self.port}", warn[0], "says where it still listens")
        warn = [ln for ln in err.splitlines() if "server.workers" in ln]
        self.assertTrue(warn, err[-2000:])
        self.assertIn("restart", warn[0])
        self.assertEqual(self.router.chat().status, 200, "the old address still serves")
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", other), timeout=1).close()
        # Reloading an unchanged policy says nothing more about them.
        n = len(re.findall("server.listen", err))
        self.reload(self.policy())
        self.assertEqual(len(re.findall("server.listen", self.router.stderr())), n)

    def test_access_log_switches_target(self):
        first, second = self.path("first.log"), self.path("second.log")
        self.start(access_log=f'"{first}"')
        self.assertEqual(self.router.chat(chat_body("one")).status, 200)
        self.reload(self.policy(access_log=f'"{second}"'))
        self.assertEqual(self.router.chat(chat_body("two")).status, 200)
        harness.wait_for(lambda: os.path.exists(second) and "two" in read_text(second), 3.0,
                         what="the request logged to the new file")
        self.assertIn("one", read_text(first))
        self.assertNotIn("two", read_text(first))
        self.assertNotIn("server.access_log changed", self.router.stderr())
        # and off: nothing more is written anywhere
        self.reload(self.policy(access_log="off"))
        self.assertEqual(self.router.chat(chat_body("three")).status, 200)
        time.sleep(0.5)  # the access log is flushed every ~200 ms
        self.assertNotIn("three", read_text(second))
        self.assertNotIn("three", self.router.stdout())
        # and on again
        self.reload(self.policy(access_log=f'"{first}"'))
        self.assertEqual(self.router.chat(chat_body("four")).status, 200)
        harness.wait_for(lambda: "four" in read_text(first), 3.0,
                         what="the request logged once the log is on again")
        self.assertNotIn("three", read_text(first))

    def test_shutdown_grace_applied(self):
        self.start(shutdown_grace="30s")
        self.reload(self.policy(shutdown_grace="300ms"))
        self.mock.control("r1", {"hang": True})
        h = harness.in_thread(self.router.chat, timeout=10)
        harness.wait_for(lambda: self.mock.requests_to("r1") >= 1 or
                         self.mock.stats().get("total", 0) >= 1, 3.0, what="the hung request")
        t0 = time.monotonic()
        self.router.signal(signal.SIGTERM)
        code = self.router.wait(6)
        self.assertEqual(code, 0, "the reloaded shutdown_grace (300ms) ends the drain, not 30s")
        self.assertLess(time.monotonic() - t0, 5.0)
        try:
            h.join(5)
        except Exception:  # noqa: BLE001 - cut off after the grace: acceptable
            pass


if __name__ == "__main__":
    harness.main()
