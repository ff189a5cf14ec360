#!/usr/bin/python3
"""Strict ABI comparison of two abixml files (made by abidw).

usage: abi_compare.py BASELINE.abi CURRENT.abi [--renames FILE] [--public-dir DIR]
                      [--ignore-node GLOB]...

Fails (exit 1) on ANY change to something the baseline exported; passes
(exit 0) when the current library only adds.  The rules:

  * every exported ELF symbol of the baseline is still exported, with the
    same symbol version node;
  * every exported function keeps its return and parameter types, compared
    structurally by canonical names (type ids differ between files, and
    typedefs are resolved: `int64_t` and `long int` are the same ABI);
  * every struct/union defined in a public header and reachable from an
    exported function keeps each member's name, offset and type; it may
    grow only if its first member is `uint32_t struct_size` and no exported
    function takes or returns it by value, and only by members placed at or
    after the baseline's end (not in its tail padding);
  * every enumerator of a public enum keeps its value (abixml only has the
    enums some declaration uses: constants.sh covers anonymous ones);
  * a renames file (`old new  # why`) maps baseline struct/union/enum/typedef
    names to current ones, for reviewed tag renames (binary compatible in C).

--ignore-node GLOB (e.g. 'DISTILL_EXPERIMENTAL_*') exempts the symbols of
matching version nodes, which promise nothing across releases: they are
neither checked nor roots of the type walk (a type also reachable from a
checked symbol, e.g. an experimental entry point's DISTILL_0.1 alias, is
still checked).

Types defined outside the public headers (the library's private structs,
libc's) are compared by name only: their layout is not the library's ABI
(the public headers only declare them, or they belong to another library).

Output: one `ABI BREAK: <what>: <change>` line per violation, `note:` lines
(not failures, e.g. new symbols added to an already released version node),
then a summary with the counts of additions.
Exit status: 0 only additions, 1 violations, 2 bad input.
"""

import argparse
import fnmatch
import os
import sys
import xml.etree.ElementTree as ET

COMPOSITE_TAGS = ("class-decl", "union-decl")
TYPE_TAGS = COMPOSITE_TAGS + (
    "type-decl", "typedef-decl", "pointer-type-def", "qualified-type-def",
    "array-type-def", "enum-decl", "function-type", "reference-type-def",
    "subrange",
)


class Composite:
    """A struct or union as the comparison sees it."""

    def __init__(self, kind, name, size, public, opaque, members, filepath):
        self.kind = kind          # "struct" or "union"
        self.name = name          # tag (or naming typedef) after renames
        self.size = size          # bits, None when opaque
        self.public = public      # defined in a public header
        self.opaque = opaque      # no layout the callers can rely on
        self.members = members    # [(name, offset_bits, canonical_type)]
        self.filepath = filepath

    @property
    def layout_checked(self):
        return self.public and not self.opaque


