#!/usr/bin/env python3
"""The official `openai` npm package against the real router (tests/node/test_openai_sdk.mjs).

Skips (exit 77, meson's skip code) only when tests/node/node_modules is missing, i.e. the
test set-up (`npm ci --prefix tests/node`) has not run."""

import json
import os
import shutil
import subprocess
import sys

import harness
from harness import IntegrationCase, chat_body, sse_events, stream_request

NODE_DIR = os.path.join(harness.source_root(), "tests", "node")
SDK_KEY = "sdk-client-key-0b5e"


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
        out = subprocess.run([shutil.which("node") or "node", "test_openai_sdk.mjs"], cwd=NODE_DIR,
                             env=env, capture_output=True, text=True, timeout=60)
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)
        self.assertEqual(out.returncode, 0, "the openai SDK checks failed (see above)")
        st = mock.stats()
        self.assertNotIn(SDK_KEY, json.dumps(st), "the client key reached the upstream")


if __name__ == "__main__":
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "openai")):
        print(f"SKIP: {NODE_DIR}/node_modules/openai is missing; run `npm ci --prefix tests/node` first")
        sys.exit(77)
    harness.main()
