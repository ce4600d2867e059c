#!/usr/bin/env python3
"""A real Prometheus (Debian's package) scrapes a running switchyard.

The test starts `prometheus` on a free loopback port with a generated config
(scrape every second, storage in the test's temp dir, the kit's recording and
alert rules loaded), sends known traffic through switchyard (N stable and M
canary users at a 50% rollout, picked with `switchyard explain`), and asks
Prometheus over its HTTP API (/api/v1/query) for the request count by arm and
the rollout share: both must be what switchyard's own /metrics says. Then the
kit's rules evaluate on real data without error, and an admin rollback fires
SwitchyardRollback. Every wait is a poll with a bound; Prometheus is stopped by
PID at teardown like every other process of the harness.

Exits 77 (skipped) only when the prometheus binary is not installed.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

import harness
from harness import ADMIN_KEY, IntegrationCase, Proc, chat_body, policy_yaml

PROMETHEUS = shutil.which("prometheus")
if not PROMETHEUS:
    print("SKIP: prometheus not found (install the Debian package 'prometheus')")
    sys.exit(77)

PROM_TIMEOUT = 30.0  # start-up, first scrape, and each value to show up
N_STABLE, N_CANARY = 7, 5
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


class Prometheus(Proc):
    """prometheus on a free port, scraping one switchyard under job="switchyard"."""

    def __init__(self, workdir, target_port):
        self.port = harness.free_port()
        kit = os.path.join(harness.source_root(), "monitoring")
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w") as fh:
            fh.write("global:\n"
                     "  scrape_interval: 1s\n"
                     "  scrape_timeout: 1s\n"
                     "  evaluation_interval: 1s\n"
                     "rule_files:\n"
                     f"  - {json.dumps(os.path.join(kit, 'recording.yml'))}\n"
                     f"  - {json.dumps(os.path.join(kit, 'alerts.yml'))}\n"
                     "scrape_configs:\n"
                     "  - job_name: switchyard\n"
                     "    static_configs:\n"
                     f"      - targets: ['127.0.0.1:{target_port}']\n")
        argv = [PROMETHEUS, f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(workdir, 'prometheus-data')}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]
        super().__init__("prometheus", argv, workdir, cwd=workdir)

    def api(self, path, **params):
        q = f"{path}?{urllib.parse.urlencode(params)}" if params else path
        r = harness.request(self.port, "GET", q)
        if r.status != 200:
            raise AssertionError(f"prometheus {q}: {r}")
        doc = r.json()
        if doc.get("status") != "success":
            raise AssertionError(f"prometheus {q}: {doc}")
        return doc["data"]

    def query(self, promql):
        """{frozenset(labels.items()): float} of an instant query."""
        data = self.api("/api/v1/query", query=promql)
        return {frozenset(s["metric"].items()): float(s["value"][1]) for s in data["result"]}

    def wait_ready(self):
        def ready():
            if not self.alive():
                raise AssertionError("prometheus exited early:\n" + self.stderr()[-4000:])
            return harness.request(self.port, "GET", "/-/ready", timeout=2.0).status == 200
        harness.wait_for(ready, PROM_TIMEOUT, interval=0.2, what="prometheus /-/ready")


def by_arm(result):
    return {dict(k).get("arm"): v for k, v in result.items()}


class RealPrometheus(IntegrationCase):
    def explain_arm(self, policy_path, user):
        out = subprocess.run([harness.switchyard_bin(), "explain", policy_path, "--model",
                              "gpt-4o-mini", "--user", user, "--json"],
                             capture_output=True, text=True, timeout=30,
                             env={**os.environ, **harness.SECRET_ENV})
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)["arm"]

    def switchyard_by_arm(self, router):
        """sum by (arm) of switchyard_requests_total from switchyard's own /metrics."""
        r = router.get("/metrics")
        self.assertEqual(r.status, 200)
        counts = {}
        for name, labels, v in parse_samples(r.body.decode()):
            if name == "switchyard_requests_total" and labels.get("arm"):
                counts[labels["arm"]] = counts.get(labels["arm"], 0) + v
        return counts

    def switchyard_gauge(self, router, name):
        r = router.get("/metrics")
        vals = [v for n, _, v in parse_samples(r.body.decode()) if n == name]
        self.assertEqual(len(vals), 1, name)
        return vals[0]

    def test_prometheus_sees_what_switchyard_reports(self):
        mock = self.start_mock()
        router = self.start_router(policy_yaml(mock.port, percent=50))
        prom = Prometheus(self.workdir, router.port)
        self.procs.append(prom)
        prom.wait_ready()
        harness.wait_for(lambda: prom.query('up{job="switchyard"} == 1'), PROM_TIMEOUT,
                         interval=0.25, what="prometheus to scrape switchyard")

        # N stable and M canary users, by the same planner serve uses
        users = {"stable": [], "canary": []}
        i = 0
        while len(users["stable"]) < N_STABLE or len(users["canary"]) < N_CANARY:
            self.assertLess(i, 200, "explain never reached the wanted split at 50%")
            u = f"prom-user-{i}"
            arm = self.explain_arm(router.policy_path, u)
            want = N_STABLE if arm == "stable" else N_CANARY
            if len(users[arm]) < want:
                users[arm].append(u)
            i += 1
        for arm, us in users.items():
            for u in us:
                r = router.chat(chat_body(), headers={"x-user-id": u})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("x-switchyard-arm"), arm, u)

        own = self.switchyard_by_arm(router)
        self.assertEqual(own, {"stable": N_STABLE, "canary": N_CANARY})
        q = 'sum by (arm) (switchyard_requests_total{job="switchyard",arm!=""})'
        got = harness.wait_for(lambda: (lambda v: v if v == own else None)(by_arm(prom.query(q))),
                               PROM_TIMEOUT, interval=0.25,
                               what=f"prometheus {q} == {own} (last: {by_arm(prom.query(q))})")
        self.assertEqual(got, {"stable": N_STABLE, "canary": N_CANARY})

        # the rollout share: configured (gauge) and served (recording rule)
        q = 'switchyard_rollout_percent{job="switchyard"}'
        self.assertEqual(self.switchyard_gauge(router, "switchyard_rollout_percent"), 50)
        harness.wait_for(lambda: list(prom.query(q).values()) == [50.0], PROM_TIMEOUT,
                         interval=0.25, what=f"{q} == 50")
        served = 100.0 * N_CANARY / (N_STABLE + N_CANARY)

        def share_ok():
            v = list(prom.query("switchyard:canary_share_percent:rate5m").values())
            return len(v) == 1 and abs(v[0] - served) < 0.01
        harness.wait_for(share_ok, PROM_TIMEOUT, interval=0.25,
                         what=f"switchyard:canary_share_percent:rate5m == {served:.2f}")

        r = router.post("/admin/rollout", {"action": "set", "percent": 25}, headers=ADMIN)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.switchyard_gauge(router, "switchyard_rollout_percent"), 25)
        harness.wait_for(lambda: list(prom.query(q).values()) == [25.0], PROM_TIMEOUT,
                         interval=0.25, what=f"{q} == 25 after the admin set it")

        # every rule of the kit evaluates on real data without an error
        def rules_ok():
            groups = prom.api("/api/v1/rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            bad = [(r["name"], r.get("health"), r.get("lastError")) for r in rules
                   if r.get("health") != "ok"]
            return rules if rules and not bad else None
        rules = harness.wait_for(rules_ok, PROM_TIMEOUT, interval=0.5,
                                 what="every kit rule evaluated with health ok")
        self.assertGreater(len(rules), 20)

        # an admin rollback fires SwitchyardRollback{reason="admin"}
        r = router.post("/admin/rollout", {"action": "rollback"}, headers=ADMIN)
        self.assertEqual(r.status, 200, r)

        def rollback_alert():
            alerts = prom.api("/api/v1/alerts")["alerts"]
            return [a for a in alerts if a["labels"].get("alertname") == "SwitchyardRollback"
                    and a["labels"].get("reason") == "admin" and a["state"] == "firing"]
        harness.wait_for(rollback_alert, PROM_TIMEOUT, interval=0.5,
                         what="SwitchyardRollback firing after an admin rollback")
        harness.wait_for(lambda: list(prom.query(q).values()) == [0.0], PROM_TIMEOUT,
                         interval=0.25, what=f"{q} == 0 after the rollback")


def parse_samples(text):
    """(name, labels, value) for each sample line of the text format."""
    line_re = re.compile(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        out.append((m.group(1), dict(label_re.findall(m.group(2) or "")), float(m.group(3))))
    return out


if __name__ == "__main__":
    import unittest
    unittest.main(verbosity=2)