class Corpus:
    """One abixml file: its symbols, exported functions and types.

    Type ids are only meaningful inside one file; and a few ids (subranges)
    repeat across abi-instr units, so a lookup prefers the unit the reference
    was made from and falls back to the whole corpus.
    """

    def __init__(self, path, public_dir, renames, ignore_nodes=()):
        self.path = path
        self.ignore_nodes = ignore_nodes  # version-node globs left unchecked
        self.public_dir = os.path.normpath(public_dir)
        self.renames = renames            # name -> name, applied to this corpus
        self.symbols = {}                 # (name, version) -> kind
        self.symbol_names = set()
        self.functions = {}               # (name, version) -> (decl, instr)
        self.variables = {}               # (name, version) -> (decl, instr)
        self.types_by_unit = {}           # (instr index, id) -> element
        self.types = {}                   # id -> (element, instr index)
        self.composites_by_name = {}      # canonical name -> [element, ...]
        self.enums_by_name = {}           # canonical name -> [element, ...]
        self.raw_names = set()            # struct/union/enum tags and typedef
                                          # names, before renames
        self._decls_by_name = {}          # function name -> first (decl, unit)
        self._canon_memo = {}
        self._load(path)

    # ---- loading -------------------------------------------------------------
    def _load(self, path):
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as err:
            die("cannot read %s: %s" % (path, err))
        if root.tag != "abi-corpus":
            # abidw --out-file on a single library writes one abi-corpus; a
            # corpus group would need choosing, which we do not guess.
            die("%s: root is <%s>, expected <abi-corpus>" % (path, root.tag))
        for section, kind in (("elf-function-symbols", "function"),
                              ("elf-variable-symbols", "variable")):
            for sym in root.findall(section + "/elf-symbol"):
                if sym.get("is-defined", "yes") != "yes":
                    continue
                key = (sym.get("name"), sym.get("version", ""))
                if self.ignored(key[1]):
                    continue
                self.symbols[key] = kind
                self.symbol_names.add(key[0])
        units = root.findall("abi-instr")
        # Two passes: a type may name itself after a typedef defined later.
        for unit, instr in enumerate(units):
            self._index_types(unit, instr)
        for unit, instr in enumerate(units):
            self._index_names(unit, instr)
        self._adopt_unlinked_decls()

    def _index_types(self, unit, instr):
        for elem in instr.iter():
            if elem.tag in TYPE_TAGS and elem.get("id"):
                self.types_by_unit[(unit, elem.get("id"))] = elem
                self.types.setdefault(elem.get("id"), (elem, unit))

    def _index_names(self, unit, instr):
        for elem in instr.iter():
            if elem.tag in COMPOSITE_TAGS + ("enum-decl",):
                tag = self._tag_name(elem, unit, apply_renames=False)
                if tag:
                    self.raw_names.add(tag)
            if elem.tag == "typedef-decl":
                self.raw_names.add(elem.get("name"))
            if elem.tag in COMPOSITE_TAGS:
                name = self._composite_name(elem, unit)
                if name:
                    self.composites_by_name.setdefault(name, []).append((elem, unit))
            if elem.tag == "enum-decl":
                name = self._enum_name(elem, unit)
                if name:
                    self.enums_by_name.setdefault(name, []).append((elem, unit))
        # Exported functions and variables are the ones tied to an ELF symbol;
        # the other function-decls are the library's imports and internals.
        for decl in instr.findall("function-decl"):
            key = split_symbol_id(decl.get("elf-symbol-id"))
            if key and not self.ignored(key[1]):
                self.functions.setdefault(key, (decl, unit))
            self._decls_by_name.setdefault(decl.get("name"), (decl, unit))
        for decl in instr.findall("var-decl"):
            key = split_symbol_id(decl.get("elf-symbol-id"))
            if key and not self.ignored(key[1]):
                self.variables.setdefault(key, (decl, unit))

    def ignored(self, version):
        return any(fnmatch.fnmatchcase(version, glob) for glob in self.ignore_nodes)

    def _adopt_unlinked_decls(self):
        """abidw sometimes keeps, for an exported function, only a declaration
        seen in a calling unit, without its elf-symbol-id (5 functions of the
        0.1 baseline).  That declaration comes from the public header, so it
        is the prototype: use it rather than leave the function unchecked."""
        for (name, version), kind in self.symbols.items():
            if kind == "function" and (name, version) not in self.functions \
                    and name in self._decls_by_name:
                self.functions[(name, version)] = self._decls_by_name[name]

    def lookup(self, type_id, unit):
        elem = self.types_by_unit.get((unit, type_id))
        if elem is not None:
            return elem, unit
        return self.types.get(type_id, (None, unit))

    def is_public(self, filepath):
        if not filepath:
            return False
        path = os.path.normpath(filepath)
        return (path.startswith(self.public_dir + os.sep)
                or (os.sep + self.public_dir + os.sep) in path)

    def has_public_types(self):
        return any(self.is_public(elem.get("filepath")) for elem, _ in self.types.values())

    # ---- canonical names -----------------------------------------------------
    def rename(self, name):
        return self.renames.get(name, name)

    def _tag_name(self, elem, unit, apply_renames=True):
        """The tag, or for `typedef struct {...} name;` the typedef's name."""
        tag = elem.get("name")
        if elem.get("is-anonymous") == "yes":
            typedef_id = elem.get("naming-typedef-id")
            typedef = self.lookup(typedef_id, unit)[0] if typedef_id else None
            tag = None if typedef is None else typedef.get("name")
        if tag is None or not apply_renames:
            return tag
        return self.rename(tag)

    def _composite_name(self, elem, unit):
        tag = self._tag_name(elem, unit)
        kind = "union" if elem.tag == "union-decl" else "struct"
        return None if tag is None else "%s %s" % (kind, tag)

    def _enum_name(self, elem, unit):
        tag = self._tag_name(elem, unit)
        return None if tag is None else "enum " + tag

    def canon(self, type_id, unit):
        """A string naming the type as the ABI sees it, equal across files."""
        key = (type_id, unit)
        if key not in self._canon_memo:
            self._canon_memo[key] = self._canon(type_id, unit)
        return self._canon_memo[key]

    def _canon(self, type_id, unit):
        elem, unit = self.lookup(type_id, unit)
        if elem is None:
            return "<unresolved %s>" % type_id
        tag = elem.tag
        if tag == "type-decl":
            return elem.get("name")
        if tag == "typedef-decl":
            # A typedef is only a spelling: resolve it.
            return self.canon(elem.get("type-id"), unit)
        if tag == "pointer-type-def":
            target, target_unit = self.lookup(elem.get("type-id"), unit)
            if target is not None and target.tag == "function-type":
                ret, params = self.function_signature(target, target_unit)
                return "%s (*)(%s)" % (ret, ", ".join(params))
            return self.canon(elem.get("type-id"), unit) + "*"
        if tag == "qualified-type-def":
            return self._canon_qualified(elem, unit)
        if tag == "array-type-def":
            dims = "".join("[%s]" % sub.get("length", "")
                           for sub in elem.findall("subrange"))
            return self.canon(elem.get("type-id"), unit) + dims
        if tag == "function-type":
            ret, params = self.function_signature(elem, unit)
            return "%s (%s)" % (ret, ", ".join(params))
        if tag in COMPOSITE_TAGS:
            name = self._composite_name(elem, unit)
            # An anonymous struct has no name to compare by: its layout is its name.
            return name if name else self._anonymous_composite(elem, unit)
        if tag == "enum-decl":
            name = self._enum_name(elem, unit)
            return name if name else "enum {%s}" % ", ".join(
                "%s=%s" % item for item in enumerators(elem))
        return "<%s %s>" % (tag, type_id)

    def _canon_qualified(self, elem, unit):
        quals = [q for q in ("const", "volatile", "restrict") if elem.get(q) == "yes"]
        inner = self.canon(elem.get("type-id"), unit)
        if inner.endswith("*") or inner.endswith(")"):
            # Qualifies the pointer itself: `float* const`.
            return inner + " " + " ".join(quals)
        return " ".join(quals + [inner])

    def _anonymous_composite(self, elem, unit):
        kind = "union" if elem.tag == "union-decl" else "struct"
        fields = ["%s %s@%s" % (ctype, name, off)
                  for name, off, ctype in self.members(elem, unit)]
        return "%s {%s}/%s" % (kind, "; ".join(fields), elem.get("size-in-bits"))

    def function_signature(self, elem, unit):
        """(return type, [parameter types]) of a function-decl or function-type."""
        params = []
        for param in elem.findall("parameter"):
            if param.get("is-variadic") == "yes":
                params.append("...")
            else:
                params.append(self.canon(param.get("type-id"), unit))
        ret = elem.find("return")
        ret_type = "void" if ret is None else self.canon(ret.get("type-id"), unit)
        return ret_type, params

    def members(self, elem, unit):
        """[(name, offset_bits, canonical type)] of a struct/union's data members."""
        result = []
        for member in elem.findall("data-member"):
            if member.get("static") == "yes":
                continue
            var = member.find("var-decl")
            if var is None:
                continue
            offset = int(member.get("layout-offset-in-bits", "0"))
            name = var.get("name") or "<anonymous@%d>" % offset
            result.append((name, offset, self.canon(var.get("type-id"), unit)))
        return result

    # ---- composites by name ----------------------------------------------------
    def _definition(self, name):
        """(element, unit, public) for the struct/union called `name`: a full
        definition in a public header if there is one, else any definition,
        else a declaration (a unit may only have seen `struct x;`)."""
        candidates = self.composites_by_name[name]
        defined = [c for c in candidates if c[0].get("is-declaration-only") != "yes"]
        public = [c for c in defined if self.is_public(c[0].get("filepath"))]
        elem, unit = (public or defined or candidates)[0]
        return elem, unit, bool(public)

    def composite(self, name):
        """The Composite called `name`, or None if the corpus has no such type."""
        if name not in self.composites_by_name:
            return None
        elem, unit, public = self._definition(name)
        opaque = elem.get("is-declaration-only") == "yes"
        return Composite(
            kind="union" if elem.tag == "union-decl" else "struct", name=name,
            size=None if opaque else int(elem.get("size-in-bits", "0")),
            public=public, opaque=opaque,
            members=[] if opaque else self.members(elem, unit),
            filepath=elem.get("filepath"))

    def enum(self, name):
        """(size_bits, public, [(enumerator, value)]) or None."""
        candidates = self.enums_by_name.get(name)
        if not candidates:
            return None
        elem, unit = candidates[0]
        underlying = elem.find("underlying-type")
        size = None
        if underlying is not None:
            base, _ = self.lookup(underlying.get("type-id"), unit)
            size = None if base is None else base.get("size-in-bits")
        return size, self.is_public(elem.get("filepath")), enumerators(elem)

    # ---- reachability ----------------------------------------------------------
    def reachable_types(self):
        """Names of the structs/unions/enums reachable from the exported
        functions and variables, not looking inside types whose layout is
        not public (a private struct's members are not the ABI)."""
        seen_ids = set()
        names = set()
        work = []
        for decl, unit in list(self.functions.values()) + list(self.variables.values()):
            work.extend(referenced_ids(decl, unit))
        while work:
            type_id, unit = work.pop()
            elem, unit = self.lookup(type_id, unit)
            if elem is None or (type_id, unit) in seen_ids:
                continue
            seen_ids.add((type_id, unit))
            if elem.tag in COMPOSITE_TAGS:
                name = self._composite_name(elem, unit)
                if name is None:   # anonymous: part of its parent's layout
                    work.extend(referenced_ids(elem, unit))
                    continue
                names.add(name)
                def_elem, def_unit, public = self._definition(name)
                if public:
                    work.extend(referenced_ids(def_elem, def_unit))
            elif elem.tag == "enum-decl":
                name = self._enum_name(elem, unit)
                if name:
                    names.add(name)
            else:
                work.extend(referenced_ids(elem, unit))
        return names


