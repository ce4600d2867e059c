#!/usr/bin/env python3
"""SIGHUP reload (a broken policy is refused and the old one keeps serving; a good one
takes over without dropping a request in flight) and SIGTERM (drain, then exit 0)."""

import re
import signal
import socket
import time

import harness
from harness import (ADMIN_KEY, PRIMARY_KEY, RELAY_KEY, IntegrationCase, chat_body, in_thread,
                     policy_yaml, secret_ref, stream_request)

NEW_KEY = "sk-upstream-rotated-41b0"


class Reload(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.mock = self.start_mock(chunks=5, chunk_delay_ms=100)
        self.good = policy_yaml(self.mock.port, endpoints=("r1",))
        # made before the router starts: it gets every secret in its environment then
        self.rotated = policy_yaml(self.mock.port, endpoints=("r1",), primary_key=NEW_KEY)
        self.alternating = [policy_yaml(self.mock.port, endpoints=("r1",), primary_key=f"sk-k{i}")
                            for i in range(2)]
        self.router = self.start_router(self.good)

    def sighup(self):
        self.router.signal(signal.SIGHUP)

    def wait_stderr(self, pattern, n_before, timeout=3.0):
        rx = re.compile(pattern)
        return harness.wait_for(lambda: len(rx.findall(self.router.stderr())) > n_before, timeout,
                                what=f"router stderr to match {pattern!r}")

    def last_auth(self):
        return self.mock.endpoint_stats("r1").get("last_authorization")

    def test_broken_policy_keeps_old_one_then_good_one_takes_over(self):
        self.assertEqual(self.router.chat().status, 200)
        # 1. unknown key: a diagnostic at its line, old policy serves on
        bad = self.good + "retyr:\n  max_attempts: 2\n"
        bad_line = self.good.count("\n") + 1
        self.write("policy.yaml", bad)
        diag = rf"policy\.yaml:{bad_line}:1: error:"
        self.sighup()
        self.wait_stderr(diag, 0)
        self.assertTrue(self.router.alive())
        r = self.router.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.last_auth(), f"Bearer {PRIMARY_KEY}")
        self.assertEqual(self.router.get("/readyz").status, 200)
        # 2. not YAML at all
        self.write("policy.yaml", "version: 1\nproviders: [unclosed\n  {{{{\n")
        n = len(re.findall(r"error", self.router.stderr()))
        self.sighup()
        self.wait_stderr(r"error", n)
        self.assertEqual(self.router.chat().status, 200)
        # 3. a policy that parses but references a plugin that does not exist
        self.write("policy.yaml", self.good.replace("plugin: openai", "plugin: no-such-plugin"))
        n = len(re.findall(r"error", self.router.stderr()))
        self.sighup()
        self.wait_stderr(r"error", n)
        self.assertEqual(self.router.chat().status, 200)
        self.assertEqual(self.last_auth(), f"Bearer {PRIMARY_KEY}")
        # the secret values never reach the log, even when the file around them is broken
        self.assertNotIn(PRIMARY_KEY, self.router.stderr())
        # 4. a good policy with a rotated key takes over
        self.write("policy.yaml", self.rotated)
        self.sighup()

        def rotated():
            self.assertEqual(self.router.chat().status, 200)
            return self.last_auth() == f"Bearer {NEW_KEY}"
        harness.wait_for(rotated, 3.0, interval=0.05, what="the reloaded key to reach the upstream")
        self.assertNotIn(NEW_KEY, self.router.stderr())
        self.assertNotIn(NEW_KEY, self.router.stdout())

    def test_request_in_flight_survives_reload(self):
        self.mock.control("r1", {"latency_ms": 500})
        h = in_thread(self.router.chat)
        time.sleep(0.15)
        self.write("policy.yaml", self.rotated)
        self.sighup()
        r = h.join(5)
        self.assertEqual(r.status, 200, r)
        self.mock.control("r1", {})

        def rotated():
            self.router.chat()
            return self.last_auth() == f"Bearer {NEW_KEY}"
        harness.wait_for(rotated, 3.0, interval=0.05, what="the reloaded key")

    def test_stream_in_flight_survives_reload(self):
        h = in_thread(stream_request, self.router.port, "/v1/chat/completions", chat_body(stream=True))
        time.sleep(0.15)
        self.write("policy.yaml", self.rotated)
        self.sighup()
        r, _ = h.join(5)
        self.assertEqual(r.status, 200)
        self.assertIn(b"data: [DONE]", r.body)

    def test_many_reloads(self):
        for i in range(10):
            self.write("policy.yaml", self.alternating[i % 2])
            self.sighup()
            self.assertEqual(self.router.chat().status, 200)
        self.assertTrue(self.router.alive())


