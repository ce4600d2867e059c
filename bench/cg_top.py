#!/usr/bin/env python3
"""bench/cg_top.py - instructions per request from a callgrind dump (bench/profile.sh).

  cg_top.py CALLGRIND_FILE REQUESTS LABEL [TOP] [--callers FUNC]...

Prints the program total divided by REQUESTS, the self cost per object
(switchyard, its plugins, libcurl, libc, libevent, cJSON), and the TOP functions
by inclusive and by self cost, per request. The dump is taken after
callgrind_control -z: the frames that were on the stack at the zero (the event
loop, the thread start) show their inclusive cost as self; those (self above
half the total) are left out of the self list.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(?:[*<>]\s+)?(.*?)\s*$")


def annotate(path, *args):
    out = subprocess.run(["callgrind_annotate", "--threshold=100", *args, path],
                         capture_output=True, text=True, check=True).stdout
    total, rows = 0, []
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        v = int(m.group(1).replace(",", ""))
        rest = m.group(2)
        if rest.startswith("PROGRAM TOTALS"):
            total = v
            continue
        m2 = re.match(r"(.*?):(.*?)(?: \((\d+)x\))? \[(.*)\]$", rest)
        if not m2:
            continue
        fn = m2.group(2)
        obj = m2.group(4).rsplit("/", 1)[-1]
        rows.append((v, fn, obj))
    return total, rows


def short(obj):
    for k, name in (("libcurl", "libcurl"), ("libc.so", "libc"), ("libevent", "libevent"),
                    ("libcjson", "cJSON"), ("ld-linux", "ld.so")):
        if k in obj:
            return name
    return obj


def main():
    args = sys.argv[1:]
    callers = []
    while "--callers" in args:
        i = args.index("--callers")
        callers.append(args[i + 1])
        del args[i:i + 2]
    path, n, label = args[0], int(args[1]), args[2]
    top = int(args[3]) if len(args) > 3 else 40
    total, inc = annotate(path, "--inclusive=yes")
    _, self_ = annotate(path)
    self_ = [r for r in self_ if r[0] < total / 2]
    print("== %s: %.1f k instructions per request (%d requests)" % (label, total / n / 1000.0, n))
    by_obj = {}
    for v, fn, obj in self_:
        by_obj[short(obj)] = by_obj.get(short(obj), 0) + v
    print("   self cost by object, per request: " + ", ".join(
        "%s %.1f k" % (k, v / n / 1000.0) for k, v in sorted(by_obj.items(), key=lambda kv: -kv[1])))
    print("   inclusive, per request:")
    for v, fn, obj in [r for r in inc if r[0] < total * 0.95][:top]:
        print("   %9.0f  %s  [%s]" % (v / n, fn, short(obj)))
    print("   self, per request:")
    for v, fn, obj in self_[:top]:
        print("   %9.0f  %s  [%s]" % (v / n, fn, short(obj)))
    if callers:
        out = subprocess.run(["callgrind_annotate", "--threshold=100", "--tree=caller", path],
                             capture_output=True, text=True, check=True).stdout
        blocks = out.split("\n\n")
        for c in callers:
            for b in blocks:
                if re.search(r"\*\s+\S*:%s \[" % re.escape(c), b):
                    print("   callers of %s:" % c)
                    for line in b.strip().splitlines():
                        m = LINE.match(line)
                        if m:
                            print("   %9.0f  %s" % (int(m.group(1).replace(",", "")) / n, m.group(2)))
    print()


if __name__ == "__main__":
    main()
