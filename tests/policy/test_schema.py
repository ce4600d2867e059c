#!/usr/bin/env python3
"""policies/switchyard.schema.json agrees with the parser:

(a) the key paths the schema describes are exactly the ones `switchyard validate
    --list-keys` prints (the key tables plus the shipped plugins' keys);
(b) every policy in policies/ (and the spec's example) validates with exit 0, and
    also validates against the schema, as an editor with yaml-language-server sees it;
(c) the schema refuses what the parser refuses: unknown keys at every level, bad
    types, out-of-range values.

Python's standard library has no JSON Schema validator, so this file carries a small
one for the subset the schema uses (draft 2020-12: type, properties,
additionalProperties, required, items, enum, const, pattern, minimum/maximum,
exclusiveMinimum, minItems, minProperties, minLength, uniqueItems, propertyNames,
anyOf, allOf, if/then, $ref into $defs). YAML is turned into JSON by the
policy-yaml2json helper (argv[1]), built from the router's own YAML reader.

Usage: test_schema.py PATH/TO/policy-yaml2json"""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

BIN = os.environ.get("SWITCHYARD_BIN", "")
ROOT = os.environ.get("SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
YAML2JSON = sys.argv[1] if len(sys.argv) > 1 else ""
SCHEMA_PATH = os.path.join(ROOT, "policies", "switchyard.schema.json")


# ------------------------------------------------------------------ the checker

class Checker:
    def __init__(self, schema):
        self.root = schema

    def resolve(self, ref):
        assert ref.startswith("#/"), ref
        node = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    @staticmethod
    def type_ok(value, t):
        if t == "object":
            return isinstance(value, dict)
        if t == "array":
            return isinstance(value, list)
        if t == "string":
            return isinstance(value, str)
        if t == "boolean":
            return isinstance(value, bool)
        if t == "integer":
            return isinstance(value, int) and not isinstance(value, bool) or (
                isinstance(value, float) and value.is_integer())
        if t == "number":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if t == "null":
            return value is None
        raise AssertionError("type %s is not supported by this checker" % t)

    def errors(self, value, schema, path="$"):
        """A list of problems (empty when value is valid)."""
        errs = []
        if "$ref" in schema:
            errs += self.errors(value, self.resolve(schema["$ref"]), path)
        known = {"$ref", "$schema", "$id", "$defs", "title", "description", "default", "type",
                 "properties", "additionalProperties", "required", "items", "enum", "const",
                 "pattern", "minimum", "maximum", "exclusiveMinimum", "minItems",
                 "minProperties", "minLength", "uniqueItems", "propertyNames", "anyOf", "allOf",
                 "if", "then"}
        unknown = set(schema) - known
        assert not unknown, "%s: the checker does not know %s" % (path, unknown)
        if "type" in schema and not self.type_ok(value, schema["type"]):
            return errs + ["%s: expected %s, got %r" % (path, schema["type"], value)]
        if "const" in schema and value != schema["const"]:
            errs.append("%s: expected %r" % (path, schema["const"]))
        if "enum" in schema and value not in schema["enum"]:
            errs.append("%s: %r is not one of %r" % (path, value, schema["enum"]))
        if isinstance(value, str):
            if "pattern" in schema and not re.search(schema["pattern"], value):
                errs.append("%s: %r does not match %s" % (path, value, schema["pattern"]))
            if len(value) < schema.get("minLength", 0):
                errs.append("%s: too short" % path)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if "minimum" in schema and value < schema["minimum"]:
                errs.append("%s: %r < %r" % (path, value, schema["minimum"]))
            if "maximum" in schema and value > schema["maximum"]:
                errs.append("%s: %r > %r" % (path, value, schema["maximum"]))
            if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
                errs.append("%s: %r <= %r" % (path, value, schema["exclusiveMinimum"]))
        if isinstance(value, dict):
            props = schema.get("properties", {})
            for k in schema.get("required", []):
                if k not in value:
                    errs.append("%s: missing %s" % (path, k))
            if len(value) < schema.get("minProperties", 0):
                errs.append("%s: too few keys" % path)
            for k, v in value.items():
                if "propertyNames" in schema:
                    errs += self.errors(k, schema["propertyNames"], "%s.<%s>" % (path, k))
                if k in props:
                    errs += self.errors(v, props[k], "%s.%s" % (path, k))
                elif "additionalProperties" in schema:
                    ap = schema["additionalProperties"]
                    if ap is False:
                        errs.append("%s: unknown key %s" % (path, k))
                    elif isinstance(ap, dict):
                        errs += self.errors(v, ap, "%s.%s" % (path, k))
        if isinstance(value, list):
            if len(value) < schema.get("minItems", 0):
                errs.append("%s: too few items" % path)
            if schema.get("uniqueItems") and len(set(map(json.dumps, value))) != len(value):
                errs.append("%s: items repeat" % path)
            if "items" in schema:
                for i, v in enumerate(value):
                    errs += self.errors(v, schema["items"], "%s[%d]" % (path, i))
        if "anyOf" in schema:
            branches = [self.errors(value, s, path) for s in schema["anyOf"]]
            if all(branches):
                errs.append("%s: matches none of anyOf: %s" % (path, branches))
        for s in schema.get("allOf", []):
            errs += self.errors(value, s, path)
        if "if" in schema and not self.errors(value, schema["if"], path) and "then" in schema:
            errs += self.errors(value, schema["then"], path)
        return errs

    def key_paths(self, schema=None, prefix="", seen=None):
        """Key paths as --list-keys spells them: a.b, a.*.b (named by the user), a[].b."""
        schema = self.root if schema is None else schema
        out = set()
        if "$ref" in schema:
            out |= self.key_paths(self.resolve(schema["$ref"]), prefix)
        for name, sub in schema.get("properties", {}).items():
            p = prefix + "." + name if prefix else name
            out.add(p)
            out |= self.key_paths(sub, p)
        ap = schema.get("additionalProperties")
        if isinstance(ap, dict):
            out |= self.key_paths(ap, prefix + ".*")
        if isinstance(schema.get("items"), dict):
            out |= self.key_paths(schema["items"], prefix + "[]")
        for branch in schema.get("anyOf", []) + schema.get("allOf", []):
            out |= self.key_paths(branch, prefix)
        return out


def yaml_to_json(path):
    p = subprocess.run([YAML2JSON, path], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def validate(path, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([BIN, "validate", path], capture_output=True, text=True, env=e,
                          timeout=30)


# ------------------------------------------------------------------- the tests

class SchemaAgreement(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(SCHEMA_PATH) as f:
            cls.schema = json.load(f)
        cls.checker = Checker(cls.schema)

    def test_schema_header(self):
        self.assertEqual(self.schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
        self.assertIs(self.schema["additionalProperties"], False)

    def test_key_paths_match_the_parser(self):
        p = subprocess.run([BIN, "validate", "--list-keys"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        parser = set(p.stdout.split())
        schema = self.checker.key_paths()
        self.assertEqual(sorted(parser - schema), [], "keys the parser knows, the schema not")
        self.assertEqual(sorted(schema - parser), [], "keys in the schema, unknown to the parser")

    def test_every_mapping_is_closed(self):
        """additionalProperties: false wherever the keys are fixed."""
        def walk(s, path):
            if isinstance(s, dict):
                if "properties" in s:
                    self.assertIs(s.get("additionalProperties"), False, path)
                for k, v in s.items():
                    if k != "if":  # a condition, not a mapping of the policy
                        walk(v, path + "/" + k)
            elif isinstance(s, list):
                for i, v in enumerate(s):
                    walk(v, "%s/%d" % (path, i))
        walk(self.schema, "#")

    def shipped(self):
        # Every policy in policies/ (scenario-*.yaml are `simulate` scenarios, not policies).
        files = sorted(f for f in glob.glob(os.path.join(ROOT, "policies", "*.yaml"))
                       if not os.path.basename(f).startswith("scenario-"))
        self.assertGreaterEqual(len(files), 2)
        return files + [os.path.join(ROOT, "tests", "policy", "data", "spec-example.yaml")]

    def test_shipped_policies_validate(self):
        for path in self.shipped():
            p = validate(path)
            self.assertEqual(p.returncode, 0, "%s:\n%s" % (path, p.stderr))
            self.assertIn(": ok (", p.stdout)

    def test_shipped_policies_match_the_schema(self):
        for path in self.shipped():
            errs = self.checker.errors(yaml_to_json(path), self.schema)
            self.assertEqual(errs, [], path)

    def test_schema_refuses_what_the_parser_refuses(self):
        base = yaml_to_json(os.path.join(ROOT, "policies", "demo.yaml"))
        self.assertEqual(self.checker.errors(base, self.schema), [])
        breakages = [
            ("unknown top-level key", lambda d: d.update(retyr={})),
            ("unknown server key", lambda d: d["server"].update(lisen="x")),
            ("unknown provider key", lambda d: d["providers"]["relay-mock"].update(plugn="mock")),
            ("unknown endpoint key",
             lambda d: d["providers"]["relay-mock"]["endpoints"][0].update(nme="x")),
            ("unknown nested key", lambda d: d["retry"]["backoff"].update(bas="1s")),
            ("unknown rollback key", lambda d: d["migration"]["rollback"].update(p99_above="1s")),
            ("percent 150", lambda d: d["migration"]["rollout"].update(percent=150)),
            ("negative duration", lambda d: d["retry"]["backoff"].update(base="-5s")),
            ("duration without unit", lambda d: d["server"].update(request_timeout="30")),
            ("wrong type", lambda d: d["retry"].update(max_attempts="three")),
            ("attempts 0", lambda d: d["retry"].update(max_attempts=0)),
            ("version 2", lambda d: d.update(version=2)),
            ("endpoint without name",
             lambda d: d["providers"]["relay-mock"]["endpoints"][0].pop("name")),
            ("no endpoints", lambda d: d["providers"]["relay-mock"].update(endpoints=[])),
            ("bad enum", lambda d: d["providers"]["relay-mock"].update(balance="fastest")),
            ("retry on 200", lambda d: d["retry"].update(on=[200])),
            ("size in MB", lambda d: d["server"].update(max_body="8MB")),
        ]
        for what, breaker in breakages:
            doc = json.loads(json.dumps(base))
            breaker(doc)
            self.assertNotEqual(self.checker.errors(doc, self.schema), [], what)

    def test_parser_refuses_the_same(self):
        """The same breakages, through `validate`: each is exit 1."""
        with open(os.path.join(ROOT, "policies", "demo.yaml")) as f:
            demo = f.read()
        edits = [
            ("retry:\n", "retyr:\n"),
            ("  listen: 127.0.0.1:8080\n", "  lisen: 127.0.0.1:8080\n"),
            ("    percent: 10\n", "    percent: 150\n"),
            ("base: 100ms", "base: -5s"),
            ("  request_timeout: 30s\n", "  request_timeout: 30\n"),
            ("  max_attempts: 3\n", "  max_attempts: three\n"),
            ("version: 1\n", "version: 2\n"),
            ("    balance: priority\n", "    balance: fastest\n"),
            ("  max_body: 8MiB\n", "  max_body: 8MB\n"),
        ]
        with tempfile.TemporaryDirectory() as tmp:
            for old, new in edits:
                self.assertIn(old, demo)
                path = os.path.join(tmp, "broken.yaml")
                with open(path, "w") as f:
                    f.write(demo.replace(old, new, 1))
                p = validate(path)
                self.assertEqual(p.returncode, 1, "%r -> %r:\n%s" % (old, new, p.stderr))


if __name__ == "__main__":
    if not BIN or not YAML2JSON:
        print("usage: SWITCHYARD_BIN=... test_schema.py policy-yaml2json", file=sys.stderr)
        sys.exit(1)
    unittest.main(argv=sys.argv[:1], verbosity=2)
