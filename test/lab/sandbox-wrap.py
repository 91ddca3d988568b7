#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run CMD with two of a systemd unit's restrictions, as latchd.service had
them before it allowed wait on break on the kernel data plane:
  --deny SYSCALL   a seccomp filter that fails SYSCALL with EPERM (systemd's
                   SystemCallFilter= without it, SystemCallErrorNumber=EPERM);
  --drop CAP       CAP left out of the bounding set (CapabilityBoundingSet=),
                   so that root's exec'd CMD does not have it.
Usage: sandbox-wrap.py [--deny pidfd_getfd] [--drop sys_ptrace] -- CMD...
x86_64 only (the lab's machines).
"""
import ctypes
import os
import struct
import sys

SYSCALLS = {"pidfd_getfd": 438, "pidfd_open": 434}
CAPS = {"sys_ptrace": 19}
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECCOMP = 38, 24, 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM = 1
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def main(argv):
    deny, drop = [], []
    while argv and argv[0] != "--":
        opt, val = argv[0], argv[1]
        (deny if opt == "--deny" else drop).append(val)
        argv = argv[2:]
    cmd = argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]
    for cap in drop:
        if libc.prctl(PR_CAPBSET_DROP, CAPS[cap], 0, 0, 0) != 0:
            sys.exit(f"sandbox-wrap: dropping {cap}: {os.strerror(ctypes.get_errno())}")
    if deny:
        prog = insn(BPF_LD_W_ABS, 0, 0, 0)  # seccomp_data.nr
        for sc in deny:
            prog += insn(BPF_JEQ_K, 0, 1, SYSCALLS[sc])
            prog += insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM)
        prog += insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
        buf = ctypes.create_string_buffer(prog)
        fprog = struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))
        fbuf = ctypes.create_string_buffer(fprog)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
                libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fbuf), 0, 0) != 0:
            sys.exit(f"sandbox-wrap: seccomp: {os.strerror(ctypes.get_errno())}")
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
