#!/usr/bin/env python3
"""`switchyard simulate`: the real binary on real policies and scenarios (docs/simulate.md).

Same seed, same bytes; another seed, another run; the --json shape spec.md fixes; a canary
at 5 % errors rolled back within one window of reaching min_requests with no client
failure while fallback_to_stable is on; a canary whose P95 climbs past p95_above rolled
back; a healthy canary not rolled back; steps promoted; a bad scenario refused with
FILE:LINE:COL errors; --replay of an access log; the example scenario in policies/ run
with no API key set."""

import datetime
import json
import os
import re
import shutil
import subprocess

import harness
from harness import IntegrationCase

RUN_TIMEOUT = 300  # a sanitizer build on a loaded 2-core box; a run takes about a second
EVENT_TYPES = {"rollback", "promote", "pause", "breaker_open", "breaker_close",
               "endpoint_down", "endpoint_up"}  # (and resume, set: from a scenario's actions)


def migration_policy(rollback="{success_rate_below: 99.5%, p95_above: 500ms, window: 1m, "
                              "min_requests: 100}",
                     percent=50, steps="", fallback="true"):
    """Stable `a`, canary `b` (two regions), both on the openai plugin; no real key needed."""
    return f"""version: 1
server: {{access_log: off}}
providers:
  a:
    plugin: openai
    api_key: ${{SY_SIM_TEST_UNSET_KEY}}
    endpoints: [{{name: global, base_url: 'https://a.example.test/v1'}}]
  b:
    plugin: openai
    api_key: ${{SY_SIM_TEST_UNSET_KEY}}
    endpoints:
      - {{name: r1, base_url: 'https://r1.b.example.test/v1', priority: 1}}
      - {{name: r2, base_url: 'https://r2.b.example.test/v1', priority: 2}}
retry: {{max_attempts: 2, backoff: {{base: 100ms, max: 1s}}}}
migration:
  stable: a
  canary: b
  rollout: {{percent: {percent}{steps}}}
  fallback_to_stable: {fallback}
  rollback: {rollback}
"""


