"""test_live_metrics.py - a live /metrics, checked with promtool and against the kit.

The real switchyard and the mock upstream (tests/integration/harness.py). The
scrape is checked with `promtool check metrics` (Debian's prometheus package):
the test fails on any error and on any lint warning it prints.

- At start-up, before any request: every arm, endpoint and model of the policy
  is there at 0, endpoint_healthy is 1 for every endpoint (none has a
  health_check), breakers closed with no opens, retry budgets unspent.
- After traffic of every kind (plain, stream, canary, a 400 passed through, a
  retry, an upstream 429, every route failing, a model fallback, a cut stream,
  the local rate limit's 429, an unknown path, an admin rollback): promtool is
  still clean, the counts are right, and every metric the alert rules, the
  recording rules and the dashboard read is on /metrics, except the ones in
  kit.NOT_YET_EXPORTED, which must be absent (see kit.py).
- A reload that drops an endpoint and adds one: the new one is seeded, the
  dropped one no longer claims to be healthy.
Exits 77 (skipped) only when promtool is not installed.
"""

import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kit  # noqa: E402

PROMTOOL = kit.promtool_or_skip()
sys.path.insert(0, os.path.join(kit.source_root(), "tests", "integration"))
import harness  # noqa: E402
from harness import ADMIN_KEY, IntegrationCase, chat_body, policy_yaml, stream_request  # noqa: E402

# spec.md, "Metrics (Prometheus)": every name it fixes.
SPEC_METRICS = {
    "switchyard_requests_total", "switchyard_request_duration_seconds",
    "switchyard_upstream_ttfb_seconds", "switchyard_overhead_seconds",
    "switchyard_retries_total", "switchyard_fallbacks_total", "switchyard_breaker_state",
    "switchyard_breaker_opens_total", "switchyard_endpoint_healthy",
    "switchyard_rollout_percent", "switchyard_rollbacks_total", "switchyard_tokens_total",
    "switchyard_cost_usd_total", "switchyard_rate_limited_total",
    "switchyard_retry_budget_exhausted_total", "switchyard_requests_without_usage_total",
    "switchyard_budget_spent_usd", "switchyard_budget_limit_usd",
}
BURST = 100  # local rate limit: the traffic below stays under it until the 429 step
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
MODELS = ("gpt-4.1", "gpt-4o-mini", "other")


def kit_metrics():
    """Every metric name (not recording rule, not `up`) the rules and the dashboard read."""
    names = set()
    for r in kit.rules(kit.ALERTS) + kit.rules(kit.RECORDING):
        names |= kit.series_names(r["expr"])
    for _, e in kit.dashboard_exprs(kit.load_dashboard()):
        names |= kit.series_names(e)
    hist = {"switchyard_request_duration_seconds", "switchyard_upstream_ttfb_seconds",
            "switchyard_overhead_seconds"}
    return {kit.metric_family(n, hist) for n in names if ":" not in n and n != "up"}


def value(fams, name, **labels):
    """Sum of the samples of family `name` (exact sample name) whose labels include `labels`."""
    fam = kit.metric_family(name, {n for n, f in fams.items() if f["type"] == "histogram"})
    return sum(v for n, lb, v in fams.get(fam, {}).get("samples", [])
               if n == name and all(lb.get(k) == x for k, x in labels.items()))


def has(fams, name, **labels):
    fam = kit.metric_family(name, {n for n, f in fams.items() if f["type"] == "histogram"})
    return any(n == name and all(lb.get(k) == x for k, x in labels.items())
               for n, lb, _ in fams.get(fam, {}).get("samples", []))