class Shutdown(IntegrationCase):
    def test_sigterm_drains_request_in_flight(self):
        mock, router = self.start_pair(endpoints=("r1",))
        mock.control("r1", {"latency_ms": 500})
        h = in_thread(router.chat)
        time.sleep(0.15)
        t0 = time.monotonic()
        router.signal(signal.SIGTERM)
        time.sleep(0.1)
        # it stops accepting at once
        with self.assertRaises(OSError):
            s = socket.create_connection(("127.0.0.1", router.port), timeout=1)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n")
                s.settimeout(2)
                if not s.recv(1):
                    raise ConnectionResetError("closed without an answer")
            finally:
                s.close()
        r = h.join(5)
        self.assertEqual(r.status, 200, r)
        code = router.wait(5)
        self.assertEqual(code, 0, router.logs())
        self.assertLess(time.monotonic() - t0, 5)

    def test_sigterm_drains_stream(self):
        mock, router = self.start_pair(mock_kw={"chunks": 5, "chunk_delay_ms": 100}, endpoints=("r1",))
        h = in_thread(stream_request, router.port, "/v1/chat/completions", chat_body(stream=True))
        time.sleep(0.15)
        router.signal(signal.SIGTERM)
        r, _ = h.join(5)
        self.assertEqual(r.status, 200)
        self.assertIn(b"data: [DONE]", r.body)
        self.assertEqual(router.wait(5), 0, router.logs())

    def test_sigterm_idle_exits_quickly(self):
        mock, router = self.start_pair()
        # an idle keep-alive connection must not hold the exit up
        s, _ = self.connect(router.port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: r\r\n\r\n")
        s.recv(4096)
        t0 = time.monotonic()
        router.signal(signal.SIGTERM)
        self.assertEqual(router.wait(3), 0, router.logs())
        self.assertLess(time.monotonic() - t0, 3)

    def test_sigint_exits_zero(self):
        mock, router = self.start_pair()
        router.signal(signal.SIGINT)
        self.assertEqual(router.wait(3), 0, router.logs())


class Startup(IntegrationCase):
    def test_invalid_policy_refuses_to_start(self):
        mock = self.start_mock()
        text = policy_yaml(mock.port) + "bogus_key: 1\n"
        router = self.start_router(text, wait_ready=False)
        code = router.wait(10)
        self.assertIsNotNone(code, "serve must exit on an invalid policy")
        self.assertNotEqual(code, 0)
        self.assertRegex(router.stderr(), r"policy\.yaml:\d+:\d+: error:")

    def test_unset_variable_is_an_error_in_serve(self):
        mock = self.start_mock()
        text = policy_yaml(mock.port).replace(secret_ref(PRIMARY_KEY), "${SY_INTEG_UNSET_VAR_XYZ}")
        router = self.start_router(text, wait_ready=False)
        code = router.wait(10)
        self.assertIsNotNone(code)
        self.assertNotEqual(code, 0)
        self.assertIn("SY_INTEG_UNSET_VAR_XYZ", router.stderr())

    def test_key_from_environment(self):
        mock = self.start_mock()
        text = policy_yaml(mock.port).replace(secret_ref(PRIMARY_KEY), "${SY_INTEG_KEY}")
        router = self.start_router(text, env_extra={"SY_INTEG_KEY": "sk-from-env-5521"})
        self.assertEqual(router.chat().status, 200)
        self.assertEqual(mock.endpoint_stats("r1")["last_authorization"], "Bearer sk-from-env-5521")
        self.assertNotIn("sk-from-env-5521", router.stderr() + router.stdout())

    def test_literal_secrets_are_never_echoed(self):
        # Secrets written straight into the policy (not ${VAR}) may draw a warning, but their
        # values must not appear in anything the router prints.
        mock = self.start_mock()
        text = policy_yaml(mock.port, client_keys="lit-client-6e21")
        for key in (PRIMARY_KEY, RELAY_KEY, ADMIN_KEY, "lit-client-6e21"):
            text = text.replace(secret_ref(key), f'"{key}"')
        router = self.start_router(text)
        self.assertEqual(router.chat(headers={"Authorization": "Bearer lit-client-6e21"}).status, 200)
        router.signal(signal.SIGHUP)
        time.sleep(0.3)
        router.signal(signal.SIGTERM)
        self.assertEqual(router.wait(5), 0)
        out = router.stderr() + router.stdout()
        for key in (PRIMARY_KEY, RELAY_KEY, ADMIN_KEY, "lit-client-6e21"):
            self.assertNotIn(key, out)


if __name__ == "__main__":
    harness.main()
