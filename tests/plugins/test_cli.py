#!/usr/bin/env python3
"""CLI tests for plugins: `switchyard plugins` and `switchyard validate` on
policies whose plugin is one of the broken loader fixtures.

usage: test_cli.py FIXTURE_DIR
Needs SWITCHYARD_BIN and SWITCHYARD_PLUGIN_PATH (the build's plugins) from
the test environment.
"""
import os
import re
import subprocess
import sys
import tempfile

def _abi():
    import os, re
    root = os.environ.get("SOURCE_ROOT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    text = open(os.path.join(root, "router", "include", "switchyard", "plugin.h")).read()
    major = re.search(r"#define SY_PLUGIN_ABI_MAJOR (\d+)", text).group(1)
    minor = re.search(r"#define SY_PLUGIN_ABI_MINOR (\d+)", text).group(1)
    return f"{major}.{minor}"


ABI = _abi()


BIN = os.environ['SWITCHYARD_BIN']
BUILD_PLUGINS = os.environ['SWITCHYARD_PLUGIN_PATH']
FIXTURES = sys.argv[1]
failures = []


def run(args, env_extra=None, unset=()):
    env = dict(os.environ)
    for k in unset:
        env.pop(k, None)
    env.update(env_extra or {})
    p = subprocess.run([BIN] + args, capture_output=True, text=True, env=env, timeout=30)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=''):
    if cond:
        print(f'ok   {name}')
    else:
        print(f'FAIL {name}\n{detail}')
        failures.append(name)


def show(rc, out, err):
    return f'exit {rc}\n--- stdout\n{out}--- stderr\n{err}'


def test_plugins_lists_the_shipped_plugins():
    rc, out, err = run(['plugins'])
    d = show(rc, out, err)
    check('plugins: exit 0', rc == 0, d)
    for line in [f'openai 1.0.0 (plugin ABI {ABI})', f'holysheep 1.0.0 (plugin ABI {ABI})',
                 f'mock 1.0.0 (plugin ABI {ABI})', f'this switchyard speaks plugin ABI {ABI}',
                 '    api_key (secret, required)', '    organization (string, optional)',
                 '    include_usage_in_streams (bool, default true)',
                 '    region (string, optional)', '    latency (duration, default 20ms)',
                 '    reply (string, default "Hello from the switchyard mock provider.")',
                 '    models (string, default "")', 'answers locally (no upstream)',
                 f'  file: {os.path.realpath(BUILD_PLUGINS)}/sy_openai.so',
                 f'plugin directories (from SWITCHYARD_PLUGIN_PATH):\n  {BUILD_PLUGINS}']:
        check(f'plugins: lists {line.strip()!r}', line in out, d)
    check('plugins: nothing failed', 'not loaded' not in out, d)
    # openai declares no endpoint keys
    block = out.split('\nopenai ')[1].split('\n\n')[0]
    check('plugins: openai has no endpoint keys', '  endpoint keys: none' in block, block)


def test_plugins_lists_broken_files_with_their_error():
    rc, out, err = run(['plugins', '--path', FIXTURES])
    d = show(rc, out, err)
    check('plugins --path fixtures: exit 0 (one plugin loaded)', rc == 0, d)
    check('plugins --path overrides SWITCHYARD_PLUGIN_PATH', 'openai' not in out, d)
    check('plugins --path: lists good', f'good 0.0.1 (plugin ABI {ABI})' in out, d)
    for name, abi in (('abi10', '1.0'), ('abi11', '1.1')):
        check(f'plugins --path: lists {name}, built for ABI {abi}',
              f'{name} 0.0.1 (plugin ABI {abi})' in out, d)
    check('plugins --path: has a not loaded section', '\nnot loaded:\n' in out, d)
    for f, why in [('sy_abi2.so', f'built for plugin ABI 2.x, this switchyard speaks {ABI}'),
                   ('sy_newminor.so', f"newer than this switchyard's {ABI}"),
                   ('sy_text.so', 'not a shared object'),
                   ('sy_nosym.so', "no 'switchyard_plugin' descriptor symbol"),
                   ('sy_nocreate.so', 'no create callback'),
                   ('sy_nobuild.so', 'no build_request callback'),
                   ('sy_dupkey.so', "config key 'greeting' is declared twice")]:
        pat = re.compile(r'^  \S*/' + re.escape(f) + ': .*' + re.escape(why), re.M)
        check(f'plugins --path: {f} listed with its error', pat.search(out) is not None, d)


def test_plugins_exit_1_when_nothing_loads():
    with tempfile.TemporaryDirectory() as empty:
        rc, out, err = run(['plugins', '--path', empty])
        check('plugins on an empty dir: exit 1', rc == 1, show(rc, out, err))
        check('plugins on an empty dir: says so', 'no plugin could be loaded' in err,
              show(rc, out, err))
    with tempfile.TemporaryDirectory() as broken:
        for f in ['sy_abi2.so', 'sy_text.so']:
            os.symlink(os.path.join(FIXTURES, f), os.path.join(broken, f))
        rc, out, err = run(['plugins', '--path', broken])
        d = show(rc, out, err)
        check('plugins on broken files only: exit 1', rc == 1, d)
        check('plugins on broken files only: lists them', 'sy_abi2.so: built for' in out
              and 'sy_text.so: not a shared object' in out, d)
    rc, out, err = run(['plugins', '--path', f'/nonexistent-dir:{FIXTURES}'])
    check('plugins --path A:B searches both', rc == 0 and 'good 0.0.1' in out, show(rc, out, err))


