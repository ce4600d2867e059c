#!/usr/bin/env python3
"""Several instances sharing one rollout, rate limit and budget through Redis (issue 11).

A real redis-server (Debian's package) is started by each test on a free loopback
port, without persistence, and stopped by its PID; three switchyard instances and
the mock upstream run beside it. Scenarios: a canary outage seen by all three is one
rollback, counted once, on every instance within about a second; an admin rollback
through one instance reaches the others; Redis killed under load fails no request
and the fleet rejoins when it is back (a rollback made meanwhile wins); the fleet's
rate limit holds within 10 % at three instances; the month's spend is the fleet's
on each instance; the Responses API's id map reaches the other instances; and the
policy's shared_state is checked (the password never printed); rediss:// (TLS) works.

Time bounds are generous (a loaded two-core machine); propagation itself is
measured and must stay within about a second.
"""

import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import unittest

import harness
from harness import ADMIN_KEY, IntegrationCase, Proc, chat_body, policy_yaml, wait_for

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
REDIS_BIN = shutil.which("redis-server")
REDIS_PASSWORD = "redis-pw-3e9d1c"
DB = 2  # the routers' URL selects it: a database other than 0 is part of the test


class Redis(Proc):
    """redis-server on a given loopback port, no persistence, password set."""

    def __init__(self, workdir, port, name="redis", tls=None):
        self.port = port
        argv = [REDIS_BIN, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--requirepass", REDIS_PASSWORD, "--protected-mode", "no"]
        if tls:  # a TLS port too (rediss://): (port, cert, key, ca)
            self.tls_port = tls[0]
            argv += ["--tls-port", str(tls[0]), "--tls-cert-file", tls[1], "--tls-key-file",
                     tls[2], "--tls-ca-cert-file", tls[3], "--tls-auth-clients", "no"]
        super().__init__(name, argv, workdir)

    def wait_ready(self):
        def up():
            if not self.alive():
                raise AssertionError("redis-server exited; stderr:\n" + self.stdout()[-3000:])
            return self.cli("PING") == "PONG"
        wait_for(up, harness.READY_TIMEOUT, interval=0.05, what="redis-server PING")

    def cli(self, *args):
        """One command over a raw socket (RESP), returning a str, int, list or None."""
        import socket
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            def enc(*a):
                out = f"*{len(a)}\r\n"
                for x in a:
                    x = str(x)
                    out += f"${len(x.encode())}\r\n{x}\r\n"
                return out.encode()
            s.sendall(enc("AUTH", REDIS_PASSWORD) + enc("SELECT", DB) + enc(*args))
            f = s.makefile("rb")

            def read():
                line = f.readline().decode().rstrip("\r\n")
                t, rest = line[0], line[1:]
                if t == "+":
                    return rest
                if t == "-":
                    raise AssertionError("redis error: " + rest)
                if t == ":":
                    return int(rest)
                if t == "$":
                    n = int(rest)
                    if n < 0:
                        return None
                    data = f.read(n + 2)[:-2]
                    return data.decode()
                if t == "*":
                    n = int(rest)
                    return None if n < 0 else [read() for _ in range(n)]
                raise AssertionError("bad RESP line " + line)
            try:
                read()  # AUTH
                read()  # SELECT
                return read()
            finally:
                f.close()


def fleet_policy(mock_port, *, percent=50, rollback=None, extra="", **kw):
    """harness.policy_yaml with a rollout and shared_state from ${SY_REDIS_URL}."""
    text = policy_yaml(mock_port, percent=percent, **kw)
    if rollback is not None:
        text += "  rollback:\n" + "".join(f"    {k}: {v}\n" for k, v in rollback.items())
    text += "shared_state:\n  url: ${SY_REDIS_URL}\n  timeout: 300ms\n"
    return text + extra


class Load:
    """Client threads on keep-alive connections spread over several routers; each
    records every status. Requests carry random user ids (both arms get traffic)."""

    def __init__(self, ports, threads_per_port=2, limit=1_000_000, pause=0.0):
        self.lock = threading.Lock()
        self.statuses = {}
        self.errors = []
        self.count = 0
        self.limit = limit
        self.pause = pause
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(p, i), daemon=True)
                        for p in ports for i in range(threads_per_port)]
        self.t0 = time.monotonic()
        for t in self.threads:
            t.start()

    def _run(self, port, n):
        rnd = random.Random(port * 100 + n)
        conn = None
        while not self.stopping.is_set():
            with self.lock:
                if self.count >= self.limit:
                    break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", "/v1/chat/completions", body=chat_body(),
                             headers={"Content-Type": "application/json",
                                      "x-user-id": f"user-{rnd.randrange(1_000_000)}"})
                r = conn.getresponse()
                r.read()
                with self.lock:
                    self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                    self.count += 1
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors.append(f"{port}: {e!r}")
                if conn is not None:
                    conn.close()
                conn = None
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()

    def stop(self):
        # The load ends when the threads are told to stop, not when the last
        # one has come back (on a loaded machine that may take a second or
        # two, with no request sent meanwhile).
        self.t1 = time.monotonic()
        self.stopping.set()
        for t in self.threads:
            t.join(15)
        return dict(self.statuses)


