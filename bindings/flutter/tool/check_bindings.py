#!/usr/bin/env python3
"""Checks the Flutter plugin's hand-written dart:ffi declarations against bindings/c/roomlink.h.

No Dart SDK runs in CI, so nothing else would notice a header change the Dart files miss, and such
a mismatch corrupts memory instead of failing to compile. Checked, from lib/**/*.dart:

- every `lookupFunction<Native, Dart>('roomlink_x')`: the function exists in the header, with the
  same number of parameters, each parameter and the result of the matching dart:ffi type (typedefs
  resolved: roomlink_engine is Uint64, const char * is Pointer<Utf8>, struct pointers point to the
  Dart class of that struct), and the Dart signature agrees with the native one;
- every `final class X extends Struct` whose doc names `struct roomlink_y`: the same fields, in
  the same order, with the same names (camelCase of the C names) and types; `extends Opaque`
  classes only have to name a struct that exists;
- every `enum E implements CEnum` whose doc names a group `ROOMLINK_PREFIX_*`: each value equals
  the header's ROOMLINK_PREFIX_<NAME>, and every constant of the group in the header is a value
  (or is named in the enum's doc, e.g. a NONE mapped to null);
- every `const int roomlinkFooBar = N;`: equals the header's ROOMLINK_FOO_BAR.

`--self-test` first proves the check fails on doctored copies of the header and the Dart files.
Usage: check_bindings.py [--self-test]   (run from anywhere; paths are relative to this file)
"""

import re
import sys
from pathlib import Path

PLUGIN = Path(__file__).resolve().parent.parent
HEADER = PLUGIN.parent / "c" / "roomlink.h"
# The ABI version the header declares now (the bump mutation starts from it).
ABI = int(re.search(r"ROOMLINK_ABI_VERSION (\d+)", HEADER.read_text()).group(1))

SCALARS = {
    "void": "Void",
    "bool": "Bool",
    "int8_t": "Int8",
    "int16_t": "Int16",
    "int32_t": "Int32",
    "int64_t": "Int64",
    "uint8_t": "Uint8",
    "uint16_t": "Uint16",
    "uint32_t": "Uint32",
    "uint64_t": "Uint64",
    "size_t": "Size",
    "intptr_t": "IntPtr",
    "float": "Float",
    "double": "Double",
}
# The Dart type a native type is passed as in the Dart-side signature of lookupFunction.
DART_OF_NATIVE = {"Void": "void", "Bool": "bool", "Float": "double", "Double": "double"}


def as_dart(native):
    """The Dart type a native type is passed as: int for the integers, pointers unchanged."""
    return native if native.startswith("Pointer<") else DART_OF_NATIVE.get(native, "int")


def snake(camel):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel).lower()


