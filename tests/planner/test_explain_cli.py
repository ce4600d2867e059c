#!/usr/bin/env python3
"""`switchyard explain` end to end: the real binary, the real policy loader,
the real plugins.

- 2,000 user ids on a 10 % rollout put close to 10 % on the canary;
- every bucket matches an independent implementation of the sticky hash
  (FNV-1a 64 over salt, 0, key; murmur3 fmix64; % 10000);
- the plan's shape on each arm; monotonic percentages; sticky sources;
- usage errors exit 2, bad policies exit 1; no secret is ever printed.
With the argument `url-secrets`: only the check that base URLs built from
${VAR} are printed as written and user-info is masked.

Environment (set by tests/meson.build): SWITCHYARD_BIN, SOURCE_ROOT.
"""
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

BIN = os.environ["SWITCHYARD_BIN"]
ROOT = os.environ["SOURCE_ROOT"]
POLICY = os.path.join(ROOT, "policies", "holysheep-migration.yaml")
N_USERS = 2000

SECRETS = {
    "OPENAI_API_KEY": "sk-official-SECRET-0b7e",
    "HOLYSHEEP_API_KEY": "hs-SECRET-91c4",
    "SWITCHYARD_CLIENT_KEYS": "client-SECRET-a,client-SECRET-b",
    "SWITCHYARD_ADMIN_KEY": "admin-SECRET-77",
    "SY_TEST_URL_SECRET": "url-SECRET-5d2a",
}
ENV = dict(os.environ, **SECRETS)

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def run(*args):
    p = subprocess.run([BIN, "explain", *args], env=ENV, capture_output=True, text=True,
                       timeout=60)
    for name, value in SECRETS.items():
        for part in value.split(","):
            if part in p.stdout or part in p.stderr:
                failures.append(f"explain {args}: printed the value of {name}")
    return p


