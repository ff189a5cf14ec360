#!/usr/bin/python3
"""Every public function sits in exactly one version node of the linker
script, experimental.h's in an experimental node and no other's there, and
the script names nothing that no header declares (docs/abi.md).  The one
exception: an experimental function that 0.1 exported as stable is listed
in DISTILL_0.1 as well (its compatibility alias).

    check-symbol-map.py include/distill lib/libdistill.map
"""
import glob
import os
import re
import sys


def declared(include_dir):
    """{function name: header} for every DISTILL_API declaration."""
    names = {}
    for path in sorted(glob.glob(os.path.join(include_dir, "*.h"))):
        text = re.sub(r"/\*.*?\*/", " ", open(path).read(), flags=re.S)
        text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)  # macros, incl. DISTILL_API's own
        for m in re.finditer(r"\bDISTILL_API\b[^;{]*?\b(distill_\w+)\s*\(", text):
            names[m.group(1)] = os.path.basename(path)
    return names


def nodes(map_path):
    """[(node, [names])] in the order the script gives them."""
    text = re.sub(r"/\*.*?\*/", " ", open(map_path).read(), flags=re.S)
    out = []
    for m in re.finditer(r"(DISTILL_[A-Z0-9_.]+)\s*\{(.*?)\}\s*[A-Z0-9_.]*\s*;", text, flags=re.S):
        body = re.sub(r"\blocal\s*:.*", "", m.group(2), flags=re.S)
        body = body.replace("global:", " ")
        out.append((m.group(1), [n.strip() for n in body.split(";") if n.strip()]))
    return out


def main(include_dir, map_path):
    api = declared(include_dir)
    seen, errors = {}, []
    for node, names in nodes(map_path):
        for n in names:
            if "*" in n or "?" in n:
                errors.append(f"{node}: pattern {n!r}: list every symbol by name")
            elif n in seen and seen[n] == "DISTILL_0.1" and "EXPERIMENTAL" in node \
                    and api.get(n) == "experimental.h":
                seen[n] = node  # 0.1's compatibility alias, and its experimental node
            elif n in seen:
                errors.append(f"{n} is in both {seen[n]} and {node}")
            else:
                seen[n] = node
                if n not in api:
                    errors.append(f"{node}: {n} is declared in no public header")
    for n, header in sorted(api.items()):
        node = seen.get(n)
        if node is None:
            errors.append(f"{n} ({header}) is in no version node")
        elif (header == "experimental.h") != ("EXPERIMENTAL" in node):
            errors.append(f"{n} ({header}) is in node {node}: experimental.h's functions go in an "
                          f"experimental node, and only they")
    for e in errors:
        print("check-symbol-map:", e, file=sys.stderr)
    if not errors:
        print(f"check-symbol-map: {len(api)} public functions, each in exactly one version node")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