def split_top(text, sep=","):
    """Splits at `sep` outside <> and () nesting; drops empty pieces (a trailing comma)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def squash(t):
    return re.sub(r"\s+", "", t)


# ---------------------------------------------------------------------------------------------
# The header (cbindgen's layout: one declaration per statement, functions start a line)

C_DEFINE = re.compile(r"^#define\s+(ROOMLINK_\w+)\s+(-?(?:0x)?[0-9A-Fa-f]+)\s*$", re.M)
C_ALIAS = re.compile(r"^typedef\s+(\w+)\s+(\w+)\s*;", re.M)
C_FNPTR = re.compile(r"^typedef\s+([^;{]*?)\(\*\s*(\w+)\)\s*\(([^;]*?)\)\s*;", re.M | re.S)
C_STRUCT = re.compile(r"^typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", re.M | re.S)
C_FUNCTION = re.compile(
    r"^(?P<ret>[A-Za-z_][\w ]*?[\s*]+)(?P<name>roomlink_\w+)\s*\((?P<params>[^;]*?)\)\s*;", re.M
)


class Header:
    def __init__(self, text):
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        self.defines = {m[1]: int(m[2], 0) for m in C_DEFINE.finditer(text)}
        self.aliases = {m[2]: m[1] for m in C_ALIAS.finditer(text)}
        self.fnptrs = {m[2]: (m[1].strip(), self._params(m[3])) for m in C_FNPTR.finditer(text)}
        self.structs = {}
        for m in C_STRUCT.finditer(text):
            fields = []
            for decl in m[2].split(";"):
                decl = decl.strip()
                if decl:
                    fields.append(self._decl(decl))
            self.structs[m[1]] = fields
        self.functions = {
            m["name"]: (m["ret"].strip(), self._params(m["params"]))
            for m in C_FUNCTION.finditer(text)
        }

    @staticmethod
    def _decl(decl):
        """'const char *server_url' -> ('const char *', 'server_url')."""
        m = re.match(r"^(.*?)(\w+)$", decl.strip(), re.S)
        return m[1].strip(), m[2]

    def _params(self, text):
        text = text.strip()
        if text in ("", "void"):
            return []
        return [self._decl(p) for p in text.split(",")]

    def ffi_type(self, ctype, dart_structs):
        """The dart:ffi type of a C type: 'const struct roomlink_kv *' -> Pointer<RoomlinkKvC>."""
        t = re.sub(r"\b(const|struct)\b", "", ctype)
        stars = t.count("*")
        base = t.replace("*", "").strip()
        while base in self.aliases:
            base = self.aliases[base]
        if base == "char":
            # Strings: package:ffi's Utf8 (the header's strings are UTF-8), a plain char is Char.
            inner = "Utf8" if stars > 0 else "Char"
        elif base in SCALARS:
            inner = SCALARS[base]
        elif base in self.fnptrs:
            ret, params = self.fnptrs[base]
            args = ",".join(self.ffi_type(p, dart_structs) for p, _ in params)
            inner = f"Pointer<NativeFunction<{self.ffi_type(ret, dart_structs)}Function({args})>>"
        elif base in self.structs:
            inner = dart_structs.get(base, f"<no Dart class for struct {base}>")
        else:
            inner = f"<unknown C type {base}>"
        for _ in range(stars):
            inner = f"Pointer<{inner}>"
        return inner


# ---------------------------------------------------------------------------------------------
# The Dart files (the layout lib/src/bindings.dart and lib/src/types.dart follow)

DOC = r"(?P<doc>(?:^[ \t]*///[^\n]*\n)+)"  # a doc comment, then the declaration
DART_STRUCT = re.compile(
    DOC + r"^final class (?P<cls>\w+) extends (?P<kind>Struct|Opaque) (?:\{\}|\{(?P<body>.*?)^\})",
    re.M | re.S,
)
DART_FIELD = re.compile(r"(?:@(\w+)\(\)\s*)?external\s+([\w<>, ]+?)\s+(\w+)\s*;")
DART_ENUM = re.compile(
    DOC + r"^enum (?P<enum>\w+) implements CEnum \{(?P<body>.*?)^\}", re.M | re.S
)
DART_ENUM_VALUE = re.compile(r"^\s*(\w+)\((-?\d+)\)\s*[,;]", re.M)
DART_CONST = re.compile(r"\bconst int (roomlink\w+) = (-?(?:0x)?[0-9A-Fa-f]+);")


def matching_angle(text, start):
    """Index of the '>' closing the '<' at `start`."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "<":
            depth += 1
        elif text[i] == ">":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced <>")


def parse_signature(sig):
    """'Int32 Function(Uint64, Pointer<Utf8>)' -> ('Int32', ['Uint64', 'Pointer<Utf8>'])."""
    sig = squash(sig)
    depth = 0
    for i, ch in enumerate(sig):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif depth == 0 and sig.startswith("Function(", i):
            return sig[:i], split_top(sig[i + len("Function(") : -1])
    raise ValueError(f"not a function type: {sig}")


class Dart:
    def __init__(self, files):
        """files: {name: text}."""
        self.lookups, self.structs, self.opaque, self.enums, self.consts = {}, {}, {}, {}, {}
        for name, text in files.items():
            self._scan(name, text)

    def _scan(self, name, text):
        # Every declaration of a kind must be understood below, or it would go unchecked.
        declared = {
            "Struct/Opaque classes": len(re.findall(r"\bextends (?:Struct|Opaque)\b", text)),
            "CEnum enums": len(re.findall(r"\bimplements CEnum\b", text)),
        }
        before = (len(self.structs) + len(self.opaque), len(self.enums))
        for m in re.finditer(r"lookupFunction<", text):
            end = matching_angle(text, m.end() - 1)
            native, dart = split_top(text[m.end() : end])
            sym = re.match(r"\s*\(\s*'(\w+)'\s*\)", text[end + 1 :])
            if not sym:
                raise ValueError(f"{name}: lookupFunction without a literal symbol name")
            self.lookups[sym[1]] = (native, dart, name)
        for m in DART_STRUCT.finditer(text):
            c = re.search(r"\bstruct (roomlink_\w+)", m["doc"])
            if not c:
                continue
            if m["kind"] == "Opaque":
                self.opaque[m["cls"]] = c[1]
                continue
            # The native type: the annotation (@Uint32()) or the declared type (Pointer<...>).
            fields = [(f[1] or squash(f[2]), f[3]) for f in DART_FIELD.finditer(m["body"])]
            self.structs[m["cls"]] = (c[1], fields)
        for m in DART_ENUM.finditer(text):
            prefix = re.search(r"`(ROOMLINK_[A-Z0-9_]*_)\*`", m["doc"])
            if not prefix:
                raise ValueError(f"{name}: enum {m['enum']} does not name its ROOMLINK_..._* group")
            named = set(re.findall(r"\b(ROOMLINK_[A-Z0-9_]*[A-Z0-9])\b", m["doc"]))
            values = [(v[1], int(v[2])) for v in DART_ENUM_VALUE.finditer(m["body"])]
            self.enums[m["enum"]] = (prefix[1], values, named)
        for m in DART_CONST.finditer(text):
            self.consts[m[1]] = int(m[2], 0)
        found = (len(self.structs) + len(self.opaque) - before[0], len(self.enums) - before[1])
        for (what, n), got in zip(declared.items(), found):
            if n != got:
                raise ValueError(f"{name}: {n} {what}, {got} understood (a doc comment missing?)")


