#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Render every man page given and fail on any warning.

Three checks per page:
  - groff -man -ww -z: every warning groff knows (always installed with man-db);
  - mandoc -T lint -W warning, when mandoc is installed;
  - words run together: an alternating-font macro (.BR, .IR, ...) renders its
    arguments without spaces between them, so two bare words side by side in
    one (".BR ca . An unknown key") print as "ca.Anunknownkey". Neither
    renderer warns about it.
Usage: man-lint.py PAGE...
"""
import re
import shlex
import shutil
import subprocess
import sys

ALTERNATING = {"BR", "RB", "IR", "RI", "BI", "IB"}
WORD = re.compile(r"^[A-Za-z][A-Za-z0-9'_-]*[.,;:]?$")


def run_together(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"^\.([A-Z]{2})\s+(.*)$", line.rstrip("\n"))
            if not m or m.group(1) not in ALTERNATING:
                continue
            try:
                args = shlex.split(m.group(2).replace("\\", "\\\\"), posix=True)
            except ValueError as e:
                problems.append(f"{path}:{n}: cannot split the arguments: {e}")
                continue
            raw = m.group(2)
            quoted = set(re.findall(r'"([^"]*)"', raw))
            for a, b in zip(args, args[1:]):
                if a in quoted or b in quoted:
                    continue
                if WORD.match(a) and WORD.match(b) and not a.endswith("(") and len(b) > 1:
                    problems.append(
                        f"{path}:{n}: .{m.group(1)} runs '{a}' and '{b}' together"
                        " (prose belongs on its own line)")
                    break
    return problems


def main(pages):
    failed = False
    mandoc = shutil.which("mandoc")
    for page in pages:
        out = subprocess.run(["groff", "-man", "-ww", "-z", page], capture_output=True,
                             text=True)
        msgs = [l for l in out.stderr.splitlines() if l.strip()]
        if mandoc:
            out = subprocess.run([mandoc, "-T", "lint", "-W", "warning", page],
                                 capture_output=True, text=True)
            msgs += [l for l in (out.stdout + out.stderr).splitlines() if l.strip()]
        msgs += run_together(page)
        for m in msgs:
            print(m)
        print(f"{'not ok' if msgs else 'ok'} - {page}"
              f" (groff{', mandoc' if mandoc else ''}, run-together words)")
        failed |= bool(msgs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