def explain_json(*args):
    p = run(*args, "--json")
    if p.returncode != 0:
        raise AssertionError(f"explain {args} exited {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)


def sticky_bucket(salt, key):
    m = (1 << 64) - 1
    h = 0xcbf29ce484222325
    for c in salt.encode() + b"\0" + key.encode():
        h = ((h ^ c) * 0x100000001b3) & m
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & m
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & m
    h ^= h >> 33
    return h % 10000


def many(fn, items):
    with ThreadPoolExecutor(max_workers=max(2, min(16, (os.cpu_count() or 2) * 2))) as ex:
        return list(ex.map(fn, items))


def explain_batch(users, *args):
    """One process for many users: --users-from - prints one JSON line each."""
    p = subprocess.run([BIN, "explain", *args, "--json", "--users-from", "-"], env=ENV,
                       input="".join(u + "\n" for u in users), capture_output=True, text=True,
                       timeout=120)
    for name, value in SECRETS.items():
        for part in value.split(","):
            if part in p.stdout or part in p.stderr:
                failures.append(f"explain --users-from: printed the value of {name}")
    if p.returncode != 0:
        raise AssertionError(f"explain --users-from exited {p.returncode}: {p.stderr}")
    lines = p.stdout.splitlines()
    if len(lines) != len(users):
        raise AssertionError(f"explain --users-from: {len(lines)} lines for {len(users)} users")
    return [json.loads(line) for line in lines]


def test_share_and_hash():
    users = [f"user-{i}" for i in range(N_USERS)]
    outs = explain_batch(users, POLICY, "--model", "gpt-4.1")
    # The batch answers exactly what one explain per user answers (a sample:
    # each run is a process start).
    sample = users[:: N_USERS // 40]
    singles = many(lambda u: explain_json(POLICY, "--model", "gpt-4.1", "--user", u), sample)
    for user, single in zip(sample, singles):
        check(single == outs[users.index(user)], f"{user}: --users-from differs from --user")
    canary = 0
    for user, o in zip(users, outs):
        for key in ("arm", "bucket", "plan", "sticky_source", "percent", "retry",
                    "deadline_ms"):
            check(key in o, f"{user}: no '{key}' in the JSON")
        check(o["percent"] == 10, f"{user}: percent {o['percent']}, policy says 10")
        check(o["sticky_source"] == "header:x-user-id",
              f"{user}: sticky_source {o['sticky_source']}")
        want = sticky_bucket(o["rollout_id"], user)
        check(o["bucket"] == want, f"{user}: bucket {o['bucket']}, independent hash says {want}")
        check((o["arm"] == "canary") == (o["bucket"] < 1000),
              f"{user}: arm {o['arm']} with bucket {o['bucket']} at 10%")
        plan = [(s["provider"], s["endpoint"], s["model"]) for s in o["plan"]]
        if o["arm"] == "canary":
            canary += 1
            check(plan[:3] == [("holysheep", "cn-north", "gpt-4.1"),
                               ("holysheep", "cn-east", "gpt-4.1"),
                               ("openai-official", "global", "gpt-4.1")],
                  f"{user}: canary plan starts {plan[:3]}")
            check(all(e in ("cn-north", "cn-east") for p, e, _ in plan if p == "holysheep"),
                  f"{user}: canary outside canary_endpoints: {plan}")
        else:
            check(all(p == "openai-official" for p, _, _ in plan),
                  f"{user}: stable plan uses the canary: {plan}")
        models = []
        for _, _, m in plan:
            if m not in models:
                models.append(m)
        check(models == ["gpt-4.1", "gpt-4o", "gpt-4o-mini", "claude-sonnet-4.5"],
              f"{user}: models in order {models}")
    share = canary / N_USERS
    print(f"canary share over {N_USERS} users at 10%: {share:.4f}")
    check(0.085 <= share <= 0.115, f"canary share {share:.4f}, want close to 0.10")
    return users, outs


def test_monotonic(users, outs):
    # Users on the canary at 10 % stay there at 25 %, 50 %, 100 %; nobody at 0 %.
    for pct in ("0", "25", "100"):
        res = explain_batch(users, POLICY, "--model", "gpt-4o", "--percent", pct)
        for user, base, o in zip(users, outs, res):
            check(o["bucket"] == base["bucket"], f"{user}: bucket moved with --percent")
            if pct == "0":
                check(o["arm"] == "stable", f"{user}: canary at 0%")
            elif pct == "100":
                check(o["arm"] == "canary", f"{user}: stable at 100%")
            if base["arm"] == "canary" and pct != "0":
                check(o["arm"] == "canary", f"{user}: left the canary at {pct}%")


def test_sources():
    a = explain_json(POLICY, "--model", "gpt-4o", "--header", "X-User-Id=alice")
    b = explain_json(POLICY, "--model", "gpt-4o", "--user", "alice")
    c = explain_json(POLICY, "--model", "gpt-4o", "--body-user", "alice")
    check(a["bucket"] == b["bucket"] == c["bucket"], "header, --user, body give one bucket")
    check(a["sticky_source"] == "header:x-user-id", f"header source {a['sticky_source']}")
    check(c["sticky_source"] == "body:user", f"body source {c['sticky_source']}")
    # The header is listed first: it wins over the body.
    d = explain_json(POLICY, "--model", "gpt-4o", "--header", "x-user-id=alice",
                     "--body-user", "bob")
    check(d["sticky_source"] == "header:x-user-id" and d["bucket"] == a["bucket"],
          "header beats body")
    # No key: stable, bucket null.
    e = explain_json(POLICY, "--model", "gpt-4o", "--percent", "100")
    check(e["arm"] == "stable" and e["bucket"] is None and e["sticky_source"] is None,
          f"no key: {e['arm']} {e['bucket']} {e['sticky_source']}")
    e = explain_json(POLICY, "--model", "gpt-4o", "--user", "", "--percent", "100")
    check(e["arm"] == "stable" and e["bucket"] is None, "an empty key is no key")


def test_human(users, outs):
    canary_user = next(u for u, o in zip(users, outs) if o["arm"] == "canary")
    p = run(POLICY, "--model", "gpt-4.1", "--user", canary_user)
    check(p.returncode == 0, f"human output exit {p.returncode}: {p.stderr}")
    for word in ("arm:      canary", "< 1000? yes -> canary", "sticky:   header:x-user-id",
                 "cn-north", "cn-east", "openai-official", "https://api.openai.com/v1",
                 "retry:", "deadline:", "breaker:", "gpt-4o-mini", "claude-sonnet-4.5"):
        check(word in p.stdout, f"human output lacks '{word}':\n{p.stdout}")
    check("cn-south" not in p.stdout, "canary outside canary_endpoints in human output")
    p = run(POLICY, "--model", "gpt-4o")
    check(p.returncode == 0 and "bucket:   none -> stable" in p.stdout,
          f"human output without a key:\n{p.stdout}")


def test_errors():
    usage = [
        (POLICY,),
        ("--model", "gpt-4o"),
        (POLICY, "--model"),
        (POLICY, "--model", "gpt-4o", "--bogus"),
        (POLICY, "--model", "gpt-4o", "--header", "novalue"),
        (POLICY, "--model", "gpt-4o", "--header", "=v"),
        (POLICY, "--model", "gpt-4o", "--percent", "150"),
        (POLICY, "--model", "gpt-4o", "--percent", "ten"),
        (POLICY, POLICY, "--model", "gpt-4o"),
        (POLICY, "--model", ""),
    ]
    for args in usage:
        p = run(*args)
        check(p.returncode == 2, f"explain {args}: exit {p.returncode}, want 2 (usage)")
        check(p.stderr.strip() != "", f"explain {args}: no message")
    p = run("/nonexistent/policy.yaml", "--model", "gpt-4o")
    check(p.returncode == 1, f"missing policy: exit {p.returncode}, want 1")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write("version: 1\nretri:\n  max_attempts: 3\n")
        bad = f.name
    try:
        p = run(bad, "--model", "gpt-4o", "--json")
        check(p.returncode == 1, f"bad policy: exit {p.returncode}, want 1")
        check(":2:" in p.stderr and "error" in p.stderr,
              f"bad policy: no diagnostic at line 2: {p.stderr}")
        check(p.stdout == "", "bad policy: something on stdout")
    finally:
        os.unlink(bad)


URL_POLICY = """version: 1
providers:
  relay:
    plugin: openai
    api_key: ${OPENAI_API_KEY}
    endpoints:
      - {name: a, base_url: "https://bob:${SY_TEST_URL_SECRET}@relay.example/v1"}
      - {name: b, base_url: "https://${SY_TEST_URL_SECRET}.relay.example/v1"}
migration:
  stable: relay
"""


def test_latency_balance():
    """balance: latency: explain orders equal-priority endpoints by the figures given
    with --latency, and prints the figures it used."""
    import tempfile
    text = ("version: 1\nproviders:\n  p:\n    plugin: mock\n    balance: latency\n"
            "    endpoints:\n      - {name: a, priority: 1}\n      - {name: b, priority: 1}\n"
            "      - {name: c, priority: 2}\nmigration: {stable: p}\n")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        o = explain_json(f.name, "--model", "m", "--latency", "p/a=300", "--latency", "p/b=40",
                         "--latency", "p/c=1")
        order = [(s["endpoint"], s.get("latency_ms")) for s in o["plan"]]
        check(order == [("b", 40), ("a", 300), ("c", 1)], f"latency order: {order}")
        o = explain_json(f.name, "--model", "m")
        order = [(s["endpoint"], s.get("latency_ms")) for s in o["plan"]]
        check(order == [("a", None), ("b", None), ("c", None)], f"no figures: {order}")
        p = run(f.name, "--model", "m", "--latency", "p/b=40")
        check(p.returncode == 0 and "(latency 40 ms)" in p.stdout, f"human output: {p.stdout}")
        p = run(f.name, "--model", "m", "--latency", "nonsense")
        check(p.returncode == 2 and "PROVIDER/ENDPOINT=MS" in p.stderr, f"bad --latency: {p.stderr}")
    finally:
        os.unlink(f.name)


def test_url_secrets():
    # A base URL built from the environment is printed as written; user-info
    # is masked. run() fails the test if any secret's value shows up.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(URL_POLICY)
        path = f.name
    try:
        for fmt in ((), ("--json",)):
            p = run(path, "--model", "m", *fmt)
            check(p.returncode == 0, f"url policy {fmt}: exit {p.returncode}: {p.stderr}")
            check("***@relay.example/v1" in p.stdout, f"user-info not masked:\n{p.stdout}")
            check("${SY_TEST_URL_SECRET}.relay.example" in p.stdout,
                  f"an env-built base URL is not shown as written:\n{p.stdout}")
    finally:
        os.unlink(path)


def main():
    if sys.argv[1:] == ["url-secrets"]:
        test_url_secrets()
        return report()
    if not os.path.exists(POLICY):
        print(f"FAIL: {POLICY} is missing")
        return 1
    users, outs = test_share_and_hash()
    test_monotonic(users, outs)
    test_sources()
    test_human(users, outs)
    test_errors()
    test_latency_balance()
    return report()


def report():
    for f in failures[:50]:
        print("FAIL:", f)
    if len(failures) > 50:
        print(f"... and {len(failures) - 50} more")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
