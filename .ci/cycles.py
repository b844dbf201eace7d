#!/usr/bin/env python3
"""Fails when src/ has an import cycle: between top-level modules, or between sibling files
of one folder (a child using its parent's items is not a cycle). Reads `crate::x` and
`super::x` paths outside comments and unit tests; prints each cycle's pair."""
import os, re, sys
from collections import defaultdict
root = sys.argv[1] if len(sys.argv) > 1 else "src"
def modname(path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] == "mod": rel = rel[:-1]
    return rel
files = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".rs")]
edges = defaultdict(set)  # (level-key) -> edges between siblings
for f in files:
    m = modname(f)
    if m in (["lib"], ["main"]): continue
    text = open(f).read()
    text = re.split(r"#\[cfg\(test\)\]\s*\nmod tests", text)[0]
    text = re.sub(r"//.*", "", text)
    # top-level: crate::X
    for t in re.findall(r"crate::([a-z_0-9]+)", text):
        if t != m[0]: edges[()].add((m[0], t))
    # siblings: super::X within same folder, and crate::<folder>::X
    if len(m) >= 2:
        parent = tuple(m[:-1])
        for t in re.findall(r"\bsuper::([a-z_0-9]+)", text):
            if t != m[-1]: edges[parent].add((m[-1], t))
        pat = r"crate::" + "::".join(parent) + r"::([a-z_0-9]+)"
        for t in re.findall(pat, text):
            if t != m[-1]: edges[parent].add((m[-1], t))
mods = defaultdict(set)
for f in files:
    m = modname(f)
    mods[tuple(m[:-1])].add(m[-1])
def cycles(es):
    g = defaultdict(set)
    for a, b in es: g[a].add(b)
    found = set()
    for a, b in es:
        # is there a path b -> a?
        seen, stack = set(), [b]
        while stack:
            n = stack.pop()
            if n == a: found.add(tuple(sorted((a, b)))); break
            if n in seen: continue
            seen.add(n); stack.extend(g[n])
    return found
bad = False
for level, es in sorted(edges.items()):
    es = {(a, b) for a, b in es if b in mods[level]}
    c = cycles(es)
    if c:
        bad = True
        print("import cycle in", "src/" + "/".join(level), sorted(c))
sys.exit(1 if bad else 0)
