"""test_kit.py - the monitoring kit, checked with Prometheus' own tools.

- `promtool check rules` on monitoring/alerts.yml and recording.yml: no error
  and no lint warning;
- `promtool test rules` on every monitoring/tests/*.yml (alerts on synthetic
  series), and every alert has at least one case where it fires;
- every alert has a severity, a summary and a description; every
  recording-rule name the alerts and the dashboard read is defined;
- the Grafana dashboard: valid JSON with the panels the issue asks for, every
  query parses as PromQL (promtool, on a generated rule file), rollbacks are
  annotated from switchyard_rollbacks_total.
Exits 77 (skipped) only when promtool is not installed.
"""

import glob
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kit  # noqa: E402

PROMTOOL = kit.promtool_or_skip()


def clean_check(test, argv):
    """Runs a promtool check; fails on a non-zero exit and on any warning."""
    code, out = kit.run([PROMTOOL] + argv)
    test.assertEqual(code, 0, f"{' '.join(argv)}:\n{out}")
    bad = [l for l in out.splitlines() if l.strip() and not (
        l.startswith("Checking ") or "SUCCESS" in l)]
    test.assertEqual(bad, [], f"{' '.join(argv)} printed more than success:\n{out}")


class Rules(unittest.TestCase):
    def test_check_rules_is_clean(self):
        clean_check(self, ["check", "rules", kit.RECORDING, kit.ALERTS])

    def test_unit_tests_pass(self):
        files = sorted(glob.glob(os.path.join(kit.RULE_TESTS_DIR, "*.yml")))
        self.assertTrue(files, "no rule unit tests in monitoring/tests")
        code, out = kit.run([PROMTOOL, "test", "rules"] + files, timeout=120)
        self.assertEqual(code, 0, out)
        self.assertIn("SUCCESS", out)

    def test_every_alert_has_a_firing_case(self):
        alerts = {r["alert"] for r in kit.rules(kit.ALERTS) if "alert" in r}
        want = {"SwitchyardDown", "SwitchyardAbsent", "SwitchyardP95AboveThreshold",
                "Switchyard5xxRising", "Switchyard429Rising", "SwitchyardUpstream429Rising",
                "SwitchyardUpstream5xxRising", "SwitchyardBreakerOpened",
                "SwitchyardProviderDown", "SwitchyardRollback", "SwitchyardBudget80Percent",
                "SwitchyardBudgetExhausted",
                "SwitchyardSharedStateDown"}  # several instances: their Redis is away
        self.assertEqual(alerts, want, "the alerts the issues ask for, no more, no less")
        fired, quiet = set(), set()
        for path in glob.glob(os.path.join(kit.RULE_TESTS_DIR, "*.yml")):
            for t in kit.load_yaml(path).get("tests") or []:
                for case in t.get("alert_rule_test") or []:
                    (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
        self.assertEqual(alerts - fired, set(), "alerts without a unit test where they fire")
        self.assertEqual(alerts - quiet, set(), "alerts without a unit test where they stay quiet")

    def test_alerts_say_what_and_how_bad(self):
        for r in kit.rules(kit.ALERTS):
            self.assertIn(r.get("labels", {}).get("severity"), ("warning", "critical"), r)
            ann = r.get("annotations", {})
            self.assertTrue(ann.get("summary"), r)
            self.assertTrue(ann.get("description"), r)

    def test_recorded_names_used_are_defined(self):
        recorded = {r["record"] for r in kit.rules(kit.RECORDING)}
        used = set()
        for r in kit.rules(kit.ALERTS) + kit.rules(kit.RECORDING):
            used |= {n for n in kit.series_names(r["expr"]) if ":" in n}
        for _, e in kit.dashboard_exprs(kit.load_dashboard()):
            used |= {n for n in kit.series_names(e) if ":" in n}
        self.assertEqual(used - recorded, set(), "recording rules read but not defined")
        # and nothing is recorded that no one reads
        self.assertEqual(recorded - used, set(), "recording rules nobody reads")

    def test_name_extraction(self):
        self.assertEqual(kit.series_names(
            'sum by (arm, le) (rate(switchyard_x_bucket{arm!="",code=~"5..|429"}[5m]))'
            ' or a:b:c * 0 > on() group_left() up{job="x"}'),
            {"switchyard_x_bucket", "a:b:c", "up"})


class Dashboard(unittest.TestCase):
    def setUp(self):
        self.dash = kit.load_dashboard()

    def test_structure(self):
        d = self.dash
        self.assertTrue(d.get("title"))
        self.assertTrue(d.get("uid"))
        ids = [p["id"] for p in kit.dashboard_panels(d)]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        var = [v for v in d["templating"]["list"] if v["name"] == "datasource"]
        self.assertEqual(len(var), 1)
        self.assertEqual(var[0]["type"], "datasource")
        self.assertEqual(var[0]["query"], "prometheus")
        for p in kit.dashboard_panels(d):
            if p["type"] == "row":
                continue
            for k in ("x", "y", "w", "h"):
                self.assertIn(k, p["gridPos"], p["title"])
            self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
            self.assertTrue(p.get("targets"), p["title"])

    def test_has_the_panels_the_issue_asks_for(self):
        titles = [p["title"].lower() for p in kit.dashboard_panels(self.dash)]
        text = json.dumps(self.dash)

        def has(*words):
            return any(all(w in t for w in words) for t in titles)
        self.assertTrue(has("requests", "arm"))
        self.assertTrue(has("success", "arm"))
        self.assertTrue(has("p95", "endpoint"))
        self.assertTrue(has("rollout share"))
        self.assertTrue(has("breaker"))
        self.assertTrue(has("health"))
        self.assertTrue(has("retries"))
        self.assertTrue(has("fallbacks"))
        self.assertTrue(has("tokens", "model"))
        self.assertTrue(has("cost", "model"))
        self.assertTrue(has("overhead"))
        for metric in ("rollout_percent", "breaker_state", "endpoint_healthy", "retries_total",
                       "fallbacks_total", "overhead_seconds", "tokens", "cost_usd"):
            self.assertIn(metric, text)

    def test_rollbacks_are_annotated(self):
        ann = [a for a in self.dash["annotations"]["list"] if a.get("expr")]
        self.assertTrue(any("switchyard_rollbacks_total" in a["expr"] and a.get("enable")
                            for a in ann), ann)

    def test_every_query_parses(self):
        """Each expression, Grafana variables replaced, becomes a recording rule
        in a scratch file; promtool check rules parses them all."""
        exprs = kit.dashboard_exprs(self.dash)
        self.assertGreater(len(exprs), 15)
        lines = ["groups:", "  - name: dashboard", "    rules:"]
        for i, (_, e) in enumerate(exprs):
            lines.append(f"      - record: dashboard:query_{i}")
            lines.append(f"        expr: {json.dumps(kit.grafana_to_promql(e))}")
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
            fh.write("\n".join(lines) + "\n")
            path = fh.name
        try:
            code, out = kit.run([PROMTOOL, "check", "rules", path])
            where = "\n".join(f"  {i}: {w}: {e}" for i, (w, e) in enumerate(exprs))
            self.assertEqual(code, 0, f"{out}\nqueries:\n{where}")
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
