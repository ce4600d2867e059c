#!/usr/bin/env python3
"""The README's demo: `serve` on policies/demo.yaml answers from the `mock` provider plugin,
streamed too, with no keys and no network (no mock upstream is started here)."""

import json
import os

import harness
from harness import IntegrationCase, chat_body, sse_events, stream_request


class Demo(IntegrationCase):
    def setUp(self):
        super().setUp()
        self.policy = os.path.join(harness.source_root(), "policies", "demo.yaml")
        if not os.path.exists(self.policy):
            self.fail(f"{self.policy} is missing")
        self.router = self.start_router(policy_path=self.policy, cwd=harness.source_root())
        models = self.router.get("/v1/models")
        self.assertEqual(models.status, 200, models)
        ids = [m["id"] for m in models.json()["data"]]
        self.model = ids[0] if ids else "gpt-4o-mini"

    def test_chat(self):
        r = self.router.chat(chat_body(self.model, content="hello demo"))
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc.get("object"), "chat.completion", doc)
        content = doc["choices"][0]["message"]["content"]
        self.assertIsInstance(content, str)
        self.assertTrue(content)
        self.assertTrue(r.header("x-request-id"))
        self.assertIn(r.header("x-switchyard-arm"), ("stable", "canary"))
        self.assertTrue(r.header("x-switchyard-provider"))
        self.assertTrue(r.header("x-switchyard-endpoint"))
        self.assertTrue(r.header("x-switchyard-model"))

    def test_stream(self):
        r, lines = stream_request(self.router.port, "/v1/chat/completions",
                                  chat_body(self.model, stream=True))
        self.assertEqual(r.status, 200, r)
        self.assertIn("text/event-stream", r.header("content-type", ""))
        events = sse_events(r.body)
        self.assertGreaterEqual(len(events), 2, r.body)
        self.assertEqual(events[-1].get("data"), "[DONE]")
        text = ""
        for ev in events[:-1]:
            doc = json.loads(ev["data"])
            self.assertEqual(doc.get("object"), "chat.completion.chunk", doc)
            for ch in doc.get("choices", []):
                text += (ch.get("delta") or {}).get("content") or ""
        self.assertTrue(text, "the stream carried no content")

    def test_health_and_metrics(self):
        self.assertEqual(self.router.get("/healthz").status, 200)
        self.router.chat(chat_body(self.model))
        m = self.router.get("/metrics")
        self.assertEqual(m.status, 200)
        self.assertIn(b"switchyard_requests_total{", m.body)


if __name__ == "__main__":
    harness.main()
