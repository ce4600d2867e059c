#!/usr/bin/env python3
"""Retries, region failover, total failure, pass-through of client errors and the sticky
canary split, against real upstream faults."""

import http.client
import json
import time
import subprocess

import harness
from harness import IntegrationCase, chat_body


class Retry(IntegrationCase):
    def test_retry_after_one_503(self):
        mock, router = self.start_pair(endpoints=("r1",))
        mock.control("r1", {"fail_next": 1, "error_status": 503})
        r = router.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("x-switchyard-attempts"), "2")
        self.assertEqual(r.header("x-switchyard-endpoint"), "r1")
        self.assertEqual(mock.requests_to("r1"), 2)
        self.assertEqual(r.json()["choices"][0]["message"]["content"], "Hello from mock-upstream.")

    def test_region_failover(self):
        mock, router = self.start_pair(endpoints=("r1", "r2"))
        mock.control("r1", {"fail_next": 100, "error_status": 503})
        body = chat_body("gpt-4o-mini")
        direct = mock.direct("r2", "/chat/completions", body)
        mock.reset_stats()
        r = router.chat(body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, direct.body)
        self.assertEqual(r.header("x-switchyard-endpoint"), "r2")
        self.assertEqual(r.header("x-switchyard-provider"), "primary")
        attempts = int(r.header("x-switchyard-attempts"))
        self.assertGreaterEqual(attempts, 2)
        self.assertEqual(attempts, mock.requests_to("r1") + mock.requests_to("r2"))
        self.assertEqual(mock.requests_to("r2"), 1)

    def test_stream_region_failover_before_first_byte(self):
        mock, router = self.start_pair(endpoints=("r1", "r2"))
        mock.control("r1", {"fail_next": 100, "error_status": 502})
        body = chat_body("gpt-4o-mini", stream=True)
        direct, _ = harness.stream_request(mock.port, "/r2/v1/chat/completions", body)
        r, _ = harness.stream_request(router.port, "/v1/chat/completions", body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, direct.body)
        self.assertEqual(r.header("x-switchyard-endpoint"), "r2")

    def test_everything_fails(self):
        mock, router = self.start_pair(endpoints=("r1", "r2"), canary=False)
        for ep in ("r1", "r2"):
            mock.control(ep, {"fail_next": 1000, "error_status": 503})
        r = router.chat()
        err = self.assertErrorEnvelope(r, (502, 503))
        self.assertTrue("503" in err["message"] or "Injected failure" in err["message"],
                        f"the last upstream error must be summarised: {err['message']!r}")
        self.assertGreaterEqual(mock.requests_to("r1") + mock.requests_to("r2"), 2)
        self.assertTrue(r.header("x-request-id"))

    def test_upstream_unreachable(self):
        # An endpoint nobody listens on: connect errors, then a clean 502/503.
        port = harness.free_port()
        mock = self.start_mock()
        text = harness.policy_yaml(mock.port, endpoints=("r1",), canary=False).replace(
            f"127.0.0.1:{mock.port}/r1", f"127.0.0.1:{port}/r1")
        router = self.start_router(text)
        r = router.chat()
        self.assertErrorEnvelope(r, (502, 503))

    def test_400_from_upstream_passed_as_is(self):
        mock, router = self.start_pair(endpoints=("r1", "r2"))
        mock.control("r1", {"fail_next": 2, "error_status": 400})
        body = chat_body("gpt-4o-mini")
        direct = mock.direct("r1", "/chat/completions", body)
        self.assertEqual(direct.status, 400, direct)
        mock.reset_stats()
        r = router.chat(body)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.body, direct.body, "an upstream 4xx goes to the client unchanged")
        self.assertEqual(r.header("x-switchyard-attempts"), "1")
        self.assertEqual(mock.requests_to("r1"), 1, "a 400 is not retried")
        self.assertEqual(mock.requests_to("r2"), 0, "a 400 does not fail over")

    def test_retry_after_429_is_retried(self):
        mock, router = self.start_pair(endpoints=("r1",))
        mock.control("r1", {"fail_next": 1, "error_status": 429, "retry_after": "0"})
        r = router.chat()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("x-switchyard-attempts"), "2")


