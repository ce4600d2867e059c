#!/usr/bin/env python3
"""Migration control against the real binary and the mock upstream (issue 8):
automatic rollback on the canary's success rate and TTFB P95, no rollback of a
healthy canary, progressive promotion on schedule that stops on a bad window,
and the rollout's state surviving restarts (state_file), admin actions too.

Windows are short (2-3 s) and a few client threads send as fast as the router
answers, for a bounded time, so the module runs in well under a minute. Time
bounds are generous: this machine has two cores and other work on them.
"""

import json
import os
import random
import re
import signal
import threading
import time
import http.client

import harness
from harness import ADMIN_KEY, IntegrationCase, chat_body, policy_yaml, wait_for

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def rollout_policy(mock_port, *, percent=100, steps=None, step_after=None, rollback=None,
                   state_file=None, rollout_id="integ-rollout", **kw):
    """harness.policy_yaml with a canary on endpoint hs1, plus rollout steps and a
    migration.rollback section."""
    text = policy_yaml(mock_port, percent=percent, **kw)
    text = text.replace("    id: integ-rollout\n", f"    id: {rollout_id}\n")
    if steps is not None:
        text = text.replace(f"    percent: {percent}\n", "")
        extra = f"    steps: [{', '.join(str(s) for s in steps)}]\n    step_after: {step_after}\n"
        text = text.replace("    sticky_by: [header:x-user-id, body:user]\n",
                            "    sticky_by: [header:x-user-id, body:user]\n" + extra)
    if rollback is not None or state_file is not None:
        text += "  rollback:\n"
        for k, v in (rollback or {}).items():
            text += f"    {k}: {v}\n"
        if state_file is not None:
            text += f"    state_file: \"{state_file}\"\n"
    return text


class Load:
    """A few client threads on keep-alive connections, each sending chat requests
    with random user ids as fast as the router answers, until stop() or `limit`
    requests in all. Records every status and arm, and when each answer came."""

    def __init__(self, port, threads=4, limit=100000, stream=False):
        self.port = port
        self.limit = limit
        self.stream = stream
        self.lock = threading.Lock()
        self.results = []  # (t, status, arm)
        self.errors = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, n):
        conn = None
        try:
            conn = self._loop(n)
        finally:
            if conn is not None:
                conn.close()

    def _loop(self, n):
        """Returns the connection still open at the end."""
        rnd = random.Random(1000 + n)
        conn = None
        while not self.stopping.is_set():
            with self.lock:
                if len(self.results) >= self.limit:
                    return conn
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                user = f"user-{rnd.randrange(1_000_000)}"
                conn.request("POST", "/v1/chat/completions", body=chat_body(stream=self.stream),
                             headers={"Content-Type": "application/json", "x-user-id": user})
                r = conn.getresponse()
                body = r.read()
                if self.stream and b"[DONE]" not in body:
                    status = 599  # a stream that did not end cleanly
                else:
                    status = r.status
                with self.lock:
                    self.results.append((time.monotonic(), status, r.getheader("x-switchyard-arm")))
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors.append(repr(e))
                if conn is not None:
                    conn.close()
                conn = None
                if self.stopping.is_set():
                    return None
                time.sleep(0.01)
        return conn

    def count(self):
        with self.lock:
            return len(self.results)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)

    def statuses(self):
        with self.lock:
            out = {}
            for _, s, _ in self.results:
                out[s] = out.get(s, 0) + 1
            return out


def status(router):
    r = router.get("/admin/status", headers=ADMIN)
    if r.status != 200:
        raise AssertionError(f"/admin/status: {r}")
    return r.json()["rollout"]


def metric(router, name, labels):
    text = router.get("/metrics").body.decode()
    want = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
    for line in text.splitlines():
        if line.startswith(name + want + " "):
            return float(line.split()[-1])
    return None


def admin(router, action, percent=None):
    body = {"action": action}
    if percent is not None:
        body["percent"] = percent
    return router.post("/admin/rollout", body, headers=ADMIN)


