#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check latchctl --json output against the schema of latchctl(8), read from
the page itself (section JSON, subsection Schema: the .nf block after it).

Usage: json-schema.py MANPAGE [FILE...]   (no FILE: stdin)
Each input holds one or more documents (watch: one a line); every byte must
be UTF-8, every document JSON and a DOC of the schema. Prints one line per
document ("ok DOC-member") and exits 0, or prints why not and exits 1.
  json-schema.py MANPAGE --print   prints the definitions as parsed.
"""
import json
import re
import sys


class Bad(Exception):
    pass


def schema_lines(page):
    """The definitions: the lines of the first .nf block after '.SS Schema'."""
    src = open(page, encoding="utf-8").read().split("\n")
    try:
        at = src.index(".SS Schema")
        start = src.index(".nf", at) + 1
        end = src.index(".fi", start)
    except ValueError:
        raise Bad(f"{page}: no .SS Schema with an .nf block")
    out = []
    for line in src[start:end]:
        if line.startswith("."):
            continue  # .ft and the like
        line = line.replace("\\-", "-").replace("\\(dq", '"').replace("\\&", "")
        line = line.replace("\\e", "\\")
        if "\\" in line:
            raise Bad(f"{page}: an escape the schema reader does not know: {line}")
        out.append(line)
    return out


TOKEN = re.compile(r'\s*(?:(?P<str>"[^"]*")|(?P<num>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)'
                   r'|(?P<p>[{}\[\]:,|?=]))')


def tokens(text):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m:
            raise Bad(f"schema: cannot read at '{text[pos:pos + 20]}'")
        kind = m.lastgroup
        val = m.group(kind)
        out.append((kind, json.loads(val) if kind == "str" else int(val) if kind == "num" else val))
        pos = m.end()
    return out


class Parser:
    def __init__(self, toks):
        self.t, self.i = toks, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, p=None):
        tok = self.peek()
        if p is not None and tok != ("p", p):
            raise Bad(f"schema: expected '{p}', got {tok[1]!r}")
        self.i += 1
        return tok

    def type_(self):
        alts = [self.alt()]
        while self.peek() == ("p", "|"):
            self.take()
            alts.append(self.alt())
        return ("alt", alts) if len(alts) > 1 else alts[0]

    def alt(self):
        kind, val = self.take()
        if kind == "str":
            return ("lit", val)
        if kind == "num":
            return ("lit", val)
        if kind == "name":
            return ("name", val)
        if (kind, val) == ("p", "["):
            t = self.type_()
            self.take("]")
            return ("array", t)
        if (kind, val) == ("p", "{"):
            if self.peek() == ("name", "string"):
                self.take()
                self.take(":")
                t = self.type_()
                self.take("}")
                return ("map", t)
            members = []
            while True:
                k, key = self.take()
                if k != "str":
                    raise Bad(f"schema: a member name, not {key!r}")
                opt = False
                if self.peek() == ("p", "?"):
                    self.take()
                    opt = True
                self.take(":")
                members.append((key, opt, self.type_()))
                if self.peek() == ("p", ","):
                    self.take()
                    continue
                self.take("}")
                return ("object", members)
        raise Bad(f"schema: unexpected {val!r}")


def parse_schema(page):
    defs, cur = {}, None
    for line in schema_lines(page):
        if not line.strip():
            continue
        m = re.match(r"^([A-Z][A-Z_]*)\s*=(.*)$", line)
        if m:
            cur = m.group(1)
            if cur in defs:
                raise Bad(f"schema: {cur} defined twice")
            defs[cur] = m.group(2)
        elif line[0].isspace() and cur:
            defs[cur] += " " + line.strip()
        else:
            raise Bad(f"schema: a line that is no definition: {line!r}")
    out = {}
    for name, text in defs.items():
        p = Parser(tokens(text))
        out[name] = p.type_()
        if p.i != len(p.t):
            raise Bad(f"schema: {name}: left over after the type: {p.t[p.i:]}")
    for need in ("DOC",):
        if need not in out:
            raise Bad(f"schema: no {need}")
    return out


BASE = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "string": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "hex": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]+", v) is not None,
}


def check(defs, t, v, path):
    kind = t[0]
    if kind == "lit":
        if v != t[1] or isinstance(v, bool):
            raise Bad(f"{path}: {v!r} is not {t[1]!r}")
    elif kind == "name":
        if t[1] in BASE:
            if not BASE[t[1]](v):
                raise Bad(f"{path}: {v!r} is not {t[1]}")
        elif t[1] in defs:
            check(defs, defs[t[1]], v, path)
        else:
            raise Bad(f"schema: {t[1]} is not defined")
    elif kind == "alt":
        errs = []
        for a in t[1]:
            try:
                check(defs, a, v, path)
                return
            except Bad as e:
                errs.append(str(e))
        # the alternative that got furthest says most
        raise Bad(max(errs, key=len))
    elif kind == "array":
        if not isinstance(v, list):
            raise Bad(f"{path}: not an array")
        for i, x in enumerate(v):
            check(defs, t[1], x, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(v, dict):
            raise Bad(f"{path}: not an object")
        for k, x in v.items():
            check(defs, t[1], x, f"{path}.{k}")
    elif kind == "object":
        if not isinstance(v, dict):
            raise Bad(f"{path}: not an object")
        want = [k for k, _, _ in t[1]]
        extra = [k for k in v if k not in want]
        if extra:
            raise Bad(f"{path}: members the schema does not have: {extra}")
        got = [k for k in want if k in v]
        if list(v) != got:
            raise Bad(f"{path}: members out of the schema's order: {list(v)}")
        for k, opt, mt in t[1]:
            if k not in v:
                if not opt:
                    raise Bad(f"{path}: no member {k}")
                continue
            check(defs, mt, v[k], f"{path}.{k}")
    else:
        raise Bad(f"schema: kind {kind}")


def documents(data, name):
    try:
        text = data.decode("utf-8")  # strict: invalid UTF-8 fails here
    except UnicodeDecodeError as e:
        raise Bad(f"{name}: not UTF-8: {e}")
    dec, pos, docs = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos == len(text):
            return docs
        try:
            doc, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise Bad(f"{name}: not JSON: {e}")
        docs.append(doc)


def main(argv):
    try:
        defs = parse_schema(argv[0])
        if argv[1:] == ["--print"]:
            for k, v in defs.items():
                print(k, v)
            return 0
        inputs = [(f, open(f, "rb").read()) for f in argv[1:]] or [("stdin",
                                                                   sys.stdin.buffer.read())]
        for name, data in inputs:
            docs = documents(data, name)
            if not docs:
                raise Bad(f"{name}: no document")
            for d in docs:
                check(defs, ("name", "DOC"), d, name)
                print("ok", list(d)[1])
    except Bad as e:
        print(f"invalid: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
