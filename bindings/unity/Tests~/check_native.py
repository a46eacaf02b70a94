#!/usr/bin/env python3
"""Checks the Unity package's P/Invoke declarations and enums against bindings/c/roomlink.h.

Mono compiles whatever Runtime/Native.cs declares, and a declaration that disagrees with the
library corrupts memory instead of failing to compile. Checked:

- Runtime/Native.cs, every `[DllImport] static extern`: the function (its name, or EntryPoint)
  exists in the header, with as many parameters, each of a matching type (int/uint/long/ulong =
  int32_t/uint32_t/int64_t/uint64_t after typedefs, IntPtr = any pointer, byte[] = const char *,
  ref/out T = a pointer to T, a struct = the header's struct roomlink_<snake name>);
- every `[StructLayout(Sequential)] struct`: the header's struct of that name, field for field
  (names and types, in order);
- every `delegate`: the callback typedef DELEGATES maps it to, parameter for parameter;
- every `const int/uint FooBar = N`: the header's ROOMLINK_FOO_BAR is N;
- Runtime/Enums.cs, every public enum that ENUMS maps to a ROOMLINK_*_ group: each member equals
  the group's constant of its name, and every constant of the group is a member (or allowed).

The header is parsed by the Flutter checker's parser (bindings/flutter/tool/check_bindings.py).
`--self-test` first proves the check fails on doctored copies of the header and the C# files.
Usage: check_native.py [--self-test]   (paths are relative to this file)
"""

import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
HEADER = PACKAGE.parent / "c" / "roomlink.h"
# The ABI version the header declares now (the bump mutation starts from it).
ABI = int(re.search(r"ROOMLINK_ABI_VERSION (\d+)", HEADER.read_text()).group(1))
sys.path.insert(0, str(PACKAGE.parent / "flutter" / "tool"))
sys.dont_write_bytecode = True  # no __pycache__ left in the Flutter plugin's folder
from check_bindings import Header, snake  # noqa: E402  (one header parser for both checks)

NATIVE = "Runtime/Native.cs"
ENUMS_CS = "Runtime/Enums.cs"

# C# delegate -> the header's callback typedef.
DELEGATES = {
    "RoomStateChangedFn": "roomlink_on_room_state_changed",
    "RoomUserUpdateFn": "roomlink_on_room_user_update",
    "RoomOnlineUserCountUpdateFn": "roomlink_on_room_online_user_count_update",
    "RoomStreamUpdateFn": "roomlink_on_room_stream_update",
    "RoomTokenWillExpireFn": "roomlink_on_room_token_will_expire",
    "ReleasedFn": "roomlink_on_released",
    "EventReadyFn": "roomlink_event_ready_callback",
    "LogFn": "roomlink_log_callback",
}
# C# enum -> (the header's constant group, constants of it the enum may leave out); None: C# only.
ENUMS = {
    "RoomStateChangedReason": ("ROOMLINK_REASON_", set()),
    "ConnectionState": ("ROOMLINK_STATE_", set()),
    "UpdateType": ("ROOMLINK_UPDATE_", set()),
    # NONE (an Add's reason) is a null StreamDeleteReason? in C#.
    "StreamDeleteReason": ("ROOMLINK_STREAM_DELETE_REASON_", {"ROOMLINK_STREAM_DELETE_REASON_NONE"}),
    "RoomMode": ("ROOMLINK_ROOM_MODE_", set()),
    "RoomlinkLogLevel": ("ROOMLINK_LOG_", set()),
    "EventDelivery": None,
}
SCALARS = {"int": "int32_t", "uint": "uint32_t", "long": "int64_t", "ulong": "uint64_t"}

DLLIMPORT = re.compile(
    r"\[DllImport\(Lib(?P<attrs>[^\]]*)\)\]\s*internal static extern (?P<ret>[\w\[\]]+) "
    r"(?P<name>\w+)\((?P<params>[^)]*)\);",
    re.S,
)
STRUCT = re.compile(r"internal struct (?P<name>\w+)\s*\{(?P<body>[^}]*)\}", re.S)
FIELD = re.compile(r"internal ([\w\[\]]+) (\w+);")
DELEGATE = re.compile(r"internal delegate (?P<ret>\w+) (?P<name>\w+)\((?P<params>[^)]*)\);", re.S)
CONST = re.compile(r"internal const (?:int|uint) (\w+) = (-?\d+);")
ENUM = re.compile(r"public enum (?P<name>\w+)\s*\{(?P<body>.*?)\n    \}", re.S)
ENUM_VALUE = re.compile(r"^\s*(\w+) = (-?\d+),", re.M)


def c_type(h, ctype):
    """(base, pointer depth) of a C type, typedefs resolved; a callback typedef is ('fn', 0)."""
    t = re.sub(r"\b(const|struct)\b", "", ctype)
    stars = t.count("*")
    base = t.replace("*", "").strip()
    while base in h.aliases:
        base = h.aliases[base]
    if base in h.fnptrs:
        base = "fn"
    return base, stars


