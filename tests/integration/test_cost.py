"""test_cost.py - tokens, cost and the monthly budget, end to end.

The real switchyard and tools/mock-upstream, whose usage is deterministic:
prompt_tokens = the body it received / 4 (rounded down), completion_tokens 7.

- Requests of known size, streamed and not, on both providers: the tokens and
  the cost in /metrics and in the access log match the policy's prices to the
  nano-dollar, the provider's own price overriding models.prices.
- A stream whose client did not ask for usage: switchyard asks the upstream
  for it, the client gets no usage chunk, and the request is still counted;
  a client that asked gets its chunk.
- A stream the upstream cut before its usage: counted in
  switchyard_requests_without_usage_total, no cost added.
- budget.on_exceed: reject with a few cents: refused once spent (429
  insufficient_quota, nothing sent upstream), and still spent after a
  restart on the same state file.
- budget.on_exceed: alert: one log line at 80 % and one at 100 %.
"""

import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (ADMIN_KEY, PRIMARY_KEY, RELAY_KEY, IntegrationCase, chat_body,  # noqa: E402
                     secret_ref, sse_events, stream_request)

MODEL = "gpt-4o-mini"
MODEL_PRICE = (150.0, 600.0)      # models.prices: USD per million input / output tokens
PRIMARY_PRICE = (1000.0, 2000.0)  # providers.primary.prices: overrides models.prices
PRICES = {"primary": PRIMARY_PRICE, "relay": MODEL_PRICE}
COMPLETION_TOKENS = 7             # the mock's
USAGE_MEMBER = b'"stream_options":{"include_usage":true},'  # what switchyard adds to a stream


def cost(provider, input_tokens, output_tokens):
    pin, pout = PRICES[provider]
    return input_tokens * pin / 1e6 + output_tokens * pout / 1e6


def policy(mock_port, workdir, percent=50, budget="", state_file=True):
    lines = [
        "version: 1",
        "server:",
        "  listen: 127.0.0.1:1",
        f"  admin_key: {secret_ref(ADMIN_KEY)}",
        f"  access_log: \"{os.path.join(workdir, 'access.log')}\"",
        "providers:",
        "  primary:",
        "    plugin: openai",
        f"    api_key: {secret_ref(PRIMARY_KEY)}",
        f"    endpoints: [{{name: r1, base_url: \"http://127.0.0.1:{mock_port}/r1/v1\"}}]",
        "    prices:",
        f"      {MODEL}: {{input: {PRIMARY_PRICE[0]}, output: {PRIMARY_PRICE[1]}}}",
        "  relay:",
        "    plugin: holysheep",
        f"    api_key: {secret_ref(RELAY_KEY)}",
        f"    endpoints: [{{name: hs1, base_url: \"http://127.0.0.1:{mock_port}/hs1/v1\"}}]",
        "retry: {max_attempts: 1}",
        "models:",
        "  prices:",
        f"    {MODEL}: {{input: {MODEL_PRICE[0]}, output: {MODEL_PRICE[1]}}}",
        "migration:",
        "  stable: primary",
        "  canary: relay",
        f"  rollout: {{id: cost-test, percent: {percent}, sticky_by: [header:x-user-id]}}",
    ]
    if state_file:
        # state_file lives under rollback, which needs a threshold: one that never decides.
        lines.append("  rollback: {success_rate_below: 1%, min_requests: 1000000000, "
                     f"state_file: \"{os.path.join(workdir, 'state.json')}\"}}")
    return "\n".join(lines) + "\n" + budget


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, val = line.rpartition(" ")
        name, labels = head, {}
        if "{" in head:
            name, _, rest = head.partition("{")
            for part in rest.rstrip("}").split(","):
                if part:
                    k, _, v = part.partition("=")
                    labels[k] = json.loads(v)
        out[(name, frozenset(labels.items()))] = float(val)
    return out


def metric(samples, name, **labels):
    """Sum of the samples of name whose labels include labels."""
    want = set(labels.items())
    return sum(v for (n, lb), v in samples.items() if n == name and want <= set(lb))


