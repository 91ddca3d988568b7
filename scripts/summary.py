#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sum up meson test logs into one line: 'N passed, N failed, N skipped'.

Each TAP test point counts once (cmocka unit tests and integration scripts
both speak TAP); a test that printed no TAP counts as one point by its result.
A test whose result is not OK while all its points passed (a crash after the
last point, a wrong plan, a timeout) adds one failure, so it cannot be lost.
Exits non-zero when anything failed or when nothing ran at all.
"""
import json
import re
import sys

POINT = re.compile(r'^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b.*)?', re.IGNORECASE)


def count(entry):
    passed = failed = skipped = 0
    for line in entry.get('stdout', '').splitlines():
        m = POINT.match(line)
        if not m:
            continue
        directive = (m.group(3) or '').upper()
        if directive == 'SKIP':
            skipped += 1
        elif m.group(1).lower() == 'ok' or directive == 'TODO':
            passed += 1
        else:
            failed += 1
    result = entry.get('result')
    if passed + failed + skipped == 0:
        if result == 'OK':
            passed = 1
        elif result == 'SKIP':
            skipped = 1
        else:
            failed = 1
    elif result not in ('OK', 'SKIP') and failed == 0:
        failed = 1
    return passed, failed, skipped


def main(paths):
    totals = [0, 0, 0]
    for path in paths:
        try:
            with open(path) as f:
                entries = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            print(f'summary: {path}: no test log (the suite did not run)', file=sys.stderr)
            totals[1] += 1
            continue
        for e in entries:
            p, fl, s = count(e)
            if fl:
                print(f'FAILED: {e["name"]} ({path})', file=sys.stderr)
            totals = [totals[0] + p, totals[1] + fl, totals[2] + s]
    print(f'{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped')
    return 1 if totals[1] or totals[0] == 0 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