# ---------------------------------------------------------------------------------------------
# The comparison


def check(header_text, dart_files):
    """Returns (errors, summary)."""
    h = Header(header_text)
    try:
        d = Dart(dart_files)
    except ValueError as e:  # a declaration the checker cannot read
        return [str(e)], "nothing checked"
    errors = []
    dart_structs = {c: cls for cls, (c, _) in d.structs.items()}
    dart_structs.update({c: cls for cls, c in d.opaque.items()})

    for cls, c in d.opaque.items():
        if c not in h.structs:
            errors.append(f"{cls}: struct {c} is not in the header")

    for cls, (c, fields) in d.structs.items():
        if c not in h.structs:
            errors.append(f"{cls}: struct {c} is not in the header")
            continue
        want = [(h.ffi_type(t, dart_structs), n) for t, n in h.structs[c]]
        got = [(t, snake(n)) for t, n in fields]
        if len(want) != len(got):
            errors.append(f"{cls}: {len(got)} fields, struct {c} has {len(want)}")
        for i, (w, g) in enumerate(zip(want, got)):
            if w != g:
                errors.append(f"{cls}: field {i} is {g[1]}: {g[0]}, struct {c} has {w[1]}: {w[0]}")
                break

    for sym, (native, dart, where) in d.lookups.items():
        if sym not in h.functions:
            errors.append(f"{where}: {sym} is not a function of the header")
            continue
        ret, params = h.functions[sym]
        n_ret, n_params = parse_signature(native)
        d_ret, d_params = parse_signature(dart)
        if len(n_params) != len(params):
            errors.append(f"{sym}: {len(n_params)} parameters in Dart, {len(params)} in the header")
        want_ret = h.ffi_type(ret, dart_structs)
        if n_ret != want_ret:
            errors.append(f"{sym}: returns {n_ret} in Dart, {want_ret} in the header")
        for i, ((ctype, pname), got) in enumerate(zip(params, n_params)):
            want = h.ffi_type(ctype, dart_structs)
            if got != want:
                errors.append(f"{sym}: parameter {i} ({pname}) is {got} in Dart, {want} in C")
        if [as_dart(t) for t in [n_ret, *n_params]] != [d_ret, *d_params]:
            errors.append(f"{sym}: Dart signature {squash(dart)} does not match {squash(native)}")

    for enum, (prefix, values, named) in d.enums.items():
        group = {k: v for k, v in h.defines.items() if k.startswith(prefix)}
        if not group:
            errors.append(f"{enum}: no {prefix}* constants in the header")
        seen = set()
        for value_name, value in values:
            c = prefix + snake(value_name).upper()
            seen.add(c)
            if c not in group:
                errors.append(f"{enum}.{value_name}: {c} is not in the header")
            elif group[c] != value:
                errors.append(f"{enum}.{value_name} is {value}, {c} is {group[c]} in the header")
        for c in sorted(set(group) - seen - named):
            errors.append(f"{enum}: the header's {c} = {group[c]} has no value")

    for const, value in d.consts.items():
        c = snake(const).upper()
        if c not in h.defines:
            errors.append(f"{const}: {c} is not in the header")
        elif h.defines[c] != value:
            errors.append(f"{const} is {value}, {c} is {h.defines[c]} in the header")

    summary = (
        f"{len(d.lookups)} functions, {len(d.structs) + len(d.opaque)} structs, "
        f"{len(d.enums)} enums, {len(d.consts)} constants"
    )
    if not d.lookups or not d.structs or not d.enums:
        errors.append(f"found too little to check ({summary}): did the Dart files' layout change?")
    return errors, summary