def die(message):
    """Bad input: exit 2, so that a broken check is not mistaken for a break."""
    print("abi_compare: " + message, file=sys.stderr)
    sys.exit(2)


def split_symbol_id(symbol_id):
    """'distill_foo@@DISTILL_0.1' -> ('distill_foo', 'DISTILL_0.1')."""
    if not symbol_id:
        return None
    name, _, version = symbol_id.partition("@")
    return name, version.lstrip("@")


def enumerators(elem):
    return [(e.get("name"), int(e.get("value"))) for e in elem.findall("enumerator")]


def referenced_ids(elem, unit):
    """The type ids an element refers to directly (type-id attributes of it
    and its children, not descending into nested type definitions)."""
    ids = []
    if elem.get("type-id"):
        ids.append((elem.get("type-id"), unit))
    for child in elem:
        if child.tag in TYPE_TAGS and child.tag != "subrange":
            continue
        ids.extend(referenced_ids(child, unit))
    return ids


def read_renames(path):
    """`old new  # why` lines -> {old: new}; blank and comment lines ignored."""
    renames = {}
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except OSError as err:
        die("cannot read %s: %s" % (path, err))
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            die("%s:%d: expected `old new  # why`" % (path, number))
        renames[words[0]] = words[1]
    return renames


# ---- the comparison ----------------------------------------------------------------
class Report:
    def __init__(self):
        self.violations = []
        self.notes = []
        self.added = {"functions": 0, "variables": 0, "members": 0,
                      "enumerators": 0}

    def fail(self, what, message):
        self.violations.append("%s: %s" % (what, message))