class CanarySplit(IntegrationCase):
    def test_sticky_split_at_50_percent(self):
        mock, router = self.start_pair(endpoints=("st",), canary_endpoints=("cn",), percent=50)
        conn = http.client.HTTPConnection("127.0.0.1", router.port, timeout=harness.NET_TIMEOUT)
        body = chat_body("gpt-4o-mini")
        arms = {}
        try:
            for rnd in range(2):
                users = range(1, 201) if rnd == 0 else range(1, 201, 5)
                for i in users:
                    user = f"u{i}"
                    conn.request("POST", "/v1/chat/completions", body=body,
                                 headers={"Content-Type": "application/json", "x-user-id": user})
                    resp = conn.getresponse()
                    resp.read()
                    self.assertEqual(resp.status, 200, user)
                    arm = resp.getheader("x-switchyard-arm")
                    provider = resp.getheader("x-switchyard-provider")
                    self.assertIn(arm, ("stable", "canary"))
                    self.assertEqual(provider, "relay" if arm == "canary" else "primary")
                    if rnd == 0:
                        arms[user] = arm
                    else:
                        self.assertEqual(arm, arms[user], f"{user} changed arm")
        finally:
            conn.close()
        canary = sum(1 for a in arms.values() if a == "canary")
        # binomial(200, 0.5): mean 100, sd ~7; 60..140 is more than 5 sd either way
        self.assertGreater(canary, 60, canary)
        self.assertLess(canary, 140, canary)
        self.assertEqual(mock.requests_to("cn"), canary + sum(
            1 for i in range(1, 201, 5) if arms[f"u{i}"] == "canary"))
        # no sticky key: stable
        r = router.chat(body)
        self.assertEqual(r.header("x-switchyard-arm"), "stable")
        # the same user in the body (sticky_by body:user) gets the same arm as by header
        for i in (3, 4, 5, 6):
            rb = router.chat(chat_body("gpt-4o-mini", user=f"u{i}"))
            self.assertEqual(rb.header("x-switchyard-arm"), arms[f"u{i}"])
        # serve uses the same planner as explain
        for i in (1, 2, 3, 4, 5, 6, 7, 8):
            out = subprocess.run([harness.switchyard_bin(), "explain", router.policy_path,
                                  "--model", "gpt-4o-mini", "--user", f"u{i}", "--json"],
                                 capture_output=True, timeout=10, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(json.loads(out.stdout)["arm"], arms[f"u{i}"], f"u{i}")

    def test_long_sticky_keys_read_whole_like_explain(self):
        """serve reads a sticky key whole, however long, from a header or a body string,
        as explain does: both name the same arm (it used to cut headers at 255 bytes and
        drop body values of 256 bytes or more)."""
        mock, router = self.start_pair(endpoints=("st",), canary_endpoints=("cn",), percent=50)
        for n in (255, 256, 300, 4000):
            for i in range(6):
                user = (f"long-{i}-" + "x" * n)[:n]
                out = subprocess.run([harness.switchyard_bin(), "explain", router.policy_path,
                                      "--model", "gpt-4o-mini", "--user", user, "--json"],
                                     capture_output=True, timeout=10, text=True)
                self.assertEqual(out.returncode, 0, out.stderr)
                want = json.loads(out.stdout)["arm"]
                r = router.chat(chat_body("gpt-4o-mini"), headers={"x-user-id": user})
                self.assertEqual(r.header("x-switchyard-arm"), want, f"header, {n} bytes")
                r = router.chat(chat_body("gpt-4o-mini", user=user))
                self.assertEqual(r.header("x-switchyard-arm"), want, f"body, {n} bytes")

    def test_headers_read_after_a_large_body_arrived(self):
        """The body of a large request arrives after its head was parsed and makes the
        read buffer grow (move): the sticky header is still read right (the parsed head
        used to keep pointing into the old buffer)."""
        mock, router = self.start_pair(endpoints=("st",), canary_endpoints=("cn",), percent=50)
        for i in range(8):
            user = f"big-{i}"
            out = subprocess.run([harness.switchyard_bin(), "explain", router.policy_path,
                                  "--model", "gpt-4o-mini", "--user", user, "--json"],
                                 capture_output=True, timeout=10, text=True)
            want = json.loads(out.stdout)["arm"]
            body = chat_body("gpt-4o-mini", content="x" * (40000 + 9000 * i))
            body = body if isinstance(body, bytes) else body.encode()
            s, f = self.connect(router.port)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n"
                      b"Content-Type: application/json\r\nx-user-id: " + user.encode() +
                      b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
            time.sleep(0.05)  # the head is parsed alone
            for k in range(0, len(body), 7000):
                s.sendall(body[k:k + 7000])
            resp = harness.read_raw_response(f)
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(resp.header("x-switchyard-arm"), want, f"{user}: {len(body)} bytes")


if __name__ == "__main__":
    harness.main()
