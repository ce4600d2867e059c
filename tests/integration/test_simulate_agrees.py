#!/usr/bin/env python3
"""simulate predicts serve (issue 8): the same policy and the same bad canary, once for
real (the binary, the mock upstream, a paced client) and once simulated; the rollback
must come within one window of each other.

The real run sends a fixed rate of requests, every user on the canary (percent 100);
the canary endpoint answers 5 % of them with 503. The scenario gives simulate the same
rate, users and outcomes. Both count the same attempts (retries of the canary's route
included) into the same controller, so their rollback moments differ only by chance
and by the real run's timing: a window's length is the documented tolerance."""

import json
import os
import subprocess
import threading
import time

import harness
from harness import ADMIN_KEY, IntegrationCase, chat_body, policy_yaml

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
RATE = 100          # requests per second, both runs
WINDOW_S = 3
ERROR_RATE = 0.05


def policy(mock_port):
    text = policy_yaml(mock_port, percent=100)
    text += ("  rollback:\n    success_rate_below: 99%\n    min_requests: 100\n"
             f"    window: {WINDOW_S}s\n")
    return text


class Paced:
    """Requests at RATE per second from a few threads, each on its own schedule,
    until stop()."""

    def __init__(self, port, rate, threads=4):
        self.port, self.period = port, threads / rate
        self.stopping = threading.Event()
        self.sent = 0
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, n):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        next_at = self.t0 + n * self.period / len(self.threads)
        i = 0
        while not self.stopping.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at += self.period
            i += 1
            try:
                conn.request("POST", "/v1/chat/completions", body=chat_body("gpt-4o-mini"),
                             headers={"Content-Type": "application/json",
                                      "x-user-id": f"u{n}-{i}"})
                conn.getresponse().read()
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            with self.lock:
                self.sent += 1

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)


class SimulateAgreesWithServe(IntegrationCase):
    def test_rollback_moment_within_one_window(self):
        mock = self.start_mock()
        text = policy(mock.port)
        router = self.start_router(text)
        mock.control("hs1", {"error_rate": ERROR_RATE, "error_status": 503})
        load = Paced(router.port, RATE)
        t_real = None
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                st = router.get("/admin/status", headers=ADMIN).json()
                if st["rollout"]["percent"] == 0:
                    t_real = time.monotonic() - load.t0
                    break
                time.sleep(0.05)
        finally:
            load.stop()
        self.assertIsNotNone(t_real, "serve did not roll the bad canary back within 30 s")

        scenario = self.path("agree.yaml")
        with open(scenario, "w") as f:
            f.write(f"duration: 30s\n"
                    f"traffic: {{rate: {RATE}, users: 100000, models: {{gpt-4o-mini: 1}}, "
                    f"stream_share: 0}}\n"
                    "outcomes:\n"
                    "  primary: [{from: 0s, error_rate: 0, latency: {p50: 2ms, p95: 5ms}}]\n"
                    f"  relay: [{{from: 0s, error_rate: {ERROR_RATE}, status: 503, "
                    "latency: {p50: 2ms, p95: 5ms}}]\n")
        times = []
        for seed in (1, 2, 3):
            p = subprocess.run([harness.switchyard_bin(), "simulate", router.policy_path,
                                "--scenario", scenario, "--seed", str(seed), "--json"],
                               capture_output=True, text=True, timeout=120,
                               env=dict(os.environ))
            self.assertEqual(p.returncode, 0, p.stderr)
            events = json.loads(p.stdout)["events"]
            rollbacks = [e for e in events if e["type"] == "rollback"]
            self.assertTrue(rollbacks, f"simulate predicted no rollback (seed {seed}): {events}")
            times.append(rollbacks[0]["t"])
        t_sim = sorted(times)[1]  # the median of three seeds
        print(f"serve rolled back at {t_real:.2f} s; simulate: {times}")
        self.assertLessEqual(abs(t_real - t_sim), WINDOW_S,
                             f"serve rolled back at {t_real:.2f} s, simulate predicts "
                             f"{t_sim:.2f} s (seeds: {times}); the tolerance is one window")


if __name__ == "__main__":
    harness.main()
