#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""charon's child SAs as lines, from `swanctl --list-sas --raw` on stdin:

  IKE_ID REMOTE_ID CHILD_ID NAME REQID STATE PACKETS_IN PACKETS_OUT LOCAL_TS REMOTE_TS

one line per child SA; each side's selectors sorted and joined by commas, so
that two children with the same selectors print the same two last fields.
"""
import re
import sys

# '}', 'name {', 'key=[item item]' (items like 192.0.2.1/32[tcp]), 'key=value'
TOKEN = re.compile(r'\s*(?:(\})|([^\s={}]+)\s*\{|([^\s={}]+)=\[((?:[^\[\]]|\[[^\]]*\])*)\]'
                   r'|([^\s={}]+)=(\S*))')


def parse(text):
    """The raw dump as nested dicts (sections), lists and strings."""
    root = {}
    stack = [root]
    pos = 0
    while True:
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        end, section, lkey, items, key, value = m.groups()
        if end:
            if len(stack) > 1:
                stack.pop()
        elif section:
            stack[-1][section] = {}
            stack.append(stack[-1][section])
        elif lkey:
            stack[-1][lkey] = items.split()
        else:
            stack[-1][key] = value
    return root


def main():
    for line in sys.stdin:
        line = line.split('{', 1)[1] if line.startswith('list-sa event') else ''
        for ike in parse(line).values():
            for child in ike.get('child-sas', {}).values():
                print(ike.get('uniqueid', '-'), ike.get('remote-id', '-'),
                      child.get('uniqueid', '-'), child.get('name', '-'),
                      child.get('reqid', '-'), child.get('state', '-'),
                      child.get('packets-in', '0'), child.get('packets-out', '0'),
                      ','.join(sorted(child.get('local-ts', []))) or '-',
                      ','.join(sorted(child.get('remote-ts', []))) or '-')


if __name__ == '__main__':
    main()