def test_plugins_usage_errors():
    for args in (['plugins', '--bogus'], ['plugins', '--path'], ['plugins', 'extra']):
        rc, out, err = run(args)
        check(f'{" ".join(args)}: exit 2', rc == 2 and 'usage:' in err, show(rc, out, err))
    rc, out, err = run(['plugins', '--help'])
    check('plugins --help: exit 0', rc == 0 and 'usage:' in out, show(rc, out, err))


POLICY = """version: 1
providers:
  broken:
    plugin: {name}
    endpoints:
      - {{name: e1, base_url: "http://127.0.0.1:9/v1"}}
migration:
  stable: broken
"""
PLUGIN_LINE = 4


def validate(name, env_extra, unset=(), policy=POLICY):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f'uses-{name}.yaml')
        with open(path, 'w') as f:
            f.write(policy.format(name=name, dir=FIXTURES))
        rc, out, err = run(['validate', path], env_extra, unset)
        return path, rc, out + err


def test_validate_reports_each_loader_error_at_the_plugin_line():
    cases = [
        ('abi2', f'built for plugin ABI 2.x, this switchyard speaks {ABI}'),
        ('newminor', f"newer than this switchyard's {ABI}"),
        ('small', 'descriptor is'),
        ('text', 'not a shared object'),
        ('nosym', "no 'switchyard_plugin' descriptor symbol"),
        ('nocreate', 'no create callback'),
        ('nobuild', 'no build_request callback'),
        ('dupkey', "config key 'greeting' is declared twice"),
        ('badtype', 'has type 42'),
        ('nope', "plugin 'nope' not found"),
    ]
    env = {'SWITCHYARD_PLUGIN_PATH': FIXTURES}
    for name, want in cases:
        path, rc, out = validate(name, env)
        pat = re.compile('^' + re.escape(path) + f':{PLUGIN_LINE}:' + r'\d+: error: .*'
                         + re.escape(want), re.M)
        check(f'validate with plugin {name}: exit 1', rc == 1, out)
        check(f'validate with plugin {name}: error at the plugin: line', pat.search(out), out)


def test_validate_accepts_a_good_plugin():
    path, rc, out = validate('good', {'SWITCHYARD_PLUGIN_PATH': FIXTURES})
    check('validate with plugin good: exit 0', rc == 0, out)
    for name in ('abi10', 'abi11'):
        path, rc, out = validate(name, {'SWITCHYARD_PLUGIN_PATH': FIXTURES})
        check(f'validate with plugin {name} (built for an older ABI minor): exit 0', rc == 0, out)


def test_validate_uses_plugins_path_from_the_policy():
    policy = 'plugins:\n  path: ["{dir}"]\n' + POLICY
    path, rc, out = validate('abi2', {}, unset=['SWITCHYARD_PLUGIN_PATH'], policy=policy)
    pat = re.compile('^' + re.escape(path) + f':{PLUGIN_LINE + 2}:' + r'\d+: error: .*'
                     + re.escape('built for plugin ABI 2.x'), re.M)
    check('validate finds plugins through plugins.path', rc == 1 and pat.search(out), out)


def test_explain_path_skips_a_provider_that_does_not_serve_it():
    """Plugin ABI 1.3: a plugin declares what it serves. The `abi11` fixture
    (built before 1.3) serves chat, completions and embeddings only; the mock
    serves the Responses API too."""
    policy = (
        'version: 1\n'
        'providers:\n'
        '  official:\n'
        '    plugin: mock\n'
        '    endpoints: [{name: global}]\n'
        '  relay:\n'
        '    plugin: abi11\n'
        '    endpoints: [{name: r1, base_url: "http://127.0.0.1:9/v1"}]\n'
        'migration:\n'
        '  stable: official\n'
        '  canary: relay\n'
        '  rollout: {percent: 100}\n')
    env = {'SWITCHYARD_PLUGIN_PATH': FIXTURES + ':' + BUILD_PLUGINS}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'ops.yaml')
        with open(path, 'w') as f:
            f.write(policy)
        rc, out, err = run(['explain', path, '--model', 'gpt-4.1', '--user', 'u', '--path',
                            '/v1/responses'], env)
        d = show(rc, out, err)
        check('explain --path /v1/responses: exit 0', rc == 0, d)
        check('explain --path /v1/responses: the relay is skipped, and why',
              'skipped: provider relay: its plugin (abi11) does not serve /v1/responses' in out, d)
        check('explain --path /v1/responses: says where a continued conversation goes',
              'previous_response_id goes instead to the endpoint' in out, d)
        check('explain --path /v1/responses: the plan is the stable route only',
              re.search(r'^\s+1\s+1\s+stable\s+official\s+global', out, re.M)
              and 'relay  r1' not in out, d)
        rc, out, err = run(['explain', path, '--model', 'gpt-4.1', '--user', 'u', '--json'], env)
        check('explain (chat): the relay serves chat', rc == 0 and '"provider":"relay"' in out
              and '"skipped":[]' in out, show(rc, out, err))
        rc, out, err = run(['explain', path, '--model', 'gpt-4.1', '--path', '/v1/nope'], env)
        check('explain --path with an unknown path: exit 2', rc == 2 and '--path' in err,
              show(rc, out, err))


MODES = {
    'plugins': [test_plugins_lists_the_shipped_plugins,
                test_plugins_lists_broken_files_with_their_error,
                test_plugins_exit_1_when_nothing_loads,
                test_plugins_usage_errors],
    'validate': [test_validate_reports_each_loader_error_at_the_plugin_line,
                 test_validate_accepts_a_good_plugin,
                 test_validate_uses_plugins_path_from_the_policy,
                 test_explain_path_skips_a_provider_that_does_not_serve_it],
}

if __name__ == '__main__':
    mode = sys.argv[2] if len(sys.argv) > 2 else 'plugins'
    for t in MODES[mode]:
        t()
    if failures:
        print(f'{len(failures)} failed')
        sys.exit(1)