def check_symbols(base, cur, report):
    for (name, version), kind in sorted(base.symbols.items()):
        if (name, version) in cur.symbols:
            continue
        others = sorted(v for (n, v) in cur.symbols if n == name)
        if others:
            report.fail("%s %s@%s" % (kind, name, version),
                        "symbol version changed to %s" % ", ".join(others))
        else:
            report.fail("%s %s@%s" % (kind, name, version), "symbol removed")
    base_nodes = {version for _, version in base.symbols}
    in_old_nodes = {}
    for (name, version), kind in cur.symbols.items():
        if name not in base.symbol_names:
            report.added[kind + "s"] += 1
            if version in base_nodes:
                in_old_nodes.setdefault(version, []).append(name)
    # Not a break, but lib/libdistill.map says a released node is never
    # edited: a program using a symbol added to an old node loads against an
    # older library of that node and fails at the call (lazy binding) instead
    # of at load time with "version not found".
    for version, names in sorted(in_old_nodes.items()):
        report.notes.append("%d added symbol(s) are in the baseline's version node %s "
                            "(e.g. %s); a new release's symbols belong in a new node"
                            % (len(names), version, ", ".join(sorted(names)[:3])))


def check_functions(base, cur, report):
    for key in sorted(base.functions):
        if key not in cur.symbols:
            continue        # already reported as a missing symbol
        what = "function %s" % key[0]
        decl, unit = base.functions[key]
        found = cur.functions.get(key) or next(
            (v for k, v in cur.functions.items() if k[0] == key[0]), None)
        if found is None:
            report.fail(what, "no declaration in %s (built without -g?)" % cur.path)
            continue
        old_ret, old_params = base.function_signature(decl, unit)
        new_ret, new_params = cur.function_signature(*found)
        if old_ret != new_ret:
            report.fail(what, "return type changed: %s -> %s" % (old_ret, new_ret))
        if len(old_params) != len(new_params):
            report.fail(what, "parameter count changed: %d (%s) -> %d (%s)" % (
                len(old_params), ", ".join(old_params),
                len(new_params), ", ".join(new_params)))
            continue
        for index, (old, new) in enumerate(zip(old_params, new_params), 1):
            if old != new:
                report.fail(what, "parameter %d type changed: %s -> %s" % (index, old, new))
    for key in sorted(base.variables):
        if key not in cur.variables:
            continue
        old_decl, old_unit = base.variables[key]
        new_decl, new_unit = cur.variables[key]
        old = base.canon(old_decl.get("type-id"), old_unit)
        new = cur.canon(new_decl.get("type-id"), new_unit)
        if old != new:
            report.fail("variable %s" % key[0], "type changed: %s -> %s" % (old, new))


