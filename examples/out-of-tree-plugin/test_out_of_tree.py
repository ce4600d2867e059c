#!/usr/bin/env python3
"""Build the example plugin out of tree, against an installed switchyard,
through pkg-config only, and load it with `switchyard plugins --path`.

usage: test_out_of_tree.py BUILD_DIR
Steps: `meson install --destdir` into a temporary root; copy hello.c and the
Makefile to a temporary folder (away from the source tree); `make` with
pkg-config pointed only at the staged switchyard-plugin.pc (PKG_CONFIG_LIBDIR,
PKG_CONFIG_SYSROOT_DIR); then `switchyard plugins --path OUT` must list it.
Also: the .pc's ABI variables match `switchyard version`, the staged plugin
directory holds the three shipped plugins and they load, and the build
tree's uninstalled .pc (build/meson-uninstalled) builds the example too.
Needs SWITCHYARD_BIN from the test environment.
"""
import glob
import os
import shutil
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


HERE = os.path.dirname(os.path.abspath(__file__))


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)
    if p.returncode != 0:
        print(f'$ {" ".join(cmd)}\nexit {p.returncode}\n{p.stdout}{p.stderr}')
        sys.exit(1)
    return p.stdout


def fail(msg):
    print('FAIL', msg)
    sys.exit(1)


def main():
    build = sys.argv[1]
    sy = os.environ['SWITCHYARD_BIN']
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, 'root')
        sh(['meson', 'install', '-C', build, '--destdir', root, '--no-rebuild', '--quiet'])

        pcs = glob.glob(os.path.join(root, '**', 'switchyard-plugin.pc'), recursive=True)
        if len(pcs) != 1:
            fail(f'expected one installed switchyard-plugin.pc, found {pcs}')
        pcdir = os.path.dirname(pcs[0])
        headers = glob.glob(os.path.join(root, '**', 'include', 'switchyard', 'plugin.h'),
                            recursive=True)
        if len(headers) != 1:
            fail(f'expected one installed switchyard/plugin.h, found {headers}')

        env = dict(os.environ, PKG_CONFIG_LIBDIR=pcdir, PKG_CONFIG_PATH='',
                   PKG_CONFIG_SYSROOT_DIR=root)
        cflags = sh(['pkg-config', '--cflags', 'switchyard-plugin'], env=env).strip()
        inc = os.path.dirname(os.path.dirname(headers[0]))
        if f'-I{inc}' not in cflags.split():
            fail(f'pkg-config --cflags gives {cflags!r}, not -I{inc}')
        abi = sh(['pkg-config', '--variable=abi_major', 'switchyard-plugin'], env=env).strip()
        minor = sh(['pkg-config', '--variable=abi_minor', 'switchyard-plugin'], env=env).strip()
        version = sh([sy, 'version'])
        if f'(plugin ABI {abi}.{minor})' not in version:
            fail(f'.pc says ABI {abi}.{minor}, `switchyard version` says {version!r}')
        plugindir = sh(['pkg-config', '--variable=plugindir', 'switchyard-plugin'],
                       env=env).strip()
        if not plugindir.startswith(root):
            plugindir = root + plugindir
        staged = sorted(os.listdir(plugindir)) if os.path.isdir(plugindir) else []
        for so in ['sy_holysheep.so', 'sy_mock.so', 'sy_openai.so']:
            if so not in staged:
                fail(f'{so} not installed in plugindir {plugindir}: {staged}')

        # Build away from the source tree so only the installed header can be found.
        src, out = os.path.join(tmp, 'src'), os.path.join(tmp, 'out')
        os.makedirs(src)
        os.makedirs(out)
        for f in ['hello.c', 'Makefile']:
            shutil.copy(os.path.join(HERE, f), src)
        sh(['make', '-s', '-C', src, f'OUT={out}'], env=env)
        if not os.path.exists(os.path.join(out, 'sy_hello.so')):
            fail('make did not produce sy_hello.so')

        p = subprocess.run([sy, 'plugins', '--path', out], capture_output=True, text=True,
                           timeout=30)
        text = p.stdout + p.stderr
        for want in [f'hello 0.1.0 (plugin ABI {ABI})', 'token (secret, required)']:
            if want not in text:
                fail(f'`switchyard plugins --path {out}` lacks {want!r}:\n{text}')
        if p.returncode != 0 or 'not loaded' in text:
            fail(f'`switchyard plugins --path {out}` exit {p.returncode}:\n{text}')

        # The uninstalled .pc in the build tree works too (pkg-config prefers
        # switchyard-plugin-uninstalled.pc when its folder is searched).
        out2 = os.path.join(tmp, 'out2')
        os.makedirs(out2)
        env2 = dict(os.environ, PKG_CONFIG_LIBDIR=os.path.join(build, 'meson-uninstalled'),
                    PKG_CONFIG_PATH='')
        env2.pop('PKG_CONFIG_SYSROOT_DIR', None)
        sh(['make', '-s', '-C', src, f'OUT={out2}'], env=env2)
        p = subprocess.run([sy, 'plugins', '--path', out2], capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0 or f'hello 0.1.0 (plugin ABI {ABI})' not in p.stdout:
            fail(f'build against the uninstalled .pc does not load:\n{p.stdout}{p.stderr}')

        p = subprocess.run([sy, 'plugins', '--path', plugindir], capture_output=True,
                           text=True, timeout=30)
        for name in ['openai', 'holysheep', 'mock']:
            if f'\n{name} 1.0.0 (plugin ABI {ABI})' not in p.stdout:
                fail(f'installed {name} does not load:\n{p.stdout}{p.stderr}')
    print('ok: built out of tree through pkg-config and loaded by switchyard plugins')


if __name__ == '__main__':
    main()