def status(router):
    r = router.get("/admin/status", headers=ADMIN)
    if r.status != 200:
        raise AssertionError(f"/admin/status: {r}")
    return r.json()


def metric(router, name):
    """The sum of every series of name in /metrics (0 when absent)."""
    total = 0.0
    for line in router.get("/metrics").body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.split()[-1])
    return total


def admin(router, action, percent=None):
    body = {"action": action}
    if percent is not None:
        body["percent"] = percent
    return router.post("/admin/rollout", body, headers=ADMIN)


@unittest.skipUnless(REDIS_BIN, "redis-server is not installed (Debian: apt-get install redis-server)")
class SharedStateCase(IntegrationCase):
    def start_redis(self, port=None, tls=None):
        r = Redis(self.workdir, port or harness.free_port(), tls=tls)
        self.procs.insert(0, r)  # stopped last (teardown goes in reverse)
        r.wait_ready()
        return r

    def kill_redis(self, redis):
        """SIGKILL by PID: Redis goes away at once, as in a crash."""
        os.kill(redis.pid, signal.SIGKILL)
        redis.wait(5)

    def start_fleet(self, policy_text, redis, n=3, workers=1, env=None):
        path = self.write("policy.yaml", policy_text)
        env = env or {"SY_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis.port}/{DB}"}
        routers = []
        for i in range(n):
            r = harness.Router(self.workdir, path, env_extra=env, name=f"router{i + 1}",
                               wait_ready=False, workers=workers)
            self.procs.append(r)
            routers.append(r)
        for r in routers:
            r.wait_ready()
        # Connected and registered with one another.
        wait_for(lambda: all(status(r)["shared_state"]["connected"] for r in routers), 10,
                 interval=0.05, what="every instance connected to Redis")
        return routers

    def assertNoSecret(self, routers):
        for r in routers:
            for text in (r.stdout(), r.stderr(), json.dumps(status(r))):
                self.assertNotIn(REDIS_PASSWORD, text)

    # ------------------------------------------------------------ the rollout

    def test_canary_outage_is_one_rollback_everywhere(self):
        redis = self.start_redis()
        mock = self.start_mock()
        routers = self.start_fleet(fleet_policy(mock.port, percent=50, rollback={
            "success_rate_below": "99%", "window": "4s", "min_requests": 40}), redis)
        for r in routers:
            st = status(r)
            self.assertEqual(st["rollout"]["percent"], 50, st)
            self.assertEqual(st["shared_state"]["url"], f"redis://127.0.0.1:{redis.port}/2")
        load = Load([r.port for r in routers], threads_per_port=2)
        try:
            time.sleep(0.5)
            mock.control("hs1", {"error_rate": 0.5, "error_status": 500})
            seen = {}

            def all_rolled_back():
                now = time.monotonic()
                for i, r in enumerate(routers):
                    if i not in seen and status(r)["rollout"]["percent"] == 0:
                        seen[i] = now
                return len(seen) == len(routers)
            wait_for(all_rolled_back, 20, interval=0.05, what="every instance rolled back")
        finally:
            statuses = load.stop()
        spread = max(seen.values()) - min(seen.values())
        print(f"rollback seen on every instance within {spread:.2f} s")
        # One tick to write, one to read: about 0.4 s; generous for a loaded machine.
        self.assertLess(spread, 1.5, f"instances rolled back {spread:.2f} s apart: {seen}")
        counted = sum(metric(r, 'switchyard_rollbacks_total{reason="success_rate"}') for r in routers)
        self.assertEqual(counted, 1, "one rollback for the fleet, counted once")
        for r in routers:
            ro = status(r)["rollout"]
            self.assertEqual(ro["state"], "rolled_back", ro)
            self.assertEqual(ro["last_change"]["reason"], "success_rate", ro)
        # The fleet decided on the merged windows: the figures hold more attempts
        # than min_requests, from all three instances' traffic.
        self.assertGreater(statuses.get(200, 0), 0, statuses)
        self.assertEqual(load.errors, [])
        self.assertNoSecret(routers)

    def test_admin_action_on_one_instance_reaches_all(self):
        redis = self.start_redis()
        mock = self.start_mock()
        routers = self.start_fleet(fleet_policy(mock.port, percent=20), redis)
        t0 = time.monotonic()
        r = admin(routers[1], "rollback")
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: all(status(x)["rollout"]["state"] == "rolled_back" for x in routers), 5,
                 interval=0.05, what="the admin rollback on every instance")
        self.assertLess(time.monotonic() - t0, 2.0, "the rollback took too long to spread")
        for x in routers:
            self.assertEqual(status(x)["rollout"]["percent"], 0)
        self.assertEqual(sum(metric(x, 'switchyard_rollbacks_total{reason="admin"}') for x in routers), 1)
        # resume through another instance: everyone back at 20 %
        self.assertEqual(admin(routers[2], "resume").status, 200)
        wait_for(lambda: all(status(x)["rollout"]["percent"] == 20 for x in routers), 5,
                 interval=0.05, what="resume on every instance")
        # set through the first: 35 %, then pause through the second
        self.assertEqual(admin(routers[0], "set", 35).status, 200)
        wait_for(lambda: all(status(x)["rollout"]["percent"] == 35 for x in routers), 5,
                 interval=0.05, what="set on every instance")
        self.assertEqual(admin(routers[1], "pause").status, 200)
        wait_for(lambda: all(status(x)["rollout"]["state"] == "paused" for x in routers), 5,
                 interval=0.05, what="pause on every instance")
        # A fourth instance started now starts from the fleet's state.
        late = harness.Router(self.workdir, routers[0].policy_path, name="router4",
                              env_extra={"SY_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis.port}/{DB}"})
        self.procs.append(late)
        ro = status(late)["rollout"]
        self.assertEqual((ro["percent"], ro["state"]), (35, "paused"), ro)

    def make_certs(self, name="localhost"):
        """A CA and a server certificate for `name` (openssl): (ca, cert, key)."""
        d = self.workdir
        ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
        cert, key, csr = (os.path.join(d, f) for f in ("srv.pem", "srv.key", "srv.csr"))
        ext = self.write("san.ext", f"subjectAltName=DNS:{name}\n")
        run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=60)
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", ca_key, "-out", ca)
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", key,
            "-out", csr)
        run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
            "-extfile", ext, "-out", cert)
        return ca, cert, key

    def test_rediss_over_tls(self):
        """rediss://: the fleet shares its rollout through Redis over TLS (the server's
        certificate checked against SSL_CERT_FILE and the host name); with a CA the
        client does not trust, it stays away and says why, and requests are served."""
        ca, cert, key = self.make_certs()
        tls_port = harness.free_port()
        redis = self.start_redis(tls=(tls_port, cert, key, ca))
        mock = self.start_mock()
        env = {"SY_REDIS_URL": f"rediss://:{REDIS_PASSWORD}@localhost:{tls_port}/{DB}",
               "SSL_CERT_FILE": ca}
        routers = self.start_fleet(fleet_policy(mock.port, percent=20), redis, n=2, env=env)
        self.assertEqual(admin(routers[0], "rollback").status, 200)
        wait_for(lambda: all(status(x)["rollout"]["state"] == "rolled_back" for x in routers), 5,
                 interval=0.05, what="the admin rollback on both instances, over TLS")
        self.assertEqual(redis.cli("HGET", "switchyard:rollout:integ-rollout", "state"), "rolled_back")
        shown = status(routers[1])["shared_state"]["url"]
        self.assertTrue(shown.startswith("rediss://"), shown)
        self.assertNoSecret(routers)
        # Not trusted: another CA in SSL_CERT_FILE.
        other_ca, _, _ = self.make_certs_other()
        bad = harness.Router(self.workdir, routers[0].policy_path, name="untrusting",
                             env_extra=dict(env, SSL_CERT_FILE=other_ca))
        self.procs.append(bad)
        wait_for(lambda: (status(bad)["shared_state"].get("last_error") or "") != "", 5,
                 interval=0.05, what="a TLS error in /admin/status")
        st = status(bad)["shared_state"]
        self.assertFalse(st["connected"], st)
        self.assertIn("TLS", st["last_error"], st)
        self.assertEqual(bad.chat().status, 200, "requests are served while Redis is away")
        self.assertNotIn(REDIS_PASSWORD, json.dumps(st))

    def make_certs_other(self):
        d = os.path.join(self.workdir, "other")
        os.makedirs(d, exist_ok=True)
        ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=other-ca", "-keyout", ca_key, "-out", ca],
                       check=True, capture_output=True, timeout=60)
        return ca, None, None

    def test_redis_killed_under_load(self):
        port = harness.free_port()
        redis = self.start_redis(port)
        mock = self.start_mock()
        routers = self.start_fleet(fleet_policy(mock.port, percent=30), redis)
        load = Load([r.port for r in routers], threads_per_port=2, pause=0.002)
        try:
            time.sleep(0.7)
            self.kill_redis(redis)
            wait_for(lambda: not any(status(r)["shared_state"]["connected"] for r in routers), 5,
                     interval=0.05, what="every instance to see Redis away")
            for r in routers:
                st = status(r)
                self.assertEqual(st["rollout"]["percent"], 30, "the last state known serves on")
                self.assertTrue(st["shared_state"]["last_error"], st["shared_state"])
                self.assertEqual(metric(r, "switchyard_shared_state_up"), 0)
                self.assertGreater(metric(r, "switchyard_shared_state_errors_total"), 0)
            # Without Redis: no change but a rollback (the safe direction), applied locally.
            refused = admin(routers[0], "set", 60)
            self.assertEqual(refused.status, 503, refused)
            self.assertEqual(refused.json()["error"]["code"], "shared_state_unavailable")
            self.assertEqual(admin(routers[0], "rollback").status, 200)
            self.assertEqual(status(routers[0])["rollout"]["percent"], 0)
            self.assertEqual(status(routers[1])["rollout"]["percent"], 30)
            time.sleep(1.0)
            # Back on the same port, empty (no persistence): the fleet fills it again,
            # and the rollback made meanwhile wins.
            redis2 = self.start_redis(port)
            wait_for(lambda: all(status(r)["shared_state"]["connected"] for r in routers), 15,
                     interval=0.1, what="every instance reconnected")
            wait_for(lambda: all(status(r)["rollout"]["state"] == "rolled_back" for r in routers), 5,
                     interval=0.05, what="the rollback made while Redis was away, on every instance")
            time.sleep(0.5)
        finally:
            statuses = load.stop()
        self.assertEqual(load.errors, [], "no request may fail because of Redis")
        self.assertEqual(set(statuses), {200}, statuses)
        self.assertGreater(statuses[200], 100, statuses)
        self.assertEqual(sum(metric(r, 'switchyard_rollbacks_total{reason="admin"}') for r in routers), 1)
        for r in routers:
            self.assertEqual(metric(r, "switchyard_shared_state_up"), 1)
        self.assertEqual(redis2.cli("HGET", "switchyard:rollout:integ-rollout", "state"), "rolled_back")
        self.assertNoSecret(routers)

    def test_promotion_happens_once_for_the_fleet(self):
        redis = self.start_redis()
        mock = self.start_mock()
        text = fleet_policy(mock.port, percent=10, rollback={
            "success_rate_below": "90%", "window": "2s", "min_requests": 20})
        text = text.replace("    percent: 10\n", "    steps: [10, 30, 60]\n    step_after: 2s\n")
        routers = self.start_fleet(text, redis)
        load = Load([r.port for r in routers], threads_per_port=1, pause=0.002)
        try:
            wait_for(lambda: all(status(r)["rollout"]["percent"] == 30 for r in routers), 20,
                     interval=0.1, what="the first promotion on every instance")
        finally:
            load.stop()
        version = int(redis.cli("HGET", "switchyard:rollout:integ-rollout", "version"))
        record = json.loads(redis.cli("HGET", "switchyard:rollout:integ-rollout", "record"))
        self.assertIn(record["rollout"]["share"], (30, 60), record)
        promoted = sum(1 for r in routers for line in r.stderr().splitlines()
                       if "rollout (fleet)" in line and "promoted 10% -> 30%" in line)
        self.assertLessEqual(promoted, 3, "each instance applies the step once")
        # Start (1) and one write per step: never two writes for one step.
        self.assertLessEqual(version, 1 + (2 if record["rollout"]["share"] == 60 else 1), record)

    # ------------------------------------------------------ rate limit, budget

    def test_fleet_rate_limit_within_ten_percent(self):
        redis = self.start_redis()
        mock = self.start_mock()
        rps, burst = 40, 40
        routers = self.start_fleet(fleet_policy(mock.port, percent=0, extra=(
            f"rate_limit: {{rps: {rps}, burst: {burst}}}\n")), redis)
        load = Load([r.port for r in routers], threads_per_port=2)
        time.sleep(6.0)
        statuses = load.stop()
        elapsed = load.t1 - load.t0
        admitted = statuses.get(200, 0)
        expected = rps * elapsed + burst
        self.assertGreater(statuses.get(429, 0), admitted, "the load must be well over the limit")
        self.assertLess(abs(admitted - expected) / expected, 0.10,
                        f"admitted {admitted} in {elapsed:.2f} s, expected {expected:.0f}: {statuses}")
        print(f"fleet rate limit: admitted {admitted} in {elapsed:.2f} s, expected {expected:.0f} "
              f"({100 * (admitted - expected) / expected:+.1f} %); refused {statuses.get(429, 0)}")
        # Every instance took part.
        for r in routers:
            self.assertGreater(metric(r, "switchyard_requests_total"), 0)
        self.assertEqual(load.errors, [])

    def test_budget_is_the_fleets(self):
        redis = self.start_redis()
        mock = self.start_mock()
        routers = self.start_fleet(fleet_policy(mock.port, percent=0, extra=(
            "budget: {monthly_usd: 0.0001, on_exceed: reject}\n")), redis)
        # gpt-4o-mini at 0.15 / 0.60 USD per million: the mock reports 18 prompt and 7
        # completion tokens for this body, so each request costs 6.9e-6 USD.
        for i, n in enumerate((1, 2, 3)):
            for _ in range(n):
                r = routers[i].chat()
                self.assertEqual(r.status, 200, r)
        want = 6 * 6.9e-6
        key = f"switchyard:budget:{time.strftime('%Y-%m', time.gmtime())}"

        def fleet_total_everywhere():
            raw = redis.cli("GET", key)
            vals = [metric(r, "switchyard_budget_spent_usd") for r in routers]
            return raw and all(abs(v - want) < 1e-9 for v in vals) and vals
        wait_for(fleet_total_everywhere, 5, interval=0.05,
                 what=f"the fleet's spend {want} on every instance")
        self.assertAlmostEqual(int(redis.cli("GET", key)) / 1e9, want, places=12)
        # Spend past the limit through one instance: every instance refuses.
        for _ in range(40):
            if routers[0].chat().status == 429:
                break
        def all_refuse():
            return all(r.chat().status == 429 for r in routers)
        wait_for(all_refuse, 5, interval=0.1, what="every instance refusing on the fleet's spend")
        err = routers[2].chat().json()["error"]
        self.assertEqual(err["code"], "insufficient_quota", err)

    # -------------------------------------------------------- Responses API

    def test_response_ids_reach_every_instance(self):
        redis = self.start_redis()
        mock = self.start_mock()
        routers = self.start_fleet(fleet_policy(mock.port, percent=100), redis)
        first = routers[0].post("/v1/responses", {"model": "gpt-4o-mini", "input": "Hello"},
                                headers={"x-user-id": "alice"})
        if first.status == 404:
            self.skipTest("this build does not serve /v1/responses yet")
        self.assertEqual(first.status, 200, first)
        rid = first.json()["id"]
        served_by = first.header("x-switchyard-endpoint") or first.header("x-mock-endpoint")
        # Roll back through another instance: the arm says stable now.
        self.assertEqual(admin(routers[1], "rollback").status, 200)
        wait_for(lambda: all(status(r)["rollout"]["percent"] == 0 for r in routers), 5,
                 interval=0.05, what="rollback everywhere")
        # The entry reached Redis and every instance's map.
        wait_for(lambda: redis.cli("EXISTS", f"switchyard:resp:{rid}") == 1, 5, interval=0.05,
                 what="the id in Redis")
        mock.reset_stats()
        nxt = routers[2].post("/v1/responses", {"model": "gpt-4o-mini", "input": "And then?",
                                                "previous_response_id": rid},
                              headers={"x-user-id": "alice"})
        self.assertEqual(nxt.status, 200, nxt)
        self.assertEqual(mock.requests_to("hs1"), 1, f"the continuation must reach the canary "
                                                     f"region that holds {rid} ({served_by})")