def grows_by_struct_size(comp):
    """Caller-allocated structs that start with `uint32_t struct_size` may
    grow at the end: the library reads only what struct_size covers."""
    return (comp.kind == "struct" and comp.members
            and comp.members[0][:3] == ("struct_size", 0, "unsigned int"))


def by_value_uses(corpus):
    """{'struct x': 'distill_f'} for the structs that an exported function
    takes or returns by value: their size is fixed even with struct_size,
    since the caller's copy is what the library reads or writes."""
    uses = {}
    for (fname, _), (decl, unit) in sorted(corpus.functions.items()):
        ret, params = corpus.function_signature(decl, unit)
        for ctype in [ret] + params:
            bare = ctype
            for qual in ("const ", "volatile "):
                bare = bare.replace(qual, "")
            if bare.startswith(("struct ", "union ")) and not bare.endswith(("*", "]", ")")):
                uses.setdefault(bare, fname)
    return uses


def check_composite(name, old, new, report, label, by_value):
    if not old.layout_checked:
        return              # opaque or not ours in the baseline: anything goes
    if new is None:
        report.fail(label, "removed (was %d bits, defined in %s)" % (old.size, old.filepath))
        return
    if new.opaque or not new.public:
        report.fail(label, "became opaque or private (was a public %d-bit %s)"
                    % (old.size, old.kind))
        return
    if new.kind != old.kind:
        report.fail(label, "changed from %s to %s" % (old.kind, new.kind))
    if new.size != old.size:
        if new.size > old.size and grows_by_struct_size(old) and name in by_value:
            report.fail(label, "size grew %d -> %d bits, but %s passes it by value"
                        % (old.size, new.size, by_value[name]))
        elif new.size > old.size and grows_by_struct_size(old):
            pass            # allowed; the new members are checked below
        elif new.size > old.size:
            report.fail(label, "size grew %d -> %d bits without a leading "
                        "`uint32_t struct_size`" % (old.size, new.size))
        else:
            report.fail(label, "size shrank %d -> %d bits" % (old.size, new.size))
    new_members = {m[0]: m for m in new.members}
    old_names = set()
    for member, offset, ctype in old.members:
        old_names.add(member)
        what = "%s.%s" % (label, member)
        if member not in new_members:
            report.fail(what, "member removed or renamed (was %s at bit %d)" % (ctype, offset))
            continue
        _, new_offset, new_type = new_members[member]
        if new_offset != offset:
            report.fail(what, "offset changed %d -> %d bits" % (offset, new_offset))
        if new_type != ctype:
            report.fail(what, "type changed: %s -> %s" % (ctype, new_type))
    for member, offset, ctype in new.members:
        if member in old_names:
            continue
        if offset < old.size:
            report.fail("%s.%s" % (label, member),
                        "new member inside the baseline layout (bit %d < size %d)"
                        % (offset, old.size))
        else:
            report.added["members"] += 1


