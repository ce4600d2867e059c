#!/usr/bin/env python3
"""Each shipped plugin must export exactly one symbol of ours: switchyard_plugin.

usage: check_exports.py NM PLUGIN.so...

Symbols the toolchain adds on its own (_init, _fini, linker markers, and the
sanitizer runtimes' hooks in an ASan/UBSan build) are not ours and are ignored.
"""
import re
import subprocess
import sys

TOOLCHAIN = re.compile(r'^(_init|_fini|_edata|_end|__bss_start|__end__|_ITM_.*|'
                       r'__(a|ub|t|m|l|hw)san.*|__odr_asan.*|__sancov.*|__sanitizer.*|'
                       r'__gcov.*|__llvm.*)$')


def main():
    nm, plugins = sys.argv[1], sys.argv[2:]
    if not plugins:
        print('no plugins given')
        return 1
    bad = 0
    for so in plugins:
        out = subprocess.run([nm, '-D', '--defined-only', so], check=True,
                             capture_output=True, text=True).stdout
        names = [line.split()[-1] for line in out.splitlines() if line.strip()]
        ours = sorted(n for n in names if not TOOLCHAIN.match(n))
        if ours != ['switchyard_plugin']:
            print(f'{so}: exports {ours}, want exactly [switchyard_plugin]')
            bad += 1
        else:
            print(f'{so}: ok')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