def matches(cs, base, stars, structs):
    """Whether C# type `cs` (e.g. 'out IntPtr', 'ref EngineConfig', 'byte[]') is (base, stars)."""
    words = cs.split()
    if words[0] in ("ref", "out"):
        return stars >= 1 and matches(words[1], base, stars - 1, structs)
    cs = words[0]
    if cs == "IntPtr":
        return stars >= 1 or base == "fn"
    if cs == "byte[]":
        return base == "char" and stars == 1
    if cs == "void":
        return base == "void" and stars == 0
    if cs == "UIntPtr":  # C#'s pointer-sized unsigned integer: size_t, and uintptr_t
        return base in ("size_t", "uintptr_t") and stars == 0
    if cs in SCALARS:
        return base == SCALARS[cs] and stars == 0
    if cs in structs:
        return base == "roomlink_" + snake(cs) and stars == 0
    return False


def cs_params(text):
    """'ulong engine, out IntPtr ev' -> [('ulong', 'engine'), ('out IntPtr', 'ev')]."""
    out = []
    for p in text.split(","):
        p = " ".join(p.split())
        if p:
            ty, name = p.rsplit(" ", 1)
            out.append((ty, name))
    return out


def check(header_text, files):
    """Returns (errors, summary)."""
    h = Header(header_text)
    native, enums_cs = files[NATIVE], files[ENUMS_CS]
    errors = []
    structs = {m["name"]: FIELD.findall(m["body"]) for m in STRUCT.finditer(native)}
    imports = list(DLLIMPORT.finditer(native))
    if len(imports) != native.count("[DllImport("):
        errors.append(f"{NATIVE}: {native.count('[DllImport(')} DllImports, {len(imports)} understood")

    for name, fields in structs.items():
        c = "roomlink_" + snake(name)
        if c not in h.structs:
            errors.append(f"struct {name}: struct {c} is not in the header")
            continue
        want = h.structs[c]
        if len(fields) != len(want):
            errors.append(f"struct {name}: {len(fields)} fields, struct {c} has {len(want)}")
        for i, ((cs, fname), (ct, cname)) in enumerate(zip(fields, want)):
            if fname != cname or not matches(cs, *c_type(h, ct), structs):
                errors.append(f"struct {name}: field {i} is {cs} {fname}, struct {c} has {ct} {cname}")
                break

    for m in imports:
        entry = re.search(r'EntryPoint\s*=\s*"(\w+)"', m["attrs"])
        sym = entry[1] if entry else m["name"]
        if sym not in h.functions:
            errors.append(f"{m['name']}: {sym} is not a function of the header")
            continue
        ret, params = h.functions[sym]
        if not matches(m["ret"], *c_type(h, ret), structs):
            errors.append(f"{m['name']}: returns {m['ret']}, {sym} returns {ret}")
        ps = cs_params(m["params"])
        if len(ps) != len(params):
            errors.append(f"{m['name']}: {len(ps)} parameters, {sym} has {len(params)}")
        for i, ((cs, pname), (ct, cname)) in enumerate(zip(ps, params)):
            if not matches(cs, *c_type(h, ct), structs):
                errors.append(f"{m['name']}: parameter {i} ({pname}) is {cs}, {sym}'s is {ct} {cname}")

    delegates = list(DELEGATE.finditer(native))
    for m in delegates:
        c = DELEGATES.get(m["name"])
        if c is None or c not in h.fnptrs:
            errors.append(f"delegate {m['name']}: maps to no callback typedef of the header")
            continue
        ret, params = h.fnptrs[c]
        if not matches(m["ret"], *c_type(h, ret), structs):
            errors.append(f"delegate {m['name']}: returns {m['ret']}, {c} returns {ret}")
        ps = cs_params(m["params"])
        if len(ps) != len(params):
            errors.append(f"delegate {m['name']}: {len(ps)} parameters, {c} has {len(params)}")
        for i, ((cs, pname), (ct, _)) in enumerate(zip(ps, params)):
            if not matches(cs, *c_type(h, ct), structs):
                errors.append(f"delegate {m['name']}: parameter {i} ({pname}) is {cs}, {c}'s is {ct}")

    consts = CONST.findall(native)
    for name, value in consts:
        c = "ROOMLINK_" + snake(name).upper()
        if c not in h.defines:
            errors.append(f"const {name}: {c} is not in the header")
        elif h.defines[c] != int(value):
            errors.append(f"const {name} is {value}, {c} is {h.defines[c]} in the header")

    enums = list(ENUM.finditer(enums_cs))
    for m in enums:
        if m["name"] not in ENUMS:
            errors.append(f"enum {m['name']}: not in ENUMS (map it to its ROOMLINK_*_ group, or None)")
            continue
        if ENUMS[m["name"]] is None:
            continue
        prefix, allowed = ENUMS[m["name"]]
        group = {k: v for k, v in h.defines.items() if k.startswith(prefix)}
        seen = set()
        for member, value in ENUM_VALUE.findall(m["body"]):
            c = prefix + snake(member).upper()
            seen.add(c)
            if c not in group:
                errors.append(f"{m['name']}.{member}: {c} is not in the header")
            elif group[c] != int(value):
                errors.append(f"{m['name']}.{member} is {value}, {c} is {group[c]} in the header")
        for c in sorted(set(group) - seen - allowed):
            errors.append(f"enum {m['name']}: the header's {c} = {group[c]} has no member")

    summary = (
        f"{len(imports)} functions, {len(structs)} structs, {len(delegates)} callbacks, "
        f"{len(consts)} constants, {len(enums)} enums"
    )
    if not imports or not structs or not delegates or not enums:
        errors.append(f"found too little to check ({summary}): did the C# files' layout change?")
    return errors, summary


