#!/usr/bin/env python3
"""The Responses API (/v1/responses) against the real binary and the mock upstream.

The mock upstream keeps each endpoint's responses apart, as an upstream region does: an
id is known only where it was made; elsewhere GET answers 404 and a previous_response_id
400 previous_response_not_found. So a continuation the router sends to the wrong place
fails visibly, and the mock's /_stats says which endpoint saw what.

- Non-stream and stream through the router: the answer as the upstream made it, the typed
  events in order with sequence numbers from 0 and no [DONE], tokens (reasoning included)
  and cost in /metrics.
- max_body and client keys refuse /v1/responses with the OpenAI error envelope, before any
  upstream sees it.
- A stream cut by the upstream after the commit point ends with the Responses API's own
  `error` event, never a response.completed; the mock provider's cut streams too.
- State follows its provider: a conversation begun on the canary continues on the canary
  after a rollback (while the same user's new conversations go to stable);
  GET/DELETE/input_items reach the endpoint that made the id; when that endpoint cannot
  answer, the client gets 503 previous_response_unavailable naming it, and no other
  endpoint is asked. Pinning is per endpoint: another region of the same provider is not
  tried either. Ids the router never saw go to stable and get the upstream's own answer.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ADMIN_KEY, IntegrationCase, sse_events, stream_request  # noqa: E402

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
MODEL = "gpt-4.1"
PRICE = (2.00, 8.00)  # harness policy: models.prices gpt-4.1, USD per million tokens
MOCK_TEXT = "Hello from mock-upstream."
OUTPUT_TOKENS = 7     # the mock's
REASONING_TOKENS = 3  # of those, when the request has "reasoning"
CLIENT_KEY = "resp-client-key-3d2a"

STREAM_TYPES = (["response.created", "response.in_progress", "response.output_item.added",
                 "response.content_part.added"] + ["response.output_text.delta"] * 5 +
                ["response.output_text.done", "response.content_part.done",
                 "response.output_item.done", "response.completed"])


def body(stream=False, **extra):
    b = {"model": MODEL, "input": "Say hello."}
    if stream:
        b["stream"] = True
    b.update(extra)
    return json.dumps(b, separators=(",", ":")).encode()


def metric(router, name, labels=None):
    text = router.get("/metrics").body.decode()
    want = "{" + ",".join(f'{k}="{v}"' for k, v in (labels or {}).items()) + "}" if labels else ""
    for line in text.splitlines():
        if line.startswith(name + want + " "):
            return float(line.split()[-1])
    return None


def events_of(resp):
    """The SSE events of a Responses stream as (event name, data dict or raw text)."""
    out = []
    for ev in sse_events(resp.body):
        data = ev.get("data", "")
        try:
            data = json.loads(data)
        except ValueError:
            pass
        out.append((ev.get("event"), data))
    return out


def text_of(obj):
    return "".join(p.get("text", "") for item in obj.get("output", []) if item.get("type") == "message"
                   for p in item.get("content", []) if p.get("type") == "output_text")


class Responses(IntegrationCase):
    # ------------------------------------------------------------------ helpers
    def post(self, router, b, user=None, headers=None, timeout=harness.NET_TIMEOUT):
        h = dict(headers or {})
        if user:
            h["x-user-id"] = user
        return router.post("/v1/responses", b, headers=h, timeout=timeout)

    def stream(self, router, b, user=None, headers=None):
        h = dict(headers or {})
        if user:
            h["x-user-id"] = user
        resp, lines = stream_request(router.port, "/v1/responses", b, headers=h)
        return resp, lines

    def assertServedBy(self, resp, provider, endpoint, arm=None):
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("x-switchyard-provider"), provider, resp)
        self.assertEqual(resp.header("x-switchyard-endpoint"), endpoint, resp)
        if arm:
            self.assertEqual(resp.header("x-switchyard-arm"), arm, resp)

    def admin(self, router, action, percent=None):
        b = {"action": action}
        if percent is not None:
            b["percent"] = percent
        r = router.post("/admin/rollout", b, headers=ADMIN)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def assertUnavailable(self, resp, provider, endpoint, rid):
        err = self.assertErrorEnvelope(resp, 503)
        self.assertEqual(err["code"], "previous_response_unavailable", resp)
        self.assertIn(f"{provider}/{endpoint}", err["message"], resp)
        self.assertIn(rid, err["message"], resp)

    # ------------------------------------------------------------------ tests
    def test_non_stream_answer_tokens_and_cost(self):
        mock, router = self.start_pair(canary=False)
        b = body(instructions="Be brief.")
        r = self.post(router, b)
        self.assertServedBy(r, "primary", "r1", "stable")
        self.assertTrue(r.header("x-request-id"), r)
        doc = r.json()
        self.assertEqual((doc["object"], doc["status"], doc["model"]), ("response", "completed", MODEL))
        self.assertRegex(doc["id"], r"^resp_[0-9a-f]{48}$")
        self.assertEqual(text_of(doc), MOCK_TEXT)
        self.assertEqual(doc["instructions"], "Be brief.")
        self.assertIs(doc["store"], True)
        usage = doc["usage"]
        self.assertEqual(usage["output_tokens"], OUTPUT_TOKENS)
        self.assertEqual(usage["output_tokens_details"]["reasoning_tokens"], 0)
        st = mock.endpoint_stats("r1")
        self.assertEqual(st["last_path"], "/r1/v1/responses")
        self.assertEqual(st["stored"], 1)
        self.assertEqual(st["last_model"], MODEL)

        # A reasoning request: its reasoning tokens counted apart (and in the output).
        b2 = body(reasoning={"effort": "low"})
        r2 = self.post(router, b2)
        self.assertEqual(r2.status, 200, r2)
        u2 = r2.json()["usage"]
        self.assertEqual(u2["output_tokens_details"]["reasoning_tokens"], REASONING_TOKENS)
        self.assertEqual(r2.json()["reasoning"]["effort"], "low")

        tin = usage["input_tokens"] + u2["input_tokens"]
        tout = 2 * OUTPUT_TOKENS
        self.assertEqual(usage["input_tokens"], len(b) // 4, "the body reached the upstream unchanged")
        self.assertEqual(metric(router, "switchyard_tokens_total", {"model": MODEL, "kind": "input"}), tin)
        self.assertEqual(metric(router, "switchyard_tokens_total", {"model": MODEL, "kind": "output"}), tout)
        self.assertEqual(metric(router, "switchyard_reasoning_tokens_total", {"model": MODEL}),
                         REASONING_TOKENS)
        cost = metric(router, "switchyard_cost_usd_total", {"model": MODEL})
        self.assertAlmostEqual(cost, (tin * PRICE[0] + tout * PRICE[1]) / 1e6, places=9)

    def test_stream_events_in_order_and_usage(self):
        mock, router = self.start_pair(canary=False, mock_kw={"chunks": 5, "chunk_delay_ms": 40})
        b = body(stream=True)
        resp, lines = self.stream(router, b)
        self.assertServedBy(resp, "primary", "r1", "stable")
        self.assertTrue(resp.header("content-type", "").startswith("text/event-stream"), resp)
        evs = events_of(resp)
        self.assertEqual([e for e, _ in evs], STREAM_TYPES, resp.body[:2000])
        for i, (name, data) in enumerate(evs):
            self.assertIsInstance(data, dict, f"event {i} data is not JSON: {data!r}")
            self.assertEqual(data["type"], name)
            self.assertEqual(data["sequence_number"], i)
        self.assertNotIn(b"[DONE]", resp.body)
        created, completed = evs[0][1]["response"], evs[-1][1]["response"]
        self.assertEqual(created["status"], "in_progress")
        self.assertEqual(completed["id"], created["id"])
        self.assertEqual("".join(d["delta"] for e, d in evs if e == "response.output_text.delta"),
                         MOCK_TEXT)
        self.assertEqual(text_of(completed), MOCK_TEXT)
        # Streamed as it came: the mock waits 40 ms between deltas (4 gaps).
        delta_times = [t for t, line in lines if line.startswith(b"event: response.output_text.delta")]
        self.assertEqual(len(delta_times), 5)
        self.assertGreaterEqual(delta_times[-1] - delta_times[0], 0.1, "deltas arrived at once")
        usage = completed["usage"]
        self.assertEqual(usage["input_tokens"], len(b) // 4)
        self.assertEqual(metric(router, "switchyard_tokens_total", {"model": MODEL, "kind": "input"}),
                         usage["input_tokens"])
        self.assertEqual(metric(router, "switchyard_tokens_total", {"model": MODEL, "kind": "output"}),
                         OUTPUT_TOKENS)
        # The streamed response is stored where it was made.
        g = router.get(f"/v1/responses/{created['id']}")
        self.assertServedBy(g, "primary", "r1")
        self.assertEqual(text_of(g.json()), MOCK_TEXT)

    def test_max_body_and_client_keys(self):
        mock, router = self.start_pair(canary=False, client_keys=CLIENT_KEY, max_body="4KiB")
        auth = {"Authorization": f"Bearer {CLIENT_KEY}"}
        self.assertEqual(self.post(router, body(), headers=auth).status, 200)
        big = body(input="x" * 8192)
        self.assertErrorEnvelope(self.post(router, big, headers=auth), 413)
        err = self.assertErrorEnvelope(self.post(router, body()), 401)
        self.assertNotIn(CLIENT_KEY, json.dumps(err))
        self.assertErrorEnvelope(self.post(router, body(), headers={"Authorization": "Bearer nope"}), 401)
        resp, _ = self.stream(router, body(stream=True), headers={"Authorization": "Bearer nope"})
        self.assertErrorEnvelope(resp, 401)
        self.assertErrorEnvelope(router.get("/v1/responses/resp_abc"), 401)
        self.assertErrorEnvelope(router.get("/v1/responses/resp_abc/input_items"), 401)
        self.assertErrorEnvelope(
            harness.request(router.port, "DELETE", "/v1/responses/resp_abc"), 401)
        self.assertEqual(mock.requests_to("r1"), 1, "only the accepted request reached the upstream")

    def test_cut_stream_ends_with_an_error_event(self):
        mock, router = self.start_pair(canary=False, mock_kw={"chunks": 5})
        for ep in ("r1", "r2"):
            mock.control(ep, {"truncate_after": 6})
        resp, _ = self.stream(router, body(stream=True))
        self.assertEqual(resp.status, 200, resp)
        evs = events_of(resp)
        names = [e for e, _ in evs]
        self.assertEqual(names[:6], STREAM_TYPES[:6], resp.body[:2000])
        self.assertEqual(names[-1], "error", resp.body[-1000:])
        self.assertNotIn("response.completed", names)
        data = evs[-1][1]
        self.assertIsInstance(data, dict, data)
        self.assertEqual(data["type"], "error")
        self.assertTrue(data.get("message"), data)
        self.assertIn("code", data)
        self.assertEqual(data["sequence_number"], 6, "the next number after the last event sent")
        self.assertEqual(mock.requests_to("r1") + mock.requests_to("r2"), 1,
                         "a stream cut after the commit point is not retried")

    def test_mock_provider_cut_stream_and_reasoning_tokens(self):
        # truncate_rate 1 cuts every stream of the mock provider; whole answers are whole.
        text = "\n".join([
            "version: 1", "server:", "  listen: 127.0.0.1:1",
            "providers:", "  local:", "    plugin: mock", "    latency: 0ms", "    chunk_delay: 0ms",
            "    truncate_rate: 1", "    endpoints: [{name: m1}]",
            "models:", "  prices:", f"    {MODEL}: {{input: {PRICE[0]}, output: {PRICE[1]}}}",
            "migration:", "  stable: local", ""])
        router = self.start_router(text)
        r = self.post(router, body(reasoning={"effort": "high"}))
        self.assertServedBy(r, "local", "m1")
        u = r.json()["usage"]
        self.assertEqual(u["output_tokens_details"]["reasoning_tokens"], REASONING_TOKENS)
        self.assertEqual(metric(router, "switchyard_reasoning_tokens_total", {"model": MODEL}),
                         REASONING_TOKENS)
        resp, _ = self.stream(router, body(stream=True))
        self.assertServedBy(resp, "local", "m1")
        names = [e for e, _ in events_of(resp)]
        self.assertIn("response.output_text.delta", names)
        self.assertEqual(names[-1], "error", resp.body[-1000:])
        self.assertNotIn("response.completed", names)

    def test_conversation_begun_on_the_canary_stays_there_after_a_rollback(self):
        mock, router = self.start_pair(percent=100)
        first = self.post(router, body(), user="alice")
        self.assertServedBy(first, "relay", "hs1", "canary")
        rid = first.json()["id"]
        self.assertEqual(mock.endpoint_stats("hs1")["stored"], 1)
        st = router.get("/admin/status", headers=ADMIN).json()["responses"]
        self.assertEqual(st["ids"], 1, st)
        self.assertEqual(st["map_size"], 100000, st)

        self.assertEqual(self.admin(router, "rollback"), {"percent": 0, "state": "rolled_back"})
        mock.reset_stats()
        # A new conversation of the same user: stable now.
        fresh = self.post(router, body(), user="alice")
        self.assertServedBy(fresh, "primary", "r1", "stable")
        # Its continuation: still the canary's endpoint, which holds the state.
        cont = self.post(router, body(previous_response_id=rid, input="And then?"), user="alice")
        self.assertServedBy(cont, "relay", "hs1")
        self.assertEqual(cont.json()["previous_response_id"], rid)
        cid = cont.json()["id"]
        # Streamed continuations too.
        sresp, _ = self.stream(router, body(stream=True, previous_response_id=cid), user="alice")
        self.assertServedBy(sresp, "relay", "hs1")
        sevs = events_of(sresp)
        self.assertEqual(sevs[-1][0], "response.completed", sresp.body[-500:])
        sid = sevs[0][1]["response"]["id"]
        # A continuation of the continuation (made after the rollback): still there.
        again = self.post(router, body(previous_response_id=sid), user="bob")
        self.assertServedBy(again, "relay", "hs1")
        st = mock.stats()["endpoints"]
        self.assertEqual(st["hs1"]["requests"], 3, st)
        self.assertEqual(st["hs1"]["not_found"], 0, st)
        self.assertEqual(st["r1"]["requests"], 1, "only the new conversation went to stable")
        self.assertNotIn("r2", st)

        # GET, input_items and DELETE reach the endpoint that made the id.
        g = router.get(f"/v1/responses/{rid}")
        self.assertServedBy(g, "relay", "hs1")
        self.assertEqual(g.json()["id"], rid)
        self.assertEqual(mock.endpoint_stats("hs1")["last_path"], f"/hs1/v1/responses/{rid}")
        items = router.get(f"/v1/responses/{rid}/input_items?limit=5")
        self.assertServedBy(items, "relay", "hs1")
        self.assertEqual(items.json()["data"][0]["content"][0]["text"], "Say hello.")
        d = harness.request(router.port, "DELETE", f"/v1/responses/{rid}")
        self.assertServedBy(d, "relay", "hs1")
        self.assertEqual(d.json(), {"id": rid, "object": "response", "deleted": True})
        st = mock.stats()["endpoints"]
        self.assertEqual(st["r1"]["requests"], 1, "stable saw none of them: " + json.dumps(st))
        self.assertEqual(st["hs1"]["not_found"], 0, st)
        # Deleted: gone, and said so by the endpoint that held it (the id never
        # reaches the stable provider).
        gone = router.get(f"/v1/responses/{rid}")
        err = self.assertErrorEnvelope(gone, 404)
        self.assertIn(rid, err["message"])
        self.assertEqual(gone.header("x-switchyard-endpoint"), "hs1", gone)
        self.assertEqual(mock.stats()["endpoints"]["r1"]["requests"], 1)

    def test_the_region_holding_the_state_down_gives_a_clear_error(self):
        mock, router = self.start_pair(percent=100, request_timeout="2s")
        first = self.post(router, body(), user="carol")
        self.assertServedBy(first, "relay", "hs1", "canary")
        rid = first.json()["id"]
        self.admin(router, "rollback")
        mock.reset_stats()

        mock.control("hs1", {"error_rate": 1, "error_status": 503})
        r = self.post(router, body(previous_response_id=rid), user="carol")
        self.assertUnavailable(r, "relay", "hs1", rid)
        resp, _ = self.stream(router, body(stream=True, previous_response_id=rid), user="carol")
        self.assertUnavailable(resp, "relay", "hs1", rid)
        self.assertUnavailable(router.get(f"/v1/responses/{rid}"), "relay", "hs1", rid)
        st = mock.stats()["endpoints"]
        self.assertGreaterEqual(st["hs1"]["requests"], 3, st)
        self.assertNotIn("r1", st, "stable was asked about the canary's response")
        self.assertNotIn("r2", st, "stable was asked about the canary's response")

        mock.control("hs1", {"hang": True})
        t0 = time.monotonic()
        r = self.post(router, body(previous_response_id=rid), user="carol", timeout=30)
        self.assertUnavailable(r, "relay", "hs1", rid)
        self.assertLess(time.monotonic() - t0, 25, "gave up within the request timeout")
        st = mock.stats()["endpoints"]
        self.assertNotIn("r1", st, "stable was asked about the canary's response")
        self.assertNotIn("r2", st, "stable was asked about the canary's response")

        # Back up: the conversation goes on where it was.
        mock.control("hs1", {})
        ok = self.post(router, body(previous_response_id=rid), user="carol")
        self.assertServedBy(ok, "relay", "hs1")

    def test_pinned_to_the_endpoint_not_just_the_provider(self):
        mock, router = self.start_pair(canary=False)
        first = self.post(router, body())
        self.assertServedBy(first, "primary", "r1")
        rid = first.json()["id"]
        mock.control("r1", {"error_rate": 1, "error_status": 500})
        # A new conversation fails over to r2 as usual ...
        self.assertServedBy(self.post(router, body()), "primary", "r2")
        mock.reset_stats()
        # ... but r2 cannot continue r1's conversation: it is not asked.
        r = self.post(router, body(previous_response_id=rid))
        self.assertUnavailable(r, "primary", "r1", rid)
        self.assertNotIn("r2", mock.stats()["endpoints"])

    def test_ids_the_router_never_saw_go_to_stable(self):
        mock, router = self.start_pair(percent=100)
        # store: false answers are not remembered: the upstream holds nothing to continue.
        unstored = self.post(router, body(store=False), user="dave")
        self.assertServedBy(unstored, "relay", "hs1", "canary")
        self.assertIs(unstored.json()["store"], False)
        self.assertEqual(mock.endpoint_stats("hs1")["stored"], 0)
        uid = unstored.json()["id"]
        mock.reset_stats()
        for rid in (uid, "resp_" + "0" * 48):
            r = self.post(router, body(previous_response_id=rid), user="dave")
            err = self.assertErrorEnvelope(r, 400)
            self.assertEqual(err["code"], "previous_response_not_found", r)
            self.assertEqual(err["param"], "previous_response_id", r)
            g = router.get(f"/v1/responses/{rid}")
            self.assertErrorEnvelope(g, 404)
        st = mock.stats()["endpoints"]
        self.assertNotIn("hs1", st, "an unknown id went to the canary: " + json.dumps(st))
        self.assertEqual(st["r1"]["not_found"], 4, st)

    def test_bad_paths_methods_queries_and_ids_get_clear_errors(self):
        mock, router = self.start_pair(percent=0)
        cases = [
            ("GET", "/v1/responses/", None, 404, "not_found"),            # no id
            ("GET", "/v1/responses/bad%20id", None, 404, "not_found"),    # not an id
            ("GET", "/v1/responses/" + "r" * 129, None, 404, "not_found"),
            ("GET", "/v1/responses/resp_1/other", None, 404, "not_found"),
            ("GET", "/v1/responses/resp_1/input_items/x", None, 404, "not_found"),
            ("PUT", "/v1/responses/resp_1", b"{}", 405, "method_not_allowed"),
            ("DELETE", "/v1/responses/resp_1/input_items", None, 405, "method_not_allowed"),
            ("GET", "/v1/responses/resp_1/cancel", None, 405, "method_not_allowed"),
            ("POST", "/v1/responses/resp_1", b"{}", 405, "method_not_allowed"),
            ("GET", "/v1/responses", None, 405, "method_not_allowed"),
            ("GET", "/v1/responses/resp_1?" + "q" * 1100, None, 400, "invalid_query"),
        ]
        for method, path, data, status, code in cases:
            r = harness.request(router.port, method, path, data,
                                {"Content-Type": "application/json"} if data else None)
            err = self.assertErrorEnvelope(r, status)
            self.assertEqual(err["code"], code, (method, path, r))
            if status == 405:
                self.assertTrue(r.header("allow"), (method, path, r))
        for bad in (123, "a/b", "", "x" * 129, "caf\u00e9", None):
            b = body(previous_response_id=bad)
            r = self.post(router, b)
            if bad is None:  # null: no previous response
                self.assertServedBy(r, "primary", "r1")
                continue
            err = self.assertErrorEnvelope(r, 400)
            self.assertEqual(err["code"], "invalid_previous_response_id", (bad, r))
        # Nothing of it reached an upstream, and the router is still serving.
        self.assertEqual(mock.stats()["total"], 1, mock.stats())
        self.assertServedBy(self.post(router, body()), "primary", "r1")


if __name__ == "__main__":
    harness.main()