def check_types(base, cur, renames, report):
    reachable = base.reachable_types()
    # A public enum need not be reachable from a function to be ABI: its
    # values are compiled into callers.
    reachable |= {n for n in base.enums_by_name if base.enum(n)[1]}
    by_value = by_value_uses(base)
    for name in sorted(reachable):
        tag = name.split(" ", 1)[1]
        original = next((o for o, n in renames.items() if n == tag), tag)
        label = name if original == tag else "%s (renamed from %s)" % (name, original)
        if name.startswith("enum "):
            check_enum(name, base.enum(name), cur.enum(name), report, label)
        else:
            check_composite(name, base.composite(name), cur.composite(name), report,
                            label, by_value)


def check_enum(name, old, new, report, label):
    old_size, old_public, old_values = old
    if not old_public:
        return
    if new is None:
        report.fail(label, "removed")
        return
    new_size, _, new_values = new
    if old_size != new_size:
        report.fail(label, "underlying size changed %s -> %s bits" % (old_size, new_size))
    new_map = dict(new_values)
    for enumerator, value in old_values:
        if enumerator not in new_map:
            report.fail("%s::%s" % (label, enumerator), "enumerator removed (was %d)" % value)
        elif new_map[enumerator] != value:
            report.fail("%s::%s" % (label, enumerator),
                        "value changed %d -> %d" % (value, new_map[enumerator]))
    report.added["enumerators"] += len(set(new_map) - {e for e, _ in old_values})


def check_renames(base, cur, renames, report):
    """Every renames line must name a type the baseline has and the current
    library has under its new name; and the new name must be new (a line
    left over after the baseline was refreshed would otherwise remap it)."""
    for old, new in sorted(renames.items()):
        what = "renames %s -> %s" % (old, new)
        if old not in base.raw_names:
            report.fail(what, "%s is not a type of the baseline" % old)
        if new not in cur.raw_names:
            report.fail(what, "%s is not a type of the current library" % new)
        if new in base.raw_names:
            report.fail(what, "%s already exists in the baseline (stale renames line?)" % new)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("baseline")
    parser.add_argument("current")
    parser.add_argument("--renames", help="file of `old_name new_name  # why` lines")
    parser.add_argument("--ignore-node", action="append", default=[], metavar="GLOB",
                        help="leave the symbols of matching version nodes unchecked "
                             "(repeatable), e.g. 'DISTILL_EXPERIMENTAL_*'")
    parser.add_argument("--public-dir", default="include/distill",
                        help="directory of the public headers, as abixml filepaths "
                             "spell it (default: include/distill)")
    args = parser.parse_args(argv)

    renames = read_renames(args.renames) if args.renames else {}
    base = Corpus(args.baseline, args.public_dir, renames, args.ignore_node)
    if not base.has_public_types():
        # Otherwise every layout would count as private and pass unchecked.
        die("no type of %s is defined under --public-dir %s; wrong directory?"
            % (args.baseline, args.public_dir))
    cur = Corpus(args.current, args.public_dir, {}, args.ignore_node)

    report = Report()
    check_renames(base, cur, renames, report)
    check_symbols(base, cur, report)
    check_functions(base, cur, report)
    check_types(base, cur, renames, report)

    for line in report.violations:
        print("ABI BREAK: " + line)
    for line in report.notes:
        print("note: " + line)
    added = report.added
    additions = "%d functions, %d variables, %d struct members, %d enumerators added" % (
        added["functions"], added["variables"], added["members"], added["enumerators"])
    if report.violations:
        print("abi_compare: %d violation(s) against %s (%s)"
              % (len(report.violations), args.baseline, additions))
        return 1
    print("abi_compare: compatible with %s: %s" % (args.baseline, additions))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
