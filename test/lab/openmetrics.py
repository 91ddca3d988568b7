#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A strict reader of OpenMetrics 1.0 text (openmetrics.io), or with
--prometheus of Prometheus text 0.0.4, for `latchctl metrics`.

Reads stdin; on any violation prints "invalid: line N: why" to stderr and
exits 1. Otherwise prints every sample, one a line, as
    name{label="value",...} value
(labels sorted), for the test to read. When /usr/bin/python3 has
prometheus_client (Debian's python3-prometheus-client), its parser must
accept the text as well (--cross-check).

OpenMetrics rules checked: families' metadata (# TYPE, # HELP, # UNIT) at
most once each and before their samples; a family's samples together, no
family twice; names and label names by the ABNF; a UNIT the family's name
ends with, none on info and stateset; counters' samples named _total or
_created, never below 0, gauges' and unknowns' named as the family; label
values escaped (only \\\\, \\" and \\n); no label set twice in a family; no
blank line; "# EOF" last, nothing after it.
"""
import re
import subprocess
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|NaN|[+-]?Inf)"
TYPES_OM = {"counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary",
            "unknown"}
TYPES_PROM = {"counter", "gauge", "histogram", "summary", "untyped"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "unknown": ("",),
    "untyped": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "summary": ("", "_count", "_sum", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
}


class Invalid(Exception):
    pass


def parse_labels(s, n):
    """The label set of a sample, from just after '{'; returns (labels, rest)."""
    labels = {}
    i = 0
    if s.startswith("}"):
        return labels, s[1:]
    while True:
        m = re.match(LABEL, s[i:])
        if not m:
            raise Invalid(f"line {n}: bad label name at '{s[i:i + 10]}'")
        name = m.group(0)
        i += len(name)
        if s[i:i + 2] != '="':
            raise Invalid(f"line {n}: label {name}: expected =\"")
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise Invalid(f"line {n}: label {name}: unterminated value")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise Invalid(f"line {n}: label {name}: bad escape \\{nxt}")
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise Invalid(f"line {n}: label {name}: raw newline")
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise Invalid(f"line {n}: label {name} twice")
        labels[name] = "".join(val)
        if s[i:i + 1] == ",":
            i += 1
            continue
        if s[i:i + 1] == "}":
            return labels, s[i + 1:]
        raise Invalid(f"line {n}: expected , or }} after label {name}")


def parse(text, prometheus=False):
    if not text.endswith("\n"):
        raise Invalid("the text does not end with a newline")
    lines = text[:-1].split("\n")
    families = {}  # name -> {"type", "help", "unit", "done"}
    order = []
    current = None
    samples = []
    seen_eof = False
    types = TYPES_PROM if prometheus else TYPES_OM

    def family_of(sample_name):
        # the family a sample belongs to: the current one, by the suffixes its type allows
        if current is not None:
            t = families[current]["type"] or ("untyped" if prometheus else "unknown")
            # Prometheus text names a counter's family as its sample: foo_total
            for suf in ("",) if prometheus and t == "counter" else SUFFIXES[t]:
                if sample_name == current + suf:
                    return current, suf
        return None, None

    for n, line in enumerate(lines, 1):
        if seen_eof:
            raise Invalid(f"line {n}: text after # EOF")
        if line == "":
            raise Invalid(f"line {n}: blank line")
        if line == "# EOF":
            if prometheus:
                raise Invalid(f"line {n}: # EOF in Prometheus text")
            seen_eof = True
            continue
        if line.startswith("#"):
            m = re.fullmatch(r"# (TYPE|HELP|UNIT) (" + NAME + r")(?: (.*))?", line)
            if not m:
                if prometheus:
                    continue  # a comment
                raise Invalid(f"line {n}: not a metadata line: {line!r}")
            kind, name, rest = m.group(1), m.group(2), m.group(3)
            if kind == "UNIT" and prometheus:
                raise Invalid(f"line {n}: # UNIT in Prometheus text")
            if name != current:
                if name in families:
                    raise Invalid(f"line {n}: family {name} again, after another")
                families[name] = {"type": None, "help": None, "unit": None, "samples": 0}
                order.append(name)
                current = name
            fam = families[name]
            if fam["samples"]:
                raise Invalid(f"line {n}: {kind} of {name} after its samples")
            key = kind.lower()
            if fam[key] is not None:
                raise Invalid(f"line {n}: a second {kind} for {name}")
            if kind == "TYPE":
                if rest not in types:
                    raise Invalid(f"line {n}: unknown type {rest!r}")
                if not prometheus and rest == "counter" and name.endswith("_total"):
                    raise Invalid(f"line {n}: counter family {name} ends with _total")
                if prometheus and rest == "counter" and not name.endswith("_total"):
                    raise Invalid(f"line {n}: Prometheus counter {name} without _total")
                fam["type"] = rest
            elif kind == "HELP":
                if rest is None:
                    raise Invalid(f"line {n}: HELP without text")
                if re.search(r"\\[^\\n" + ('"' if not prometheus else "") + "]", rest):
                    raise Invalid(f"line {n}: bad escape in HELP")
                fam["help"] = rest
            else:
                if not rest or not re.fullmatch(r"[a-zA-Z0-9_:]+", rest):
                    raise Invalid(f"line {n}: bad unit {rest!r}")
                if not name.endswith("_" + rest):
                    raise Invalid(f"line {n}: family {name} does not end with _{rest}")
                fam["unit"] = rest
            continue
        m = re.match(NAME, line)
        if not m:
            raise Invalid(f"line {n}: bad sample name: {line!r}")
        sname, rest = m.group(0), line[len(m.group(0)):]
        labels = {}
        if rest.startswith("{"):
            labels, rest = parse_labels(rest[1:], n)
        vm = re.fullmatch(r" (" + NUMBER + r")(?: (" + NUMBER + r"))?", rest)
        if not vm:
            raise Invalid(f"line {n}: bad value or timestamp: {rest!r}")
        fname, suf = family_of(sname)
        if fname is None:
            if not prometheus:
                raise Invalid(f"line {n}: sample {sname} outside its family's metadata")
            # Prometheus text: a sample without metadata is its own untyped family
            if sname in families:
                raise Invalid(f"line {n}: family {sname} again, after another")
            families[sname] = {"type": "untyped", "help": None, "unit": None, "samples": 0,
                               "sets": set()}
            order.append(sname)
            current, fname, suf = sname, sname, ""
        fam = families[fname]
        t = fam["type"] or ("untyped" if prometheus else "unknown")
        value = float(vm.group(1))
        if t == "counter" and suf in ("_total", "") and (value < 0 or value != value):
            raise Invalid(f"line {n}: counter {sname} is {vm.group(1)}")
        key = (sname, tuple(sorted(labels.items())))
        fam.setdefault("sets", set())
        if key in fam["sets"]:
            raise Invalid(f"line {n}: {sname} with these labels twice")
        fam["sets"].add(key)
        fam["samples"] += 1
        samples.append((sname, labels, vm.group(1)))
    if not prometheus and not seen_eof:
        raise Invalid("no # EOF at the end")
    return samples


def cross_check(text, prometheus):
    code = ("import sys\n"
            "from prometheus_client.%s import text_string_to_metric_families as p\n"
            "list(p(sys.stdin.read()))\n") % ("parser" if prometheus else "openmetrics.parser")
    try:
        r = subprocess.run(["/usr/bin/python3", "-c", "import prometheus_client"],
                           capture_output=True)
    except OSError:
        return
    if r.returncode != 0:
        print("# prometheus_client is not installed: its parser not asked", file=sys.stderr)
        return
    r = subprocess.run(["/usr/bin/python3", "-c", code], input=text, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise Invalid("prometheus_client refuses it: " + r.stderr.strip().splitlines()[-1])


def main(argv):
    prometheus = "--prometheus" in argv
    text = sys.stdin.read()
    try:
        samples = parse(text, prometheus)
        if "--cross-check" in argv:
            cross_check(text, prometheus)
    except Invalid as e:
        print(f"invalid: {e}", file=sys.stderr)
        return 1
    for name, labels, value in samples:
        ls = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        print(f"{name}{{{ls}}} {value}" if ls else f"{name} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