class LiveMetrics(IntegrationCase):
    def scrape(self, router):
        r = router.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        text = r.body.decode()
        code, out = kit.run([PROMTOOL, "check", "metrics"], stdin=r.body)
        self.assertEqual(code, 0, f"promtool check metrics failed:\n{out}\n---\n{text}")
        self.assertEqual(out.strip(), "", f"promtool check metrics complained:\n{out}\n---\n{text}")
        return kit.parse_exposition(text), text

    def start(self, endpoints=("r1", "r2")):
        mock = self.start_mock()
        extra = (f"rate_limit: {{rps: 0.001, burst: {BURST}}}\n"
                 "budget: {monthly_usd: 1000, on_exceed: alert}\n")
        policy = policy_yaml(mock.port, endpoints=endpoints, percent=50, extra=extra)
        return mock, self.start_router(policy)

    def test_start_up_series_are_zero_and_nothing_is_made_up(self):
        mock, router = self.start()
        fams, text = self.scrape(router)
        for arm, prov, eps in (("stable", "primary", ("r1", "r2")), ("canary", "relay", ("hs1",))):
            for ep in eps:
                for model in MODELS:
                    self.assertTrue(has(fams, "switchyard_requests_total", arm=arm, provider=prov,
                                        endpoint=ep, model=model, code="200"),
                                    f"{arm}/{prov}/{ep}/{model} not seeded:\n{text}")
                self.assertTrue(has(fams, "switchyard_request_duration_seconds_count", arm=arm,
                                    provider=prov, endpoint=ep))
                self.assertTrue(has(fams, "switchyard_upstream_ttfb_seconds_count",
                                    provider=prov, endpoint=ep))
                self.assertEqual(value(fams, "switchyard_endpoint_healthy", provider=prov,
                                       endpoint=ep), 1)
        self.assertEqual(value(fams, "switchyard_requests_total"), 0)
        self.assertTrue(has(fams, "switchyard_fallbacks_total", from_model="gpt-4.1",
                            to_model="gpt-4o-mini"))
        self.assertTrue(has(fams, "switchyard_cost_usd_total", model="gpt-4.1"))
        self.assertTrue(has(fams, "switchyard_rollbacks_total", reason="admin"))
        self.assertEqual(value(fams, "switchyard_rollout_percent"), 50)
        for prov, ep in (("primary", "r1"), ("primary", "r2"), ("relay", "hs1")):
            self.assertEqual(value(fams, "switchyard_breaker_state", provider=prov, endpoint=ep), 0)
            self.assertEqual(value(fams, "switchyard_breaker_opens_total", provider=prov,
                                   endpoint=ep), 0)
        for prov in ("primary", "relay"):
            self.assertEqual(value(fams, "switchyard_retry_budget_exhausted_total", provider=prov), 0)
            for model in MODELS:
                self.assertTrue(has(fams, "switchyard_requests_without_usage_total", provider=prov,
                                    model=model), f"{prov}/{model} without_usage not seeded")
        self.assertEqual(value(fams, "switchyard_budget_limit_usd"), 1000)
        self.assertEqual(value(fams, "switchyard_budget_spent_usd"), 0)

    def test_traffic_of_every_kind_then_promtool_and_the_kit(self):
        mock, router = self.start()
        proxied = 0

        def chat(body=None, headers=None, want=200):
            nonlocal proxied
            proxied += 1
            r = router.chat(body, headers=headers)
            self.assertEqual(r.status, want, r)
            return r

        # plain and streamed, on both arms (users found by the arm header)
        chat()
        stream_request(router.port, "/v1/chat/completions", chat_body(stream=True))
        proxied += 1
        arms = {}
        for i in range(40):
            r = chat(headers={"x-user-id": f"user-{i}"})
            arms.setdefault(r.header("x-switchyard-arm"), f"user-{i}")
            if len(arms) == 2:
                break
        self.assertEqual(set(arms), {"stable", "canary"})
        res, _ = stream_request(router.port, "/v1/chat/completions", chat_body(stream=True),
                                headers={"x-user-id": arms["canary"]})
        proxied += 1
        self.assertEqual(res.header("x-switchyard-arm"), "canary")
        # a client error passed through
        mock.control("r1", {"fail_next": 1, "error_status": 400})
        chat(want=400)
        # a retry: r1 503 once, r2 answers
        mock.control("r1", {"fail_next": 1, "error_status": 503})
        chat()
        # an upstream 429, absorbed by a retry
        mock.control("r1", {"fail_next": 1, "error_status": 429})
        chat()
        # every route fails: the client gets a 5xx
        mock.control("r1", {"fail_next": 50, "error_status": 503})
        mock.control("r2", {"fail_next": 50, "error_status": 503})
        r = router.chat()
        proxied += 1
        self.assertIn(r.status, (502, 503, 504), r)
        mock.control("r1", {})
        mock.control("r2", {})
        # a model fallback: gpt-4.1's route fails three times, gpt-4o-mini answers
        mock.control("r1", {"fail_next": 2, "error_status": 503})
        mock.control("r2", {"fail_next": 2, "error_status": 503})
        r = chat(chat_body(model="gpt-4.1"))
        self.assertEqual(r.header("x-switchyard-model"), "gpt-4o-mini", r)
        mock.control("r1", {})
        mock.control("r2", {})
        # a stream cut by the upstream
        mock.control("r1", {"truncate_after": 2})
        stream_request(router.port, "/v1/chat/completions", chat_body(stream=True))
        proxied += 1
        mock.control("r1", {})
        # an unknown path, answered by switchyard itself
        self.assertEqual(router.get("/v1/nope").status, 404)
        # the admin rolls the canary back
        r = router.post("/admin/rollout", {"action": "rollback"}, headers=ADMIN)
        self.assertEqual(r.status, 200, r)
        self.assertLess(proxied, BURST)
        # the local rate limit: spend the burst until a 429
        limited = None
        for _ in range(BURST + 10):
            r = router.chat()
            if r.status == 429:
                limited = r
                break
            self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(limited, "the local rate limit never answered 429")
        self.assertTrue(limited.header("retry-after"))

        fams, text = self.scrape(router)
        self.assertGreater(value(fams, "switchyard_requests_total", arm="canary", code="200"), 0)
        self.assertGreater(value(fams, "switchyard_requests_total", arm="stable", code="200"), 0)
        self.assertEqual(value(fams, "switchyard_requests_total", code="400"), 1, text)
        self.assertEqual(value(fams, "switchyard_requests_total", arm="", code="429"), 1, text)
        self.assertEqual(value(fams, "switchyard_requests_total", arm="", code="404"), 1, text)
        self.assertGreaterEqual(sum(value(fams, "switchyard_requests_total", code=c)
                                    for c in ("502", "503", "504")), 2, text)  # failed + cut
        self.assertEqual(value(fams, "switchyard_rate_limited_total"), 1)
        self.assertEqual(value(fams, "switchyard_rollbacks_total", reason="admin"), 1)
        self.assertEqual(value(fams, "switchyard_rollout_percent"), 0)
        self.assertEqual(value(fams, "switchyard_fallbacks_total", from_model="gpt-4.1",
                               to_model="gpt-4o-mini"), 1, text)
        self.assertGreaterEqual(value(fams, "switchyard_upstream_attempts_total", code="429"), 1)
        self.assertGreaterEqual(value(fams, "switchyard_retries_total", reason="503"), 1, text)
        self.assertGreater(value(fams, "switchyard_tokens_total", kind="input"), 0)
        # the cut stream: answered, billed upstream, no usage
        self.assertGreaterEqual(value(fams, "switchyard_requests_without_usage_total",
                                      provider="primary"), 1, text)
        self.assertGreater(value(fams, "switchyard_overhead_seconds_count"), 0)
        self.assertGreater(value(fams, "switchyard_upstream_ttfb_seconds_count"), 0)

        # the kit and spec.md against what is exported
        wanted = kit_metrics() | SPEC_METRICS
        stale = set(kit.NOT_YET_EXPORTED) - wanted
        self.assertEqual(stale, set(), "NOT_YET_EXPORTED names metrics nothing uses")
        for name in sorted(wanted):
            if name in kit.NOT_YET_EXPORTED:
                self.assertNotIn(name, fams,
                                 f"{name} is exported now: remove it from kit.NOT_YET_EXPORTED")
            elif name in kit.ONLY_WITH_SHARED_STATE:
                self.assertNotIn(name, fams, f"{name} without shared_state")
            else:
                self.assertIn(name, fams, f"{name} is used by the kit or spec.md but not exported")
                self.assertTrue(fams[name]["samples"], f"{name} has no sample after the traffic")

    def test_reload_seeds_new_endpoints_and_drops_removed_ones(self):
        mock, router = self.start(endpoints=("r1", "r2"))
        self.assertEqual(router.chat().status, 200)
        policy = policy_yaml(mock.port, endpoints=("r1", "r3"), percent=50)
        self.write("policy.yaml", policy)
        router.signal(signal.SIGHUP)

        def reloaded():
            fams, _ = self.scrape(router)
            return fams if has(fams, "switchyard_endpoint_healthy", endpoint="r3") else None
        fams = harness.wait_for(reloaded, 10.0, interval=0.1, what="r3 on /metrics after SIGHUP")
        self.assertEqual(value(fams, "switchyard_endpoint_healthy", provider="primary",
                               endpoint="r3"), 1)
        self.assertTrue(has(fams, "switchyard_requests_total", arm="stable", endpoint="r3",
                            model="gpt-4o-mini", code="200"))
        # r2 is gone from the policy: it must not stay "healthy"
        self.assertFalse(has(fams, "switchyard_endpoint_healthy", endpoint="r2"))
        # counters keep what they counted
        self.assertEqual(value(fams, "switchyard_requests_total", endpoint="r1", code="200"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
