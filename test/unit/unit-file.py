#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The shipped systemd unit lets latchd do what its kernel data plane needs.

- systemd-analyze verify passes on the unit (ExecStart pointed at the built
  latchd, its man pages on MANPATH, so that Documentation= resolves);
- every system call latchd's kernel data plane makes to take a latch's socket
  (pidfd_open, pidfd_getfd) is allowed by the unit's SystemCallFilter=, as
  systemd-analyze expands its groups;
- CapabilityBoundingSet= keeps CAP_NET_ADMIN and CAP_SYS_PTRACE.
What this cannot test here (systemd is not PID 1 in the test machine): latchd
running under the unit's sandbox; sockdiag_fetch_probe's unit test runs the
probe under a seccomp filter that refuses pidfd_getfd as the unit did.
- the other units given (latchctl-metrics.service and .timer) pass
  systemd-analyze verify too.
Usage: unit-file.py UNIT LATCHD MANDIR [OTHER_UNIT...]
TAP on stdout.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

NEEDED_SYSCALLS = ["pidfd_open", "pidfd_getfd"]
NEEDED_CAPS = ["CAP_NET_ADMIN", "CAP_SYS_PTRACE"]

n = 0
failed = False


def ok(cond, what, diag=""):
    global n, failed
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {what}")
    if not cond:
        failed = True
        for line in diag.splitlines():
            print(f"# {line}")


def directives(text, key):
    return [l.split("=", 1)[1].strip() for l in text.splitlines() if l.startswith(key + "=")]


def expand(groups_out):
    """systemd-analyze syscall-filter's listing: {"@group": set of names and @groups}."""
    sets, cur = {}, None
    for line in groups_out.splitlines():
        if line.startswith("@"):
            cur = line.strip()
            sets[cur] = set()
        elif cur and line.strip() and not line.strip().startswith("#"):
            sets[cur].add(line.strip())
    return sets


def allowed(filters, sets):
    """The names an allow-list SystemCallFilter= (several lines add up) lets through."""
    names = set()

    def add(item, seen):
        if item.startswith("@"):
            if item in seen:
                return
            seen.add(item)
            for sub in sets.get(item, ()):
                add(sub, seen)
        else:
            names.add(item)

    for f in filters:
        if f.startswith("~"):
            return None  # a deny list: not what the unit uses
        for item in f.split():
            add(item, set())
    return names


def main(unit, latchd, mandir, *others):
    text = open(unit, encoding="utf-8").read()
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("1..0 # SKIP systemd-analyze is not installed")
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        man = os.path.join(tmp, "man")
        for page in os.listdir(mandir):
            m = re.match(r".*\.([1-8])$", page)
            if m:
                os.makedirs(os.path.join(man, "man" + m.group(1)), exist_ok=True)
                os.symlink(os.path.join(mandir, page),
                           os.path.join(man, "man" + m.group(1), page))
        copy = os.path.join(tmp, "latchd.service")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(re.sub(r"(?m)^ExecStart=\S+", "ExecStart=" + latchd, text))
        env = dict(os.environ, MANPATH=man)
        if not shutil.which("man"):
            env["SYSTEMD_ANALYZE_MAN"] = "no"  # no man-db (a build chroot): Documentation= unchecked
        man_opt = ["--man=no"] if env.get("SYSTEMD_ANALYZE_MAN") == "no" else []
        out = subprocess.run([analyze, "verify"] + man_opt + [copy], capture_output=True,
                             text=True, env=env)
        ok(out.returncode == 0 and not out.stderr.strip(), "systemd-analyze verify: clean",
           out.stdout + out.stderr)
        for other in others:
            # a timer is verified with its service beside it, as installed
            dst = os.path.join(tmp, os.path.basename(other))
            shutil.copy(other, dst)
        for other in others:
            dst = os.path.join(tmp, os.path.basename(other))
            out = subprocess.run([analyze, "verify"] + man_opt + [dst], capture_output=True,
                                 text=True, env=env, cwd=tmp)
            ok(out.returncode == 0 and not out.stderr.strip(),
               f"systemd-analyze verify {os.path.basename(other)}: clean", out.stdout + out.stderr)

    out = subprocess.run([analyze, "syscall-filter"], capture_output=True, text=True)
    names = allowed(directives(text, "SystemCallFilter"), expand(out.stdout))
    ok(names is not None, "SystemCallFilter= is an allow list")
    for sc in NEEDED_SYSCALLS:
        ok(names is not None and sc in names, f"SystemCallFilter= allows {sc}",
           "the kernel data plane's wait on break needs it")

    caps = " ".join(directives(text, "CapabilityBoundingSet")).split()
    for cap in NEEDED_CAPS:
        ok(cap in caps, f"CapabilityBoundingSet= keeps {cap}", f"it holds {caps}")
    ok(not directives(text, "User"), "latchd runs as root (capabilities from the bounding set,"
       " no AmbientCapabilities= needed)")
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
