#!/usr/bin/env python3
"""Groups bench-alloc's --trace output by call site in our sources.

Usage: bench-alloc --steps 1 --batch 1 --trace 1000 2>trace.txt
       python3 Scripts/alloc-sites.py .build/release/bench-alloc trace.txt
Each traced allocation is attributed to the innermost frame in one of our .swift/.c files
(symbolized with llvm-symbolizer, demangled with swift-demangle); sites are printed by count.
"""
import collections, re, subprocess, sys

binary, trace = sys.argv[1], sys.argv[2]
allocations, current = [], None
for line in open(trace, errors="replace"):
    if line.startswith("tllm-alloc: "):
        current = {"what": line[12:].strip(), "frames": []}
        allocations.append(current)
    elif current is not None:
        m = re.search(r"\(\+(0x[0-9a-f]+)\)", line)
        if m and line.startswith(binary):
            current["frames"].append(hex(int(m.group(1), 16) - 1))  # the call, not the return address
        else:
            current["frames"].append(None)  # a shared library (Swift runtime, libc)

offsets = sorted({f for a in allocations for f in a["frames"] if f})
out = subprocess.run(["llvm-symbolizer", "--obj=" + binary, "--inlining"],
                     input="\n".join(offsets) + "\n", capture_output=True, text=True).stdout
blocks = out.strip("\n").split("\n\n")
# offset -> [(function, file:line)] innermost first
symbols = {}
for offset, block in zip(offsets, blocks):
    lines = block.split("\n")
    symbols[offset] = [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 1, 2)]
names = sorted({fn for frames in symbols.values() for fn, _ in frames})
demangled = subprocess.run(["swift-demangle", "--simplified", "--compact"], input="\n".join(names) + "\n",
                           capture_output=True, text=True).stdout.split("\n")
pretty = dict(zip(names, demangled))

sites = collections.Counter()
for a in allocations:
    site = "(no frame in our code)"
    for f in a["frames"]:
        ours = [(fn, loc) for fn, loc in symbols.get(f, []) if re.search(r"\.(swift|c):\d+", loc)
                and "<compiler-generated>" not in loc and "alloc_counter.c" not in loc]
        if ours:
            fn, loc = ours[0]
            site = f"{loc.split('/')[-1]:32} {pretty.get(fn, fn)[:110]}"
            break
    sites[site] += 1
for site, n in sites.most_common():
    print(f"{n:6}  {site}")