class Watch:
    """Polls the router and the mock every 50 ms: when the canary endpoint hs1 had
    seen `min_requests` attempts, and when the rollout was first rolled back."""

    def __init__(self, router, mock, min_requests):
        self.router, self.mock, self.min_requests = router, mock, min_requests
        self.t_min = None
        self.t_rolled_back = None
        self.shares = []  # (t, percent) at every change seen
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            try:
                now = time.monotonic()
                if self.t_min is None and self.mock.requests_to("hs1") >= self.min_requests:
                    self.t_min = now
                st = status(self.router)
                if not self.shares or self.shares[-1][1] != st["percent"]:
                    self.shares.append((now, st["percent"]))
                if st["state"] == "rolled_back" and self.t_rolled_back is None:
                    self.t_rolled_back = now
            except (OSError, AssertionError, ValueError):
                pass
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.thread.join(5)


class RolloutTest(IntegrationCase):

    def restart(self, router):
        router.signal(signal.SIGTERM)
        self.assertEqual(router.wait(10), 0, "router exit status after SIGTERM")
        return self.start_router(policy_path=router.policy_path, name=f"router{len(self.procs)}")

    def test_error_rate_rollback_within_a_window_then_a_restart_keeps_it(self):
        mock = self.start_mock(faults=["hs1:error_rate=0.05,error_status=503"])
        state = self.path("switchyard.state")
        window_s, min_requests = 3, 100
        router = self.start_router(rollout_policy(
            mock.port, percent=100, state_file=state,
            rollback={"success_rate_below": "99.5%", "p95_above": "2s", "window": f"{window_s}s",
                      "min_requests": min_requests}))
        st = status(router)
        self.assertEqual(st["state"], "progressing", st)
        self.assertEqual(st["percent"], 100)
        self.assertEqual(metric(router, "switchyard_rollbacks_total", {"reason": "success_rate"}), 0)

        watch = Watch(router, mock, min_requests)
        load = Load(router.port, threads=4)
        try:
            wait_for(lambda: watch.t_rolled_back, 30, interval=0.05, what="automatic rollback")
            # more requests after it: they all go to stable
            n = load.count()
            wait_for(lambda: load.count() >= n + 50 and time.monotonic() > watch.t_rolled_back + 0.6,
                     15, what="requests after the rollback")
        finally:
            load.stop()
            watch.stop()
        self.assertIsNotNone(watch.t_min, "the canary never saw min_requests attempts")
        delay = watch.t_rolled_back - watch.t_min
        # within one window once min_requests is reached (+ one 200 ms tick and polling)
        self.assertLess(delay, window_s + 1.5, f"rolled back {delay:.2f}s after min_requests")

        # fallback_to_stable: no client saw a failure, before or after
        self.assertEqual(load.statuses(), {200: load.count()}, load.errors[:5])
        self.assertFalse(load.errors, load.errors[:5])
        t_rb = watch.t_rolled_back
        late = [arm for t, s, arm in load.results if t > t_rb + 0.3]
        self.assertTrue(late)
        self.assertEqual(set(late), {"stable"}, "after the rollback every request is stable")

        st = status(router)
        self.assertEqual(st["state"], "rolled_back", st)
        self.assertEqual(st["percent"], 0)
        self.assertEqual(st["resume_percent"], 100)
        lc = st["last_change"]
        self.assertEqual(lc["reason"], "success_rate", lc)
        self.assertEqual(lc["threshold"], 99.5)
        self.assertLess(lc["value"], 99.5)
        self.assertGreaterEqual(lc["requests"], min_requests)
        self.assertGreater(lc["failures"], 0)
        self.assertIn("success rate", lc["message"])
        self.assertGreaterEqual(st["arms"]["canary"]["requests"], 0)
        self.assertGreater(st["arms"]["stable"]["requests"], 0)
        self.assertEqual(metric(router, "switchyard_rollbacks_total", {"reason": "success_rate"}), 1)
        self.assertEqual(metric(router, "switchyard_rollout_percent", {}), 0)
        self.assertIn("rolled back", router.stderr())

        # The state file holds it (flushed on the next tick), and a restart keeps it.
        def stored():
            with open(state) as fh:
                return json.load(fh).get("rollout", {}).get("state") == "rolled_back"
        wait_for(stored, 5, what="the rollback in the state file")
        router = self.restart(router)
        st = status(router)
        self.assertEqual(st["state"], "rolled_back", st)
        self.assertEqual(st["percent"], 0)
        self.assertEqual(st["last_change"]["reason"], "success_rate")
        for i in range(20):
            r = router.chat(headers={"x-user-id": f"after-restart-{i}"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("x-switchyard-arm"), "stable", r)
        # resume returns the share it had before the rollback
        mock.control("hs1", {})
        r = admin(router, "resume")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"percent": 100, "state": "progressing"})
        r = router.chat(headers={"x-user-id": "after-resume"})
        self.assertEqual(r.header("x-switchyard-arm"), "canary", r)

    def test_ttfb_p95_climbing_past_the_threshold_rolls_back(self):
        mock = self.start_mock()
        router = self.start_router(rollout_policy(
            mock.port, percent=100,
            rollback={"success_rate_below": "99%", "p95_above": "150ms", "latency": "ttfb",
                      "window": "2s", "min_requests": 40}))
        load = Load(router.port, threads=6)
        try:
            wait_for(lambda: mock.requests_to("hs1") >= 200, 20, what="healthy canary traffic")
            time.sleep(0.5)
            st = status(router)
            self.assertEqual(st["state"], "progressing", st)
            self.assertIsNotNone(st["arms"]["canary"]["p95_ms"])
            self.assertLess(st["arms"]["canary"]["p95_ms"], 150, st)
            mock.control("hs1", {"latency_ms": 300})
            t0 = time.monotonic()
            wait_for(lambda: status(router)["state"] == "rolled_back", 20, interval=0.05,
                     what="rollback on P95")
            took = time.monotonic() - t0
        finally:
            load.stop()
        st = status(router)
        lc = st["last_change"]
        self.assertEqual(lc["reason"], "p95", lc)
        self.assertEqual(lc["threshold"], 150)
        self.assertGreater(lc["value"], 150)
        self.assertGreaterEqual(lc["latency_samples"], 40)
        # 40 slow samples at ~20/s, then within the 2 s window (+ generous slack)
        self.assertLess(took, 10, f"P95 rollback took {took:.1f}s")
        self.assertEqual(metric(router, "switchyard_rollbacks_total", {"reason": "p95"}), 1)
        self.assertEqual(metric(router, "switchyard_rollbacks_total", {"reason": "success_rate"}), 0)
        self.assertEqual(load.statuses(), {200: load.count()})

    def test_healthy_canary_is_not_rolled_back(self):
        mock = self.start_mock(faults=["hs1:error_rate=0.002,error_status=503"])
        router = self.start_router(rollout_policy(
            mock.port, percent=100,
            rollback={"success_rate_below": "99.5%", "p95_above": "1s", "window": "2s",
                      "min_requests": 100}))
        total = 10000
        load = Load(router.port, threads=4, limit=total)
        try:
            wait_for(lambda: load.count() >= total, 90, interval=0.1, what=f"{total} requests")
        finally:
            load.stop()
        time.sleep(0.4)  # one more tick over the last window
        st = status(router)
        self.assertEqual(st["state"], "progressing", st)
        self.assertEqual(st["percent"], 100)
        self.assertGreater(mock.endpoint_stats("hs1").get("failures", 0), 0,
                           "the mock injected some errors")
        self.assertEqual(metric(router, "switchyard_rollbacks_total", {"reason": "success_rate"}), 0)
        self.assertEqual(load.statuses(), {200: load.count()})

    def test_a_canary_with_no_usable_endpoint_counts_as_failing(self):
        # hs1 fails every call; its breaker opens after 3 failures, and from then on
        # canary requests find no usable canary endpoint. Each such request counts
        # as a canary failure ("no_route"), so the rollout sees the outage although
        # few attempts reach the canary.
        mock = self.start_mock(faults=["hs1:error_rate=1.0,error_status=503"])
        router = self.start_router(rollout_policy(
            mock.port, percent=100, failure_threshold=3, max_attempts=1,
            rollback={"success_rate_below": "99%", "window": "3s", "min_requests": 60}))
        load = Load(router.port, threads=2)
        try:
            wait_for(lambda: status(router)["state"] == "rolled_back", 20, interval=0.05,
                     what="rollback on a canary with no usable endpoint")
        finally:
            load.stop()
        lc = status(router)["last_change"]
        self.assertEqual(lc["reason"], "success_rate", lc)
        self.assertGreaterEqual(lc["requests"], 60)
        self.assertLess(mock.requests_to("hs1"), 60, "most canary failures were no_route")
        self.assertEqual(load.statuses(), {200: load.count()})
        # not an upstream attempt: the metrics do not count it as one
        text = router.get("/metrics").body.decode()
        self.assertNotIn('switchyard_upstream_attempts_total{provider="relay",endpoint=""', text)
        self.assertIn('switchyard_upstream_attempts_total{provider="relay",endpoint="hs1",code="503"}',
                      text)

    def test_the_clients_own_4xx_does_not_count(self):
        mock = self.start_mock(faults=["hs1:error_rate=1.0,error_status=400"])
        router = self.start_router(rollout_policy(
            mock.port, percent=100,
            rollback={"success_rate_below": "99%", "window": "3s", "min_requests": 20}))
        load = Load(router.port, threads=2, limit=200)
        try:
            wait_for(lambda: load.count() >= 200, 20, what="200 requests")
        finally:
            load.stop()
        time.sleep(0.5)
        st = status(router)
        self.assertEqual(st["state"], "progressing", st)
        self.assertEqual(st["arms"]["canary"]["requests"], 0, st)
        self.assertEqual(list(load.statuses()), [400], "the canary's 400 reaches the client")

    def test_steps_promote_on_schedule_never_on_thin_data_and_stop_on_a_bad_window(self):
        mock = self.start_mock()
        router = self.start_router(rollout_policy(
            mock.port, steps=[10, 50, 100], step_after="2s",
            rollback={"success_rate_below": "95%", "window": "2s", "min_requests": 30}))
        st = status(router)
        self.assertEqual(st["percent"], 10, st)
        self.assertEqual(st["steps"], [10, 50, 100])
        self.assertEqual(st["next_step"], 50)
        # No traffic: step_after passes, but there is no data to promote on.
        time.sleep(3.0)
        st = status(router)
        self.assertEqual(st["percent"], 10, st)
        self.assertIn("waiting for data", st["promotion"] or "", st)

        watch = Watch(router, mock, 30)
        load = Load(router.port, threads=4)
        try:
            # With data, the step is due at once (step_after has passed).
            wait_for(lambda: status(router)["percent"] == 50, 20, interval=0.05,
                     what="promotion to 50%")
            t50 = time.monotonic()
            # The next step waits step_after (2 s) at 50%.
            time.sleep(max(0.0, t50 + 1.0 - time.monotonic()))
            st = status(router)
            self.assertEqual(st["percent"], 50, st)
            self.assertEqual(st["next_step"], 100)
            # Then the canary goes bad: the next step must not come.
            mock.control("hs1", {"error_rate": 0.5, "error_status": 503})
            wait_for(lambda: status(router)["state"] == "rolled_back", 20, interval=0.05,
                     what="rollback at 50%")
            time.sleep(2.5)  # longer than step_after: nothing more moves
        finally:
            load.stop()
            watch.stop()
        shares = [p for _, p in watch.shares]
        self.assertNotIn(100, shares, watch.shares)
        st = status(router)
        self.assertEqual(st["state"], "rolled_back", st)
        self.assertEqual(st["percent"], 0)
        self.assertEqual(st["resume_percent"], 50)
        self.assertEqual(st["last_change"]["reason"], "success_rate")
        self.assertIn("promoted 10% -> 50%", router.stderr())
        self.assertEqual(load.statuses(), {200: load.count()})

    def test_steps_reach_the_last_step_complete(self):
        mock = self.start_mock()
        router = self.start_router(rollout_policy(
            mock.port, steps=[20, 100], step_after="1s",
            rollback={"success_rate_below": "95%", "window": "1s", "min_requests": 20}))
        load = Load(router.port, threads=3)
        try:
            wait_for(lambda: status(router)["state"] == "complete", 20, interval=0.05,
                     what="the last step")
        finally:
            load.stop()
        st = status(router)
        self.assertEqual(st["percent"], 100)
        self.assertIsNone(st["next_step"])
        self.assertEqual(st["last_change"]["reason"], "promotion")

    def test_admin_actions_persist_across_restarts(self):
        mock = self.start_mock()
        state = self.path("state.json")
        text = rollout_policy(mock.port, percent=10, state_file=state,
                              rollback={"success_rate_below": "99%"})
        router = self.start_router(text)
        self.assertEqual(status(router)["percent"], 10)

        r = admin(router, "set", 30)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"percent": 30, "state": "progressing"})
        router = self.restart(router)
        st = status(router)
        self.assertEqual((st["percent"], st["state"]), (30, "progressing"), st)
        self.assertEqual(st["last_change"]["reason"], "admin")

        self.assertEqual(admin(router, "pause").status, 200)
        router = self.restart(router)
        st = status(router)
        self.assertEqual((st["percent"], st["state"]), (30, "paused"), st)

        r = admin(router, "rollback")
        self.assertEqual(r.json(), {"percent": 0, "state": "rolled_back"})
        self.assertEqual(metric(router, "switchyard_rollbacks_total", {"reason": "admin"}), 1)
        r = admin(router, "pause")
        self.assertEqual(r.status, 409, r)
        self.assertIn("rolled back", r.json()["error"]["message"])
        self.assertEqual(admin(router, "explode").status, 400)
        self.assertEqual(admin(router, "set", 101).status, 400)
        router = self.restart(router)
        st = status(router)
        self.assertEqual((st["percent"], st["state"], st["resume_percent"]), (0, "rolled_back", 30))
        r = router.chat(headers={"x-user-id": "u1"})
        self.assertEqual(r.header("x-switchyard-arm"), "stable")

        r = admin(router, "resume")
        self.assertEqual(r.json(), {"percent": 30, "state": "progressing"})
        router = self.restart(router)
        self.assertEqual(status(router)["percent"], 30)
        with open(state) as fh:
            rec = json.load(fh)["rollout"]
        self.assertEqual(rec["id"], "integ-rollout")
        self.assertEqual(rec["share"], 30)
        self.assertEqual(rec["state"], "progressing")
        self.assertIn("resumed", rec["reason"]["text"])

        # A policy with a new rollout id starts fresh at its own percent.
        self.write("policy.yaml", text.replace("id: integ-rollout", "id: integ-rollout-2"))
        router = self.restart(router)
        st = status(router)
        self.assertEqual((st["percent"], st["state"], st["id"]), (10, "progressing", "integ-rollout-2"))
        self.assertIn("new rollout id", st["last_change"]["message"])
        # ... and so does a reload (SIGHUP) with another one.
        self.write("policy.yaml", text.replace("id: integ-rollout", "id: integ-rollout-3")
                   .replace("percent: 10", "percent: 5"))
        router.signal(signal.SIGHUP)
        wait_for(lambda: status(router)["id"] == "integ-rollout-3", 10, what="the reload")
        self.assertEqual(status(router)["percent"], 5)


if __name__ == "__main__":
    harness.main()
