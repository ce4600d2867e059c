"""kit.py - shared helpers for the monitoring-kit tests (tests/monitoring).

Reads monitoring/ (alerts.yml, recording.yml, grafana-dashboard.json), finds
promtool, and pulls the metric names out of PromQL expressions. Python 3
standard library only: YAML goes through the build's policy-yaml2json
(libyaml), whose path meson passes in YAML2JSON.
"""

import json
import os
import re
import shutil
import subprocess
import sys

SKIP = 77  # meson: this test was skipped

# Metrics the kit queries that switchyard does not export yet, with the issue
# that adds them. tests/monitoring/test_live_metrics.py asserts that each is
# ABSENT from a live /metrics today and that every other metric the kit uses
# is present, so the test fails as soon as one lands: whoever exports one of
# these removes it from this list (and the test then checks it is there).
NOT_YET_EXPORTED = {
}

# Metrics a router exports only with `shared_state` (several instances on
# Redis): absent from a single instance's /metrics, which the live test
# checks; tests/integration/test_shared_state.py checks them with a Redis.
ONLY_WITH_SHARED_STATE = {
    "switchyard_shared_state_up",
}


def source_root():
    return os.environ.get("SOURCE_ROOT") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


def kit_path(*parts):
    return os.path.join(source_root(), "monitoring", *parts)


ALERTS = kit_path("alerts.yml")
RECORDING = kit_path("recording.yml")
DASHBOARD = kit_path("grafana-dashboard.json")
RULE_TESTS_DIR = kit_path("tests")


def promtool_or_skip():
    """The promtool path; exits 77 (meson's skip) when Debian's prometheus
    package is not installed. scripts/debian-packages.txt lists it, so CI has it."""
    path = shutil.which("promtool")
    if not path:
        print("SKIP: promtool not found (install the Debian package 'prometheus')")
        sys.exit(SKIP)
    return path


def run(argv, stdin=None, timeout=60):
    """(exit code, stdout + stderr)."""
    p = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", errors="replace")


def load_yaml(path):
    tool = os.environ.get("YAML2JSON")
    if not tool:
        raise AssertionError("YAML2JSON is not set (run these tests through meson test)")
    code, out = run([tool, path])
    if code != 0:
        raise AssertionError(f"{path} is not valid YAML: {out}")
    return json.loads(out)


def rules(path):
    """Every rule of a rule file, as dicts (record|alert, expr, labels, ...)."""
    doc = load_yaml(path)
    out = []
    for g in doc.get("groups") or []:
        out.extend(g.get("rules") or [])
    return out


def load_dashboard():
    with open(DASHBOARD) as fh:
        return json.load(fh)


def dashboard_panels(dash):
    """Every panel, rows' nested panels included."""
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def dashboard_exprs(dash):
    """(where, expr) for every PromQL expression: panel targets and annotations."""
    out = []
    for p in dashboard_panels(dash):
        for t in p.get("targets", []) or []:
            if t.get("expr"):
                out.append((f"panel '{p.get('title')}' {t.get('refId')}", t["expr"]))
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            out.append((f"annotation '{a.get('name')}'", a["expr"]))
    return out


# Grafana's built-in variables, replaced by plain durations so that
# promtool can parse the expression.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def grafana_to_promql(expr):
    for k, v in GRAFANA_VARS.items():
        expr = expr.replace(k, v)
    return expr


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_NAME = re.compile(r"(?<![\w:])([a-zA-Z_:][\w:]*)(?![\w:])")
# Words that look like names in PromQL but are not series.
_PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "rate", "irate", "increase", "delta", "idelta",
    "histogram_quantile", "clamp_max", "clamp_min", "clamp", "abs", "absent", "vector",
    "scalar", "label_replace", "label_join", "time", "round", "inf", "nan", "le",
}
_HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def series_names(expr):
    """The series names an expression reads: metric names (switchyard_*, up)
    and recording-rule names (with a colon). Label names inside {...} and
    (by ...) lists, strings and keywords are left out."""
    expr = _STRING.sub('""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)                    # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)                   # range durations
    names = set()
    for m in _NAME.finditer(expr):
        w = m.group(1)
        rest = expr[m.end():].lstrip()
        if w.lower() in _PROMQL_WORDS or rest.startswith("("):
            continue                                         # keyword or function call
        if re.fullmatch(r"[0-9.e]+", w):
            continue
        names.add(w)
    return names


def metric_family(name, histograms):
    """switchyard_x_bucket -> switchyard_x when switchyard_x is a histogram."""
    for suf in _HIST_SUFFIXES:
        if name.endswith(suf) and name[: -len(suf)] in histograms:
            return name[: -len(suf)]
    return name


def parse_exposition(text):
    """{family: {"type": t, "samples": [(name, labels dict, value)]}} from the text format."""
    fams = {}
    types = {}
    line_re = re.compile(r'^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            fams.setdefault(name, {"type": typ, "samples": []})
            continue
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        name = m.group(1)
        fam = metric_family(name, {n for n, t in types.items() if t == "histogram"})
        labels = dict(label_re.findall(m.group(3) or ""))
        fams.setdefault(fam, {"type": types.get(fam, "untyped"), "samples": []})
        fams[fam]["samples"].append((name, labels, float(m.group(4))))
    return fams
