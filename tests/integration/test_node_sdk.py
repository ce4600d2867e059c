#!/usr/bin/env python3
"""Real Node clients against the real router: the official `openai` npm package
(tests/node/test_openai_sdk.mjs: chat, completions, embeddings, models;
tests/node/test_openai_responses.mjs: the Responses API) and the Vercel AI SDK's default
model, which speaks the Responses API (tests/node/test_ai_sdk.mjs), each against the mock
upstream (an `openai` provider) and the mock provider plugin (local replies).

Skips (exit 77, meson's skip code) only when tests/node/node_modules is missing, i.e. the
test set-up (`npm ci --prefix tests/node`) has not run."""

import json
import os
import shutil
import subprocess
import sys

import harness
from harness import IntegrationCase, chat_body, secret_ref, sse_events, stream_request

NODE_DIR = os.path.join(harness.source_root(), "tests", "node")
NODE_PACKAGES = ("openai", "ai", os.path.join("@ai-sdk", "openai"))
SDK_KEY = "sdk-client-key-0b5e"
MOCK_PROVIDER_REPLY = "Hello from the switchyard mock provider."


def responses_body(stream=False, **extra):
    b = {"model": "gpt-4.1", "input": "Say hello."}
    if stream:
        b["stream"] = True
    b.update(extra)
    return json.dumps(b, separators=(",", ":")).encode()


def mock_provider_policy(chunk_delay="20ms"):
    """The mock provider plugin (local replies, no upstream) as the only provider."""
    return "\n".join([
        "version: 1", "server:", "  listen: 127.0.0.1:1", f"  client_keys: {secret_ref(SDK_KEY)}",
        "providers:", "  local:", "    plugin: mock", "    latency: 0ms",
        f"    chunk_delay: {chunk_delay}", f"    reply: \"{MOCK_PROVIDER_REPLY}\"",
        "    endpoints:", "      - {name: m1}",
        "migration:", "  stable: local", ""])


class NodeSdk(IntegrationCase):
    def test_openai_sdk(self):
        mock, router = self.start_pair(mock_kw={"chunks": 5, "chunk_delay_ms": 50},
                                       client_keys=f"other-key,{SDK_KEY}")
        direct = mock.direct("r1", "/chat/completions", chat_body())
        content = direct.json()["choices"][0]["message"]["content"]
        sdirect, _ = stream_request(mock.port, "/r1/v1/chat/completions", chat_body(stream=True))
        stext = ""
        for ev in sse_events(sdirect.body):
            if ev.get("data", "").startswith("{"):
                for ch in json.loads(ev["data"]).get("choices", []):
                    stext += (ch.get("delta") or {}).get("content") or ""
        env = dict(os.environ, SWITCHYARD_URL=f"http://127.0.0.1:{router.port}",
                   SWITCHYARD_KEY=SDK_KEY, EXPECT_CONTENT=content, EXPECT_STREAM_TEXT=stext)
        self.run_node("test_openai_sdk.mjs", env)
        st = mock.stats()
        self.assertNotIn(SDK_KEY, json.dumps(st), "the client key reached the upstream")

    def run_node(self, script, env):
        out = subprocess.run([shutil.which("node") or "node", script], cwd=NODE_DIR,
                             env=env, capture_output=True, text=True, timeout=90)
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)
        self.assertEqual(out.returncode, 0, f"the checks of {script} failed (see above)")

    def mock_upstream_pair(self):
        """The mock upstream behind an `openai` provider (endpoints r1, r2), and what its
        answers say when asked directly: (mock, router, env)."""
        mock, router = self.start_pair(mock_kw={"chunks": 5, "chunk_delay_ms": 30},
                                       client_keys=f"other-key,{SDK_KEY}")
        text = mock.direct("r1", "/responses", responses_body()).json()["output"][0]["content"][0]["text"]
        sdirect, _ = stream_request(mock.port, "/r1/v1/responses", responses_body(stream=True))
        stext = "".join(json.loads(ev["data"]).get("delta", "") for ev in sse_events(sdirect.body)
                        if ev.get("event") == "response.output_text.delta")
        self.assertEqual(text, stext, "the mock's default 5 pieces spell its whole answer")
        mock.reset_stats()
        env = dict(os.environ, SWITCHYARD_URL=f"http://127.0.0.1:{router.port}",
                   SWITCHYARD_KEY=SDK_KEY, EXPECT_TEXT=text, EXPECT_STREAM_TEXT=stext)
        return mock, router, env

    def mock_provider_router(self):
        router = self.start_router(mock_provider_policy())
        env = dict(os.environ, SWITCHYARD_URL=f"http://127.0.0.1:{router.port}",
                   SWITCHYARD_KEY=SDK_KEY, EXPECT_TEXT=MOCK_PROVIDER_REPLY,
                   EXPECT_STREAM_TEXT=MOCK_PROVIDER_REPLY)
        return router, env

    def test_openai_sdk_responses_via_mock_upstream(self):
        mock, router, env = self.mock_upstream_pair()
        result = self.path("ids.json")
        env.update(EXPECT_STATEFUL="1", RESULT_FILE=result)
        self.run_node("test_openai_responses.mjs", env)
        with open(result) as fh:
            ids = json.load(fh)
        self.assertEqual(set(ids), {"created", "streamed", "continued"}, ids)
        st = mock.stats()["endpoints"]
        # Everything went to r1, the first endpoint, which created every id: no request
        # named an id its endpoint did not hold.
        self.assertEqual(set(st), {"r1"}, st)
        self.assertEqual(st["r1"]["not_found"], 1, "only the retrieve after the delete: " + json.dumps(st))
        self.assertNotIn(SDK_KEY, json.dumps(st), "the client key reached the upstream")

    def test_openai_sdk_responses_via_mock_provider(self):
        router, env = self.mock_provider_router()
        env.update(EXPECT_STATEFUL="0")
        self.run_node("test_openai_responses.mjs", env)

    def test_ai_sdk_default_model_via_mock_upstream(self):
        mock, router, env = self.mock_upstream_pair()
        self.run_node("test_ai_sdk.mjs", env)
        st = mock.stats()["endpoints"]
        self.assertEqual(set(st), {"r1"}, st)
        self.assertEqual(st["r1"]["last_path"], "/r1/v1/responses", "the AI SDK's default model "
                         "speaks the Responses API")
        self.assertEqual(st["r1"]["not_found"], 0, st)

    def test_ai_sdk_default_model_via_mock_provider(self):
        router, env = self.mock_provider_router()
        self.run_node("test_ai_sdk.mjs", env)


if __name__ == "__main__":
    for pkg in NODE_PACKAGES:
        if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", pkg)):
            print(f"SKIP: {NODE_DIR}/node_modules/{pkg} is missing; "
                  "run `npm ci --prefix tests/node` first")
            sys.exit(77)
    harness.main()
