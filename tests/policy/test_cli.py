#!/usr/bin/env python3
"""`switchyard validate` as users run it: exit codes (0 valid, 1 invalid, 2 usage),
gcc-style diagnostics with the source line and a caret, one `ok` line per good
policy, every problem in one run, and no secret in any output.

Needs SWITCHYARD_BIN, SOURCE_ROOT and SWITCHYARD_PLUGIN_PATH (tests/meson.build)."""

import os
import re
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("SWITCHYARD_BIN", "")
ROOT = os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*args, env=None, cwd=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([BIN, "validate", *args], capture_output=True, text=True, env=e,
                       cwd=cwd, timeout=30)
    return p.returncode, p.stdout, p.stderr


class Validate(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_shipped_policies_are_valid(self):
        for name in ("demo.yaml", "holysheep-migration.yaml"):
            path = os.path.join(ROOT, "policies", name)
            rc, out, err = run(path)
            self.assertEqual(rc, 0, err)
            self.assertRegex(out, r"^%s: ok \(\d+ providers?, \d+ endpoints?, "
                                  r"\d+ fallback chains?, plugins: [a-z, ]+.*; "
                                  r"(no warnings|\d+ warnings?)\)\n$" % re.escape(path))
            self.assertNotIn("error:", err)

    def test_demo_summary(self):
        rc, out, err = run("policies/demo.yaml", cwd=ROOT)
        self.assertEqual(rc, 0, err)
        # One warning (no client keys), plus one per key serve does not act on yet.
        pending = err.count("does not act on it in this build")
        warnings = 1 + pending
        self.assertEqual(out, "policies/demo.yaml: ok (2 providers, 6 endpoints, 4 fallback "
                              "chains, plugins: mock; canary relay-mock at 10% of users, "
                              "stable official-mock; "
                              f"{warnings} warning{'' if warnings == 1 else 's'})\n")
        # The budget is acted on, and the demo keeps its spend in its state_file.
        self.assertNotIn("`budget`", err)

    def test_usage_errors(self):
        rc, out, err = run()
        self.assertEqual(rc, 2)
        self.assertIn("no policy file given", err)
        self.assertIn("usage: switchyard validate", err)
        rc, out, err = run("--frobnicate", os.path.join(ROOT, "policies", "demo.yaml"))
        self.assertEqual(rc, 2)
        self.assertIn("unknown option '--frobnicate'", err)
        self.assertEqual(out, "")
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage:", out)

    def test_invalid_policy_gcc_style(self):
        path = self.write("bad.yaml",
                          "version: 1\n"
                          "providers:\n"
                          "  p:\n"
                          "    plugin: mock\n"
                          "    endpoints: [{name: e}]\n"
                          "retyr: {max_attempts: 3}\n"
                          "migration:\n"
                          "  rollout: {percent: 150}\n")
        rc, out, err = run(path)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        lines = err.splitlines()
        i = lines.index("%s:6:1: error: unknown key `retyr`; did you mean `retry`? Valid keys "
                        "here: version, server, plugins, providers, retry, breaker, rate_limit, "
                        "models, migration, budget, responses, shared_state" % path)
        # the source line, then a caret under column 1
        self.assertIn("retyr: {max_attempts: 3}", lines[i + 1])
        self.assertRegex(lines[i + 2], r"^\s+\|\s\^$")
        self.assertIn("%s:8:22: error: `migration.rollout.percent`: `150` is out of range" % path,
                      err)
        self.assertIn("%s: invalid (2 errors" % path, err)

    def test_every_file_is_checked(self):
        good = os.path.join(ROOT, "policies", "demo.yaml")
        bad = self.write("bad.yaml", "- a list\n")
        missing = os.path.join(self.tmp.name, "missing.yaml")
        rc, out, err = run(bad, good, missing)
        self.assertEqual(rc, 1)
        self.assertIn("%s: ok (" % good, out)
        self.assertIn("%s:1:1: error: the policy must be a mapping" % bad, err)
        self.assertIn("%s: error: cannot open" % missing, err)

    def test_bad_inputs_exit_1_at_the_right_line(self):
        cases = {
            "empty.yaml": ("", 1, 1, "the policy is empty"),
            "tabs.yaml": ("version: 1\nserver:\n\tlisten: x\n", 3, 1, "tabs are not allowed"),
            "cycle.yaml": ("version: 1\nproviders: {p: {plugin: mock, endpoints: [{name: e}]}}\n"
                           "models:\n  fallbacks:\n    a: [b]\n    b: [a]\n", 6, 9,
                           "fallback cycle: a -> b -> a"),
            "plugin.yaml": ("version: 1\nproviders:\n  p:\n    plugin: nope\n"
                            "    endpoints: [{name: e, base_url: 'http://x/v1'}]\n", 4, 13,
                            "plugin 'nope' not found"),
        }
        for name, (text, line, col, msg) in cases.items():
            path = self.write(name, text)
            rc, out, err = run(path)
            self.assertEqual(rc, 1, name)
            self.assertRegex(err, r"(?m)^%s:%d:%d: error: .*%s" % (re.escape(path), line, col,
                                                                    re.escape(msg)))

    def test_broken_plugins_reported_at_the_plugin_line(self):
        fixtures = os.path.join(os.path.dirname(BIN), "..", "tests", "plugins")
        for plugin, needle in (("text", "not a shared object"), ("abi2", "ABI")):
            path = self.write("p-%s.yaml" % plugin,
                              "version: 1\nproviders:\n  p:\n    plugin: %s\n"
                              "    endpoints: [{name: e, base_url: 'http://x/v1'}]\n" % plugin)
            rc, out, err = run(path, env={"SWITCHYARD_PLUGIN_PATH": fixtures})
            self.assertEqual(rc, 1, err)
            self.assertRegex(err, r"(?m)^%s:4:13: error: `providers.p.plugin`: .*%s"
                             % (re.escape(path), needle))

    def test_secrets_never_printed(self):
        secret = "sk-THIS-IS-SECRET 42"
        path = self.write("leak.yaml",
                          "version: 1\n"
                          "server: {listen: '${T_LEAK}', client_keys: '${T_LEAK}'}\n"
                          "providers:\n"
                          "  b:\n"
                          "    plugin: openai\n"
                          "    api_key: ${T_LEAK}\n"
                          "    endpoints: [{name: g, base_url: '${T_LEAK}'}]\n"
                          "migration: {stable: '${T_LEAK}'}\n")
        rc, out, err = run(path, env={"T_LEAK": secret})
        self.assertEqual(rc, 1)
        self.assertNotIn("THIS-IS-SECRET", out + err)
        self.assertIn("${T_LEAK}", err)
        # and a good policy with real-looking keys prints none of them either
        rc, out, err = run(os.path.join(ROOT, "policies", "holysheep-migration.yaml"),
                           env={"OPENAI_API_KEY": "sk-official-SECRET-1",
                                "HOLYSHEEP_API_KEY": "hs-SECRET-2",
                                "SWITCHYARD_CLIENT_KEYS": "app-SECRET-3,app-SECRET-4",
                                "SWITCHYARD_ADMIN_KEY": "adm-SECRET-5"})
        self.assertEqual(rc, 0, err)
        self.assertNotIn("SECRET", out + err)
        # With every variable set, nothing to warn about (serve acts on every key).
        self.assertNotIn("is checked, but `serve`", err)
        self.assertIn("no warnings", out)

    def test_unset_variables_are_warnings(self):
        e = dict(os.environ)
        for k in ("OPENAI_API_KEY", "HOLYSHEEP_API_KEY", "SWITCHYARD_CLIENT_KEYS",
                  "SWITCHYARD_ADMIN_KEY"):
            e.pop(k, None)
        p = subprocess.run([BIN, "validate", os.path.join(ROOT, "policies",
                                                          "holysheep-migration.yaml")],
                           capture_output=True, text=True, env=e, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("warning: `providers.holysheep.api_key`: environment variable "
                      "HOLYSHEEP_API_KEY is not set", p.stderr)
        pending = p.stderr.count("is checked, but `serve`")
        self.assertIn("%d warnings" % (4 + pending), p.stdout)

    def test_list_keys(self):
        p = subprocess.run([BIN, "validate", "--list-keys"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        keys = p.stdout.splitlines()
        self.assertEqual(keys, sorted(set(keys)))
        for k in ("version", "retry.backoff.base", "providers.*.endpoints[].name",
                  "server.workers", "migration.rollback.p95_above",
                  "providers.*.api_key", "providers.*.endpoints[].region",
                  "providers.*.latency_jitter"):
            self.assertIn(k, keys)


if __name__ == "__main__":
    if not BIN:
        print("SWITCHYARD_BIN is not set", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