# Each: (what it breaks, "header" or a C# file, text to replace, replacement, a word the error
# must mention).
POLL_OUT = "engine,\n                            struct roomlink_event **out);"
READY_TYPE = "typedef void (*roomlink_event_ready_callback)(void *user_data);"
MUTATIONS = [
    ("a parameter removed", "header", ",\n                            uint32_t user_update)", ")",
     "roomlink_login_room"),
    ("a field retyped", "header", "  uint32_t remaining_seconds;", "  uint64_t remaining_seconds;",
     "struct Event"),
    ("two fields swapped", "header", "  const char *user_id;\n  const char *user_name;",
     "  const char *user_name;\n  const char *user_id;", "struct User"),
    ("a function renamed", "header", "t roomlink_poll_event(", "t roomlink_poll_next(",
     "roomlink_poll_event"),
    ("a pointer level removed", "header", POLL_OUT, POLL_OUT.replace("**", "*"), "roomlink_poll_event"),
    ("a callback's parameter retyped", "header", READY_TYPE,
     READY_TYPE.replace("void *user_data", "uint64_t user_data"), "EventReadyFn"),
    ("a constant renumbered", "header", "REASON_LOGOUT 7", "REASON_LOGOUT 9", "Logout"),
    ("a constant added", "header", "#define ROOMLINK_UPDATE_DELETE 1",
     "#define ROOMLINK_UPDATE_DELETE 1\n#define ROOMLINK_UPDATE_REPLACE 2", "ROOMLINK_UPDATE_REPLACE"),
    ("the ABI version bumped", "header", f"ABI_VERSION {ABI}", f"ABI_VERSION {ABI + 1}", "AbiVersion"),
    ("a C# parameter retyped", NATIVE, "roomlink_on_network_changed(ulong engine, uint available)",
     "roomlink_on_network_changed(ulong engine, int available)", "roomlink_on_network_changed"),
    ("a C# field dropped", NATIVE, "            internal uint remaining_seconds;\n", "", "struct Event"),
    ("a C# enum value changed", ENUMS_CS, "Logout = 7,", "Logout = 9,", "Logout"),
    ("a C# enum not mapped", ENUMS_CS, "public enum UpdateType", "public enum UpdateKind", "UpdateKind"),
]


def self_test(header_text, files):
    if check(header_text, files)[0]:
        return ["the real files must pass before the self-test means anything"]
    failures = []
    for what, target, old, new, expect in MUTATIONS:
        h, doctored = header_text, dict(files)
        text = h if target == "header" else doctored[target]
        if old not in text:
            failures.append(f"self-test '{what}': {target} no longer contains {old!r}")
            continue
        if target == "header":
            h = h.replace(old, new, 1)
        else:
            doctored[target] = text.replace(old, new, 1)
        errors, _ = check(h, doctored)
        if not any(expect in e for e in errors):
            failures.append(f"self-test '{what}': not caught (errors: {errors})")
    return failures


def main(argv):
    header_text = HEADER.read_text()
    files = {name: (PACKAGE / name).read_text() for name in (NATIVE, ENUMS_CS)}
    if "--self-test" in argv:
        failures = self_test(header_text, files)
        for f in failures:
            print(f"check_native: {f}", file=sys.stderr)
        if failures:
            return 1
        print(f"check_native: self-test: all {len(MUTATIONS)} doctored copies were caught")
    errors, summary = check(header_text, files)
    for e in errors:
        print(f"check_native: {e}", file=sys.stderr)
    if errors:
        print(f"check_native: bindings/unity does not match bindings/c/roomlink.h "
              f"({len(errors)} problems)", file=sys.stderr)
        return 1
    print(f"check_native: bindings/unity matches bindings/c/roomlink.h ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