class Simulate(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.root = harness.source_root()
        self.example_policy = os.path.join(self.root, "policies", "holysheep-migration.yaml")
        self.example_scenario = os.path.join(self.root, "policies",
                                             "scenario-holysheep-bad-day.yaml")

    def sim(self, policy, scenario, *args, env_extra=None, cwd=None, expect_rc=0):
        env = dict(os.environ)
        for k in ("OPENAI_API_KEY", "HOLYSHEEP_API_KEY", "SWITCHYARD_CLIENT_KEYS",
                  "SWITCHYARD_ADMIN_KEY", "SY_SIM_TEST_UNSET_KEY"):
            env.pop(k, None)
        env.update(env_extra or {})
        cmd = [harness.switchyard_bin(), "simulate", policy]
        if scenario is not None:
            cmd += ["--scenario", scenario]
        cmd += list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd or self.workdir,
                           timeout=RUN_TIMEOUT)
        bad = harness.sanitizer_report(p.stderr)
        self.assertIsNone(bad, p.stderr)
        if expect_rc is not None:
            self.assertEqual(p.returncode, expect_rc,
                             f"{' '.join(cmd)}\nstdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
        return p

    def sim_json(self, policy, scenario, *args, **kw):
        p = self.sim(policy, scenario, "--json", *args, **kw)
        try:
            return json.loads(p.stdout)
        except ValueError:
            self.fail(f"--json printed no JSON:\n{p.stdout[:2000]}")

    def events(self, doc, kind):
        return [e for e in doc["events"] if e["type"] == kind]

    # ------------------------------------------------------------- determinism
    def test_same_seed_same_bytes_other_seed_other_run(self):
        runs = [self.sim(self.example_policy, self.example_scenario, "--json", "--seed", s).stdout
                for s in ("7", "7", "8")]
        self.assertEqual(runs[0], runs[1], "the same seed must give byte-identical output")
        self.assertNotEqual(runs[0], runs[2], "another seed must give another run")
        text = [self.sim(self.example_policy, self.example_scenario).stdout for _ in range(2)]
        self.assertEqual(text[0], text[1], "the text report too (default seed)")
        self.assertIn("seed      1", text[0])

    # ------------------------------------------------------------- the example
    def test_example_bad_day_without_keys(self):
        # A copy next to which a state file would appear if simulate touched it.
        pol = os.path.join(self.workdir, "holysheep-migration.yaml")
        shutil.copy(self.example_policy, pol)
        doc = self.sim_json(pol, self.example_scenario,
                            env_extra={"SWITCHYARD_PLUGIN_PATH": os.environ["SWITCHYARD_PLUGIN_PATH"]})
        s = doc["summary"]
        self.assertGreater(s["requests"], 80000)   # 50/s for 30 minutes
        self.assertEqual(s["client_failures"], 0, "fallback_to_stable keeps every client answered")
        rb = self.events(doc, "rollback")
        self.assertEqual(len(rb), 1, doc["events"])
        self.assertEqual(rb[0]["reason"], "success_rate")
        self.assertGreater(rb[0]["t"], 600, "healthy for the first ten minutes")
        self.assertLess(rb[0]["t"], 600 + 300, "rolled back within one window of going bad")
        self.assertEqual(s["final_share"], 0)
        down = self.events(doc, "endpoint_down")
        self.assertTrue(any(e["endpoint"] == "cn-east" and 1200 <= e["t"] <= 1500 for e in down),
                        doc["events"])
        self.assertFalse(os.path.exists(os.path.join(self.workdir, "switchyard.state")),
                         "simulate must not write the policy's state_file")

    def test_secrets_never_printed(self):
        secret = "sk-sim-secret-3f9d1c"
        env = {"OPENAI_API_KEY": secret, "HOLYSHEEP_API_KEY": secret}
        for args in ((), ("--json",)):
            p = self.sim(self.example_policy, self.example_scenario, *args, env_extra=env)
            self.assertNotIn(secret, p.stdout + p.stderr)

    # ---------------------------------------------------------------- --json
    def test_json_shape(self):
        doc = self.sim_json(self.example_policy, self.example_scenario)
        for k in ("summary", "events", "timeline", "seed", "policy", "scenario"):
            self.assertIn(k, doc)
        s = doc["summary"]
        for k in ("requests", "client_failures", "upstream_attempts", "retries", "fallbacks"):
            self.assertIsInstance(s[k], int, k)
            self.assertGreaterEqual(s[k], 0, k)
        self.assertIsInstance(s["final_share"], (int, float))
        self.assertGreaterEqual(s["upstream_attempts"], s["requests"] - s.get("rate_limited", 0))
        ts = [e["t"] for e in doc["events"]]
        self.assertEqual(ts, sorted(ts), "events in time order")
        for e in doc["events"]:
            self.assertIn(e["type"], EVENT_TYPES, e)
            self.assertIsInstance(e["t"], (int, float))
            if e["type"] == "rollback":
                for k in ("reason", "value", "threshold"):
                    self.assertIn(k, e)
                self.assertIn(e["reason"], ("success_rate", "p95", "admin"))
            if e["type"].startswith(("breaker", "endpoint")):
                self.assertTrue(e["provider"] and e["endpoint"], e)
        self.assertTrue(doc["timeline"])
        self.assertEqual(sum(r["requests"] for r in doc["timeline"]), s["requests"])

    # ------------------------------------------------------------- rollbacks
    def write_scenario(self, text, name="scenario.yaml"):
        return self.write(name, text)

    def test_canary_at_5pct_errors_rolls_back_within_a_window(self):
        pol = self.write("policy.yaml", migration_policy())
        scn = self.write_scenario("""duration: 10m
timeline: 5s
traffic: {rate: 20, users: 2000, models: {gpt-4o-mini: 1}, stream_share: 0.3}
outcomes:
  a: [{from: 0s, error_rate: 0, latency: {p50: 200ms, p95: 400ms}}]
  b: [{from: 0s, error_rate: 0.05, status: 503, latency: {p50: 80ms, p95: 200ms}}]
""")
        for seed in ("1", "2", "3"):
            doc = self.sim_json(pol, scn, "--seed", seed)
            rb = self.events(doc, "rollback")
            self.assertEqual(len(rb), 1, doc["events"])
            self.assertEqual(rb[0]["reason"], "success_rate")
            self.assertLess(rb[0]["value"], rb[0]["threshold"])
            self.assertEqual(rb[0]["threshold"], 99.5)
            self.assertGreaterEqual(rb[0]["requests"], 100, "never on fewer than min_requests")
            # When the canary's attempts first reached min_requests (rows of 5 s).
            seen, reached = 0, None
            for row in doc["timeline"]:
                seen += row["canary"]["attempts"]
                if seen >= 100:
                    reached = row["t"]
                    break
            self.assertIsNotNone(reached)
            self.assertLessEqual(rb[0]["t"], reached + 60,
                                 f"seed {seed}: rolled back at {rb[0]['t']} s, min_requests "
                                 f"reached by {reached} s, window 60 s")
            self.assertEqual(doc["summary"]["client_failures"], 0,
                             "fallback_to_stable: no client request failed")
            self.assertEqual(doc["summary"]["final_share"], 0)
            after = [r for r in doc["timeline"] if r["t"] > rb[0]["t"] + 5]
            self.assertTrue(after and all(r["share"] == 0 for r in after))

    def test_p95_above_threshold_rolls_back(self):
        pol = self.write("policy.yaml", migration_policy())
        scn = self.write_scenario("""duration: 10m
traffic: {rate: 20, users: 2000, models: {gpt-4o-mini: 1}}
outcomes:
  a: [{from: 0s, latency: {p50: 200ms, p95: 400ms}}]
  b:
    - {from: 0s, latency: {p50: 100ms, p95: 250ms}}
    - {from: 3m, latency: {p50: 400ms, p95: 1500ms}}
""")
        doc = self.sim_json(pol, scn)
        rb = self.events(doc, "rollback")
        self.assertEqual(len(rb), 1, doc["events"])
        self.assertEqual(rb[0]["reason"], "p95")
        self.assertGreater(rb[0]["t"], 180)
        self.assertLess(rb[0]["t"], 180 + 60 + 30)
        self.assertEqual(rb[0]["threshold"], 500)

    def test_healthy_canary_is_not_rolled_back(self):
        # 0.2 % errors, over 10,000 canary requests a run.
        pol = self.write("policy.yaml", migration_policy(
            rollback="{success_rate_below: 99.5%, window: 5m, min_requests: 200}"))
        scn = self.write_scenario("""duration: 20m
traffic: {rate: 20, users: 5000, models: {gpt-4o-mini: 1}}
outcomes:
  b: [{from: 0s, error_rate: 0.002, status: 503}]
""")
        for seed in ("1", "2", "3"):
            doc = self.sim_json(pol, scn, "--seed", seed)
            self.assertGreater(doc["summary"]["arms"]["canary"]["requests"], 10000)
            self.assertEqual(self.events(doc, "rollback"), [], f"seed {seed}")
            self.assertEqual(doc["summary"]["final_share"], 50)

    def test_steps_promote_while_healthy_and_stop_on_a_bad_window(self):
        pol = self.write("policy.yaml", migration_policy(
            percent=10, steps=", steps: [10, 25, 50, 100], step_after: 2m",
            rollback="{success_rate_below: 99%, window: 1m, min_requests: 50}"))
        scn = self.write_scenario("""duration: 12m
traffic: {rate: 20, users: 5000, models: {gpt-4o-mini: 1}}
outcomes:
  b: [{from: 0s, error_rate: 0}, {from: 5m, error_rate: 0.2, status: 500}]
""")
        doc = self.sim_json(pol, scn)
        promos = self.events(doc, "promote")
        self.assertGreaterEqual(len(promos), 1, doc["events"])
        self.assertEqual(promos[0]["from"], 10)
        self.assertEqual(promos[0]["to"], 25)
        self.assertGreaterEqual(promos[0]["t"], 120, "not before step_after")
        self.assertTrue(all(p["t"] < 300 + 60 for p in promos), "no promotion on a bad window")
        rb = self.events(doc, "rollback")
        self.assertEqual(len(rb), 1, doc["events"])
        self.assertGreater(rb[0]["t"], 300)

    def test_actions_rehearse_the_rollback_drill(self):
        pol = self.write("policy.yaml", migration_policy(percent=10))
        scn = self.write_scenario("""duration: 10m
traffic: {rate: 20, users: 2000, models: {gpt-4o-mini: 1}}
outcomes:
  b: [{from: 0s, error_rate: 0}]
actions:
  - {at: 2m, action: rollback}
  - {at: 3m, action: pause}
  - {at: 4m, action: resume}
  - {at: 5m, action: set, percent: 30}
  - {at: 6m, action: pause}
""")
        doc = self.sim_json(pol, scn)
        got = [(e["t"], e["type"], e["from"], e["to"]) for e in doc["events"]]
        self.assertEqual(got, [(120, "rollback", 10, 0), (240, "resume", 0, 10),
                               (300, "set", 10, 30), (360, "pause", 30, 30)],
                         "the pause while rolled back is refused, as the admin API refuses it")
        self.assertEqual(doc["events"][0]["reason"], "admin")
        self.assertIsNone(doc["events"][0]["value"])
        self.assertEqual(doc["summary"]["final_share"], 30)
        shares = {r["t"]: r["share"] for r in doc["timeline"]}
        self.assertEqual(shares[180], 0)
        self.assertEqual(shares[540], 30)
        # No canary request while rolled back (minutes 2 to 4): the row of minute 3 to 4.
        self.assertEqual([r["canary"]["attempts"] for r in doc["timeline"] if r["t"] == 240], [0])

    # ------------------------------------------------------------- bad input
    def test_bad_scenario_exits_1_with_places(self):
        pol = self.write("policy.yaml", migration_policy())
        scn = self.write_scenario("""duration: 10q
traffic: {rate: 20, modles: {m: 1}}
outcomes:
  c: [{from: 0s, error_rate: 2}]
  b/r9: [{from: 0s, outage: 1m}]
""", name="bad.yaml")
        p = self.sim(pol, scn, expect_rc=1)
        self.assertEqual(p.stdout, "", "nothing simulated")
        err = p.stderr
        for want in (r"bad\.yaml:1:11: error: `duration`",
                     r"bad\.yaml:2:21: error: `traffic`: unknown key `modles`; did you mean `models`\?",
                     r"bad\.yaml:4:3: error: `outcomes`: the policy has no provider `c`",
                     r"bad\.yaml:4:30: error: `outcomes\.c\[0\]\.error_rate`",
                     r"bad\.yaml:5:3: error: `outcomes`: provider `b` has no endpoint `r9`"):
            self.assertRegex(err, want)
        self.assertIn("invalid scenario", err)

    def test_bad_policy_and_usage(self):
        scn = self.write_scenario("duration: 1m\ntraffic: {rate: 1, models: {m: 1}}\n")
        pol = self.write("bad-policy.yaml", "version: 1\nproviders: {}\nretyr: {}\n")
        p = self.sim(pol, scn, expect_rc=1)
        self.assertRegex(p.stderr, r"bad-policy\.yaml:\d+:\d+: error: ")
        self.sim(pol, None, expect_rc=2)                       # no --scenario
        good = self.write("policy.yaml", migration_policy())
        self.sim(good, scn, "--seed", "minus-one", expect_rc=2)
        self.sim(good, scn, "--frobnicate", expect_rc=2)
        p = self.sim(good, os.path.join(self.workdir, "missing.yaml"), expect_rc=1)
        self.assertIn("missing.yaml", p.stderr)

    # ----------------------------------------------------------------- replay
    def test_replay_takes_the_traffic_from_an_access_log(self):
        start = datetime.datetime(2026, 3, 10, 9, 0, 0, tzinfo=datetime.timezone.utc)
        lines, arrivals = [], []
        for i in range(900):
            at = start + datetime.timedelta(milliseconds=100 * i)   # 10/s for 90 s
            lat = 50 + (i * 37) % 700
            end = at + datetime.timedelta(milliseconds=lat)
            arrivals.append(100 * i)
            lines.append(json.dumps({
                "ts": end.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (end.microsecond // 1000),
                "request_id": f"req-{i}", "method": "POST", "path": "/v1/chat/completions",
                "arm": "stable", "provider": "a", "endpoint": "global",
                "model": "gpt-4o-mini" if i % 3 else "gpt-4.1", "model_served": "gpt-4o-mini",
                "status": 200, "attempts": 1, "stream": i % 2 == 0, "latency_ms": lat,
                "ttfb_ms": lat / 2}))
        lines.insert(10, json.dumps({"ts": "2026-03-10T09:00:01.000Z", "path": "/v1/models",
                                     "method": "GET", "model": ""}))
        lines.insert(20, "{not json")
        log = self.write("access.log", "\n".join(lines) + "\n")
        pol = self.write("policy.yaml", migration_policy(percent=20))
        scn = self.write_scenario("""timeline: 30s
traffic: {users: 100}
outcomes:
  b: [{from: 0s, error_rate: 0.2, status: 503}]
""")
        doc = self.sim_json(pol, scn, "--replay", log)
        self.assertEqual(doc["summary"]["requests"], 900)
        self.assertAlmostEqual(doc["duration_s"], 89.901, places=2)
        self.assertEqual(doc["replay"], log)
        rows = doc["timeline"]
        # Rows count requests as they end: 10 per second arrive (at ts - latency_ms).
        for r in rows[:2]:
            self.assertTrue(295 <= r["requests"] <= 305, rows)
        self.assertTrue(self.events(doc, "rollback"), "20 % errors on the canary")
        again = self.sim(pol, scn, "--replay", log, "--json").stdout
        self.assertEqual(json.dumps(doc, sort_keys=True), json.dumps(json.loads(again), sort_keys=True))
        p = self.sim(pol, scn, "--replay", log)
        self.assertRegex(p.stderr, r"access\.log:21: warning: 1 line could not be read")
        # Without --replay the scenario must give the traffic itself.
        p = self.sim(pol, scn, expect_rc=1)
        self.assertIn("needs `duration`", p.stderr)
        p = self.sim(pol, scn, "--replay", os.path.join(self.workdir, "none.log"), expect_rc=1)
        self.assertIn("none.log", p.stderr)


if __name__ == "__main__":
    harness.main()