class ValidateCase(IntegrationCase):
    """shared_state in `switchyard validate` (no Redis needed)."""

    def validate(self, text, env=None):
        path = self.write("p.yaml", text)
        e = dict(os.environ)
        e.update(harness.SECRET_ENV)
        e.update(env or {})
        p = subprocess.run([harness.switchyard_bin(), "validate", path], capture_output=True,
                           text=True, env=e, timeout=30)
        return p.returncode, p.stdout + p.stderr

    def test_urls(self):
        base = policy_yaml(9, canary=False)
        ok = base + "shared_state:\n  url: ${SY_REDIS_URL}\n"
        rc, out = self.validate(ok, {"SY_REDIS_URL": "redis://:s3cr3t-pw-x@cache.internal:6380/3"})
        self.assertEqual(rc, 0, out)
        self.assertNotIn("s3cr3t-pw-x", out)
        rc, out = self.validate(ok, {"SY_REDIS_URL": "rediss://:s3cr3t-pw-x@cache:6380"})
        self.assertEqual(rc, 0, out)  # TLS (through the relay: router/shared/tls_relay.h)
        self.assertNotIn("s3cr3t-pw-x", out)
        for bad in ("http://cache:6379", "redis://cache:99999", "redis://cache/x",
                    "redis://s3cr3t-pw-x@cache", "redis://:s3cr3t-pw-x@cache?db=2"):
            rc, out = self.validate(ok, {"SY_REDIS_URL": bad})
            self.assertEqual(rc, 1, (bad, out))
            self.assertIn("shared_state.url", out)
            self.assertNotIn("s3cr3t-pw-x", out, bad)
        # Written into the policy: a warning, and the password hidden in the excerpt.
        rc, out = self.validate(base + "shared_state:\n  url: redis://:s3cr3t-pw-x@cache:6379\n")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("s3cr3t-pw-x", out)
        self.assertIn("prefer ${VAR}", out)
        # Keys, prefix and timeout.
        rc, out = self.validate(base + "shared_state:\n  url: redis://cache\n  prefx: a\n")
        self.assertEqual(rc, 1, out)
        self.assertIn("prefix", out)
        rc, out = self.validate(base + "shared_state:\n  url: redis://cache\n  prefix: \"a b\"\n")
        self.assertEqual(rc, 1, out)
        rc, out = self.validate(base + "shared_state:\n  url: redis://cache\n  timeout: 30s\n")
        self.assertEqual(rc, 1, out)
        rc, out = self.validate(base + "shared_state:\n  prefix: x\n")
        self.assertEqual(rc, 1, out)
        self.assertIn("url", out)

    def test_example_policy(self):
        """examples/several-instances/policy.yaml (the Compose example's) is valid."""
        path = os.path.join(harness.source_root(), "examples", "several-instances", "policy.yaml")
        env = {k: "placeholder-value-1234" for k in (
            "OPENAI_API_KEY", "HOLYSHEEP_API_KEY", "SWITCHYARD_CLIENT_KEYS", "SWITCHYARD_ADMIN_KEY")}
        env["SWITCHYARD_REDIS_URL"] = "redis://:pw-example-77@redis:6379/0"
        e = dict(os.environ)
        e.update(env)
        p = subprocess.run([harness.switchyard_bin(), "validate", path], capture_output=True,
                           text=True, env=e, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("pw-example-77", p.stdout + p.stderr)


if __name__ == "__main__":
    harness.main()