class Cost(IntegrationCase):
    def scrape(self, router):
        r = router.get("/metrics")
        self.assertEqual(r.status, 200, r)
        return parse_metrics(r.body.decode())

    def access_log(self, n):
        """The first n access-log lines (JSON), waiting for the 200 ms flush."""
        path = self.path("access.log")

        def lines():
            if not os.path.exists(path):
                return None
            with open(path) as fh:
                got = [json.loads(line) for line in fh if line.strip()]
            return got if len(got) >= n else None
        return harness.wait_for(lines, 10.0, interval=0.05, what=f"{n} access-log lines")

    def body_bytes_seen(self, mock, endpoint):
        return int(mock.endpoint_stats(endpoint)["last_headers"]["content-length"])

    def test_tokens_and_cost_of_every_kind_of_request(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, self.workdir))
        expected = []  # (provider, input_tokens, output_tokens, stream)

        def check_sent(resp, body, extra=0):
            """What the mock saw is the client's body, plus extra bytes switchyard changed
            to ask a stream for usage; its usage is priced from that."""
            ep = {"primary": "r1", "relay": "hs1"}[resp.header("x-switchyard-provider")]
            seen = self.body_bytes_seen(mock, ep)
            self.assertEqual(seen, len(body) + extra, resp)
            expected.append((resp.header("x-switchyard-provider"), seen // 4, COMPLETION_TOKENS))

        # Plain requests of several sizes, until both arms (providers) answered.
        providers = set()
        for i in range(60):
            body = chat_body(MODEL, content="x" * (40 + 13 * i))
            r = router.chat(body, headers={"x-user-id": f"user-{i}"})
            self.assertEqual(r.status, 200, r)
            usage = r.json()["usage"]
            self.assertEqual(usage["prompt_tokens"], len(body) // 4)
            self.assertEqual(usage["completion_tokens"], COMPLETION_TOKENS)
            check_sent(r, body)
            providers.add(r.header("x-switchyard-provider"))
            if len(providers) == 2 and i >= 3:
                break
        self.assertEqual(providers, {"primary", "relay"})
        users = {}
        for p, i in ((e[0], n) for n, e in enumerate(expected)):
            users.setdefault(p, f"user-{i}")

        for prov, user in sorted(users.items()):
            # A stream whose client did not ask for usage: none reaches it.
            body = chat_body(MODEL, content="stream " * 9, stream=True)
            res, _ = stream_request(router.port, "/v1/chat/completions", body,
                                    headers={"x-user-id": user})
            self.assertEqual(res.status, 200, res)
            self.assertEqual(res.header("x-switchyard-provider"), prov)
            events = sse_events(res.body)
            self.assertEqual(events[-1].get("data"), "[DONE]", res.body)
            for e in events:
                self.assertNotIn('"usage"', e.get("data", ""), f"{prov}: usage chunk leaked")
                if e.get("data", "[DONE]") != "[DONE]":
                    self.assertTrue(json.loads(e["data"])["choices"], e)
            check_sent(res, body, len(USAGE_MEMBER))

            # The same with stream_options of its own that do not ask.
            body = chat_body(MODEL, content="own options", stream=True,
                             stream_options={"include_usage": False})
            res, _ = stream_request(router.port, "/v1/chat/completions", body,
                                    headers={"x-user-id": user})
            self.assertEqual(res.status, 200, res)
            self.assertNotIn(b'"usage"', res.body)
            check_sent(res, body, -1)  # {"include_usage":false} became ...:true}

            # stream_options twice (accepted, as ever): both are made to ask
            # (the plugin walks the body: the front's spans are not exact).
            base = chat_body(MODEL, content="twice", stream=True)
            body = base[:-1] + (b',"stream_options":{"include_usage":false}'
                                b',"stream_options":{"include_usage":false}}')
            res, _ = stream_request(router.port, "/v1/chat/completions", body,
                                    headers={"x-user-id": user})
            self.assertEqual(res.status, 200, res)
            self.assertNotIn(b'"usage"', res.body)
            check_sent(res, body, -2)

            # Where the front's spans lead the plugin (ABI 1.5): stream_options
            # before the model, whitespace around every token, look-alikes nested.
            body = (b' { "stream_options" : { "include_usage" : false } ,\n\t"messages" : '
                    b'[{"role":"user","content":"\\"model\\": 1","model":"x",'
                    b'"stream_options":{"include_usage":false}}] , "model" : "'
                    + MODEL.encode() + b'" , "stream" : true } ')
            res, _ = stream_request(router.port, "/v1/chat/completions", body,
                                    headers={"x-user-id": user})
            self.assertEqual(res.status, 200, res)
            self.assertNotIn(b'"usage"', res.body)
            check_sent(res, body, -1)

            # A client that asked gets its usage chunk, with the counts switchyard prices.
            body = chat_body(MODEL, content="asked", stream=True,
                             stream_options={"include_usage": True})
            res, _ = stream_request(router.port, "/v1/chat/completions", body,
                                    headers={"x-user-id": user})
            self.assertEqual(res.status, 200, res)
            chunks = [json.loads(e["data"]) for e in sse_events(res.body)
                      if e.get("data") and e["data"] != "[DONE]"]
            usage = [c["usage"] for c in chunks if c.get("usage")]
            self.assertEqual(usage, [{"prompt_tokens": len(body) // 4,
                                      "completion_tokens": COMPLETION_TOKENS,
                                      "total_tokens": len(body) // 4 + COMPLETION_TOKENS}])
            check_sent(res, body)

        # /metrics: tokens and cost by model, to the nano-dollar.
        want_in = sum(e[1] for e in expected)
        want_out = sum(e[2] for e in expected)
        want_cost = sum(cost(*e) for e in expected)
        samples = self.scrape(router)
        self.assertEqual(metric(samples, "switchyard_tokens_total", model=MODEL, kind="input"),
                         want_in)
        self.assertEqual(metric(samples, "switchyard_tokens_total", model=MODEL, kind="output"),
                         want_out)
        self.assertAlmostEqual(metric(samples, "switchyard_cost_usd_total", model=MODEL),
                               want_cost, delta=1e-9)
        self.assertEqual(metric(samples, "switchyard_requests_without_usage_total"), 0)
        # The provider's own price, not models.prices: both differ a lot here.
        self.assertGreater(sum(cost(*e) for e in expected if e[0] == "primary"),
                           sum(cost("relay", e[1], e[2]) for e in expected if e[0] == "primary"))

        # The access log: each request's tokens and cost.
        lines = self.access_log(len(expected))
        self.assertEqual(len(lines), len(expected))
        for line, (prov, tin, tout) in zip(lines, expected):
            self.assertEqual(line["provider"], prov, line)
            self.assertEqual((line["input_tokens"], line["output_tokens"]), (tin, tout), line)
            self.assertAlmostEqual(line["cost_usd"], cost(prov, tin, tout), delta=1e-9, msg=line)
        self.assertAlmostEqual(sum(l["cost_usd"] for l in lines), want_cost, delta=1e-6)

    def test_a_stream_cut_before_its_usage_is_counted_without_usage_never_free(self):
        mock = self.start_mock()
        router = self.start_router(policy(mock.port, self.workdir, percent=0))
        self.assertEqual(router.chat(chat_body(MODEL)).status, 200)
        before = self.scrape(router)
        mock.control("r1", {"truncate_after": 2})
        res, _ = stream_request(router.port, "/v1/chat/completions",
                                chat_body(MODEL, stream=True))
        self.assertEqual(res.status, 200)
        self.assertIn(b"stream_interrupted", res.body)
        after = self.scrape(router)
        self.assertEqual(metric(after, "switchyard_requests_without_usage_total",
                                provider="primary", model=MODEL), 1)
        self.assertEqual(metric(after, "switchyard_cost_usd_total", model=MODEL),
                         metric(before, "switchyard_cost_usd_total", model=MODEL))
        lines = self.access_log(2)
        self.assertTrue(lines[1]["stream_cut"], lines[1])
        self.assertIsNone(lines[1]["cost_usd"], lines[1])
        self.assertIsNotNone(lines[0]["cost_usd"], lines[0])

    def budget_gauges(self, router):
        s = self.scrape(router)
        return metric(s, "switchyard_budget_spent_usd"), metric(s, "switchyard_budget_limit_usd")

    def test_reject_refuses_once_spent_and_after_a_restart(self):
        mock = self.start_mock()
        # Every request goes to primary: (len(body) // 4) * 1000 / 1e6 + 7 * 2000 / 1e6 USD,
        # a few cents; the budget lasts three requests.
        body = chat_body(MODEL, content="y" * 60)
        one = cost("primary", len(body) // 4, COMPLETION_TOKENS)
        limit = round(one * 2.5, 6)
        text = policy(mock.port, self.workdir, percent=0,
                      budget=f"budget: {{monthly_usd: {limit}, on_exceed: reject}}\n")
        router = self.start_router(text)
        served = 0
        refused = None
        for _ in range(10):
            sent_before = mock.requests_to("r1")
            r = router.chat(body)
            if r.status == 429:
                refused = r
                self.assertEqual(mock.requests_to("r1"), sent_before,
                                 "a refused request reached the upstream")
                break
            self.assertEqual(r.status, 200, r)
            served += 1
        self.assertEqual(served, 3, "spent after the third request, refused from the fourth")
        err = self.assertErrorEnvelope(refused, 429)
        self.assertEqual(err["type"], "insufficient_quota")
        self.assertEqual(err["code"], "insufficient_quota")
        self.assertIn("monthly budget is spent", err["message"])
        self.assertIn(f"{limit:.2f}", err["message"])
        self.assertEqual(refused.header("x-should-retry"), "false")
        self.assertTrue(refused.header("x-request-id"))
        # Streams are refused the same way, before anything goes upstream.
        sent_before = mock.requests_to("r1")
        res, _ = stream_request(router.port, "/v1/chat/completions",
                                chat_body(MODEL, stream=True))
        self.assertEqual(res.status, 429)
        self.assertEqual(mock.requests_to("r1"), sent_before)

        spent = harness.wait_for(lambda: (lambda g: g if g[0] > 0 else None)(
            self.budget_gauges(router)), 5.0, what="the budget gauges")
        self.assertAlmostEqual(spent[0], 3 * one, delta=1e-9)
        self.assertAlmostEqual(spent[1], limit, delta=1e-9)
        self.assertIn("100% of budget.monthly_usd is spent", harness.wait_for(
            lambda: "100% of budget" in router.stderr() and router.stderr(), 5.0,
            what="the 100% log line"))

        # Restart on the same state file: still spent.
        router.signal(signal.SIGTERM)
        self.assertEqual(router.wait(harness.STOP_TIMEOUT), 0)
        with open(self.path("state.json")) as fh:
            state = json.load(fh)["budget"]
        self.assertEqual(state["month"], time.strftime("%Y-%m", time.gmtime()))
        self.assertAlmostEqual(state["spent_usd"], 3 * one, delta=1e-9)
        router2 = self.start_router(policy_path=self.path("policy.yaml"), name="router2")
        sent_before = mock.requests_to("r1")
        r = router2.chat(body)
        err = self.assertErrorEnvelope(r, 429)
        self.assertEqual(err["code"], "insufficient_quota")
        self.assertEqual(mock.requests_to("r1"), sent_before)
        spent2, limit2 = self.budget_gauges(router2)
        self.assertAlmostEqual(spent2, 3 * one, delta=1e-9)
        self.assertAlmostEqual(limit2, limit, delta=1e-9)
        # Logged once per month: not again after the restart.
        time.sleep(0.5)
        self.assertNotIn("100% of budget", router2.stderr())

    def test_alert_logs_at_80_and_100_percent_and_keeps_serving(self):
        mock = self.start_mock()
        body = chat_body(MODEL, content="z" * 60)
        one = cost("primary", len(body) // 4, COMPLETION_TOKENS)
        limit = round(one * 4.5, 6)  # 80 % after the fourth request, 100 % after the fifth
        text = policy(mock.port, self.workdir, percent=0,
                      budget=f"budget: {{monthly_usd: {limit}, on_exceed: alert}}\n")
        router = self.start_router(text)

        def logged(what):
            return router.stderr().count(what)
        for i in range(3):
            self.assertEqual(router.chat(body).status, 200)
        time.sleep(0.5)  # a few ticks: nothing to say yet
        self.assertEqual(logged("of budget.monthly_usd is spent"), 0, router.stderr())
        self.assertEqual(router.chat(body).status, 200)
        harness.wait_for(lambda: logged("80% of budget.monthly_usd is spent"), 5.0,
                         what="the 80% log line")
        self.assertEqual(logged("100% of budget.monthly_usd"), 0)
        for i in range(3):
            self.assertEqual(router.chat(body).status, 200, "alert never refuses")
        harness.wait_for(lambda: logged("100% of budget.monthly_usd is spent"), 5.0,
                         what="the 100% log line")
        time.sleep(0.5)
        self.assertEqual(logged("80% of budget.monthly_usd is spent"), 1, router.stderr())
        self.assertEqual(logged("100% of budget.monthly_usd is spent"), 1, router.stderr())
        self.assertIn("on_exceed: alert: requests are still served", router.stderr())
        spent, lim = self.budget_gauges(router)
        self.assertAlmostEqual(spent, 7 * one, delta=1e-9)
        self.assertAlmostEqual(lim, limit, delta=1e-9)


if __name__ == "__main__":
    unittest.main(verbosity=2)
