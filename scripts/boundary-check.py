#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""latchd's layer boundaries (docs/architecture.md, "Layers"), checked on the
headers each source file really pulls in (the compiler's -M list, so an
include through another header counts too).

- A layer includes latchd headers only of the layers below it.
- Only dataplane/ reaches libnftnl, libmnl or <linux/xfrm.h>.
- core/ never sees the VICI codec: charon/ hands it types.
Prints one line per violation and exits 1 if there is any."""
import subprocess
import sys
from pathlib import Path

# What each layer of src/latchd may include from src/latchd (itself always).
BELOW = {
    "base": set(),
    "charon": {"base"},
    "dataplane": {"base"},
    "db": {"base"},
    "cred": set(),
    "control": {"base"},
    "core": {"base", "charon", "dataplane", "db", "cred", "control"},
    "": {"base", "charon", "dataplane", "db", "cred", "control", "core"},
}
PRIVILEGED = ("/libnftnl/", "/libmnl/", "/linux/xfrm.h")
CODEC = "src/latchd/charon/vici-msg.h"


def deps(root, src):
    out = subprocess.run(
        ["cc", "-M", "-D_GNU_SOURCE", "-I", "include", "-I", "src", str(src)],
        cwd=root, capture_output=True, text=True, check=True).stdout
    words = out.replace("\\\n", " ").split()[2:]  # "x.o:" and the source itself
    return [w[2:] if w.startswith("./") else w for w in words]


def layer(path):
    parts = Path(path).relative_to("src/latchd").parts
    return parts[0] if len(parts) > 1 else ""


def violations(root):
    srcs = sorted(p.relative_to(root) for p in (root / "src").rglob("*.c"))
    for src in srcs:
        inside = src.parts[:2] == ("src", "latchd")
        for dep in deps(root, src):
            if any(p in dep for p in PRIVILEGED) and not str(src).startswith(
                    "src/latchd/dataplane/"):
                yield f"{src}: reaches {dep} (only dataplane/ may)"
            if not inside or not dep.startswith("src/latchd/"):
                continue
            mine, theirs = layer(src), layer(dep)
            if theirs != mine and theirs not in BELOW[mine]:
                yield f"{src}: includes {dep} ({theirs}/ is not below {mine or 'main'}/)"
            if mine == "core" and dep == CODEC:
                yield f"{src}: sees the VICI codec ({CODEC}); charon/ hands core/ types"


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    found = list(violations(root))
    for line in found:
        print(line)
    print(f"boundaries: {len(found)} violations")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