def dart_sources():
    files = sorted((PLUGIN / "lib").rglob("*.dart"))
    return {str(p.relative_to(PLUGIN)): p.read_text() for p in files}


# Each: (what it breaks, "header" or a Dart file, text to replace, replacement, a name the error
# must mention).
LOGIN_TAIL = ",\n                            uint32_t user_update)"
POLL_OUT = "engine,\n                            struct roomlink_event **out);"
READY_TYPE = "typedef void (*roomlink_event_ready_callback)(void *user_data);"
TOKEN_KIND = "#define ROOMLINK_EVENT_ROOM_TOKEN_WILL_EXPIRE 4"
NETWORK_DART = "int Function(int, int)>('roomlink_on_network_changed')"
MUTATIONS = [
    ("a parameter removed", "header", LOGIN_TAIL, ")", "roomlink_login_room"),
    ("a field's type changed", "header", "  uint32_t count;", "  uint64_t count;", "EventC"),
    (
        "two fields swapped",
        "header",
        "  const char *user_id;\n  const char *user_name;",
        "  const char *user_name;\n  const char *user_id;",
        "RoomlinkUserC",
    ),
    ("a function renamed", "header", "t roomlink_event_free(", "t roomlink_event_gone(", "roomlink_event_free"),
    ("a pointer level removed", "header", POLL_OUT, POLL_OUT.replace("**", "*"), "poll_event"),
    (
        "a callback type's parameter changed",
        "header",
        READY_TYPE,
        READY_TYPE.replace("void *user_data", "uint64_t user_data"),
        "roomlink_set_event_ready_callback",
    ),
    (
        "a log record field retyped",
        "header",
        "  uint32_t dropped_before;",
        "  uint64_t dropped_before;",
        "RoomlinkLogRecordC",
    ),
    ("a constant renumbered", "header", "REASON_LOGOUT 7", "REASON_LOGOUT 9", "logout"),
    (
        "a constant added",
        "header",
        TOKEN_KIND,
        TOKEN_KIND + "\n#define ROOMLINK_EVENT_ROOM_EXTRA_INFO_UPDATE 5",
        "ROOMLINK_EVENT_ROOM_EXTRA_INFO_UPDATE",
    ),
    ("the ABI version bumped", "header", f"ABI_VERSION {ABI}", f"ABI_VERSION {ABI + 1}", "roomlinkAbiVersion"),
    (
        "a Dart parameter type wrong",
        "lib/src/bindings.dart",
        "Int32 Function(Uint64, Uint32),",
        "Int32 Function(Uint64, Int32),",
        "roomlink_on_network_changed",
    ),
    (
        "a struct's doc comment lost",
        "lib/src/bindings.dart",
        "/// C: `struct roomlink_kv`.\n",
        "",
        "understood",
    ),
    (
        "a Dart signature disagreeing",
        "lib/src/bindings.dart",
        NETWORK_DART,
        NETWORK_DART.replace("int, int", "int, bool"),
        "roomlink_on_network_changed",
    ),
]


def self_test(header_text, dart_files):
    errors, _ = check(header_text, dart_files)
    if errors:
        return ["the real files must pass before the self-test means anything"]
    failures = []
    for what, target, old, new, expect in MUTATIONS:
        h, files = header_text, dict(dart_files)
        if target == "header":
            if old not in h:
                failures.append(f"self-test '{what}': the header no longer contains {old!r}")
                continue
            h = h.replace(old, new, 1)
        else:
            if old not in files.get(target, ""):
                failures.append(f"self-test '{what}': {target} no longer contains {old!r}")
                continue
            files[target] = files[target].replace(old, new, 1)
        errors, _ = check(h, files)
        if not any(expect in e for e in errors):
            failures.append(f"self-test '{what}': not caught (errors: {errors})")
    return failures


def main(argv):
    header_text, dart_files = HEADER.read_text(), dart_sources()
    if "--self-test" in argv:
        failures = self_test(header_text, dart_files)
        for f in failures:
            print(f"check_bindings: {f}", file=sys.stderr)
        if failures:
            return 1
        print(f"check_bindings: self-test: all {len(MUTATIONS)} doctored copies were caught")
    errors, summary = check(header_text, dart_files)
    for e in errors:
        print(f"check_bindings: {e}", file=sys.stderr)
    if errors:
        print(
            f"check_bindings: bindings/flutter does not match bindings/c/roomlink.h "
            f"({len(errors)} problems)",
            file=sys.stderr,
        )
        return 1
    print(f"check_bindings: bindings/flutter matches bindings/c/roomlink.h ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
