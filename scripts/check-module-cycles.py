#!/usr/bin/env python3
"""Import cycles between the modules (files) of each Rust crate of the workspace.

A module is a source file (`lib.rs`/`main.rs` is the crate root, `a/mod.rs` or
`a.rs` is `a`, `a/b.rs` is `a::b`; inline `mod x { }` blocks count as part of their
file). Module A depends on module B when A's code names an item defined in B: a
`use` (each leaf of a use tree), a path in code (`crate::b::f()`, `super::X`,
`b::f()` through an imported or child module), or a `macro_rules!` macro of B
invoked in A. Paths are resolved through re-exports (`pub use`, globs) to the
module that defines the item, so a `mod.rs` that only re-exports its children
does not put them in a circle; the re-export itself is a dependency of the
re-exporting module. `mod b;` alone is not a dependency. Code under `#[cfg(test)]`
is left out: it is not part of the shipped graph. Comments and string literals
are ignored.

Prints every elementary cycle (`crate: a -> b -> c`, starting at the smallest
name; the last module depends on the first), and fails (exit 1) only on cycles
that are not in the allow-list (scripts/module-cycles.allow by default), so that
the cycles being cut can be listed there until they are gone. Allow-listed cycles
that no longer exist are reported as stale (remove them); they do not fail.

Usage:
  scripts/check-module-cycles.py                 # check every workspace crate
  scripts/check-module-cycles.py --list          # every cycle, allowed or not
  scripts/check-module-cycles.py --why           # and the line behind each edge
  scripts/check-module-cycles.py --crate core    # one crate (a name or a directory)
  scripts/check-module-cycles.py --write-allow   # rewrite the allow-list with today's cycles
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ALLOW = ROOT / "scripts" / "module-cycles.allow"
MAX_CYCLES = 20000

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
ITEM_RE = re.compile(
    r"\b(?:fn|struct|enum|union|trait|type|const|static|mod)\s+(" + IDENT + r")"
    r"|\bmacro_rules!\s*(" + IDENT + r")"
)
PATH_RE = re.compile(r"(\$?" + IDENT + r")((?:\s*::\s*" + IDENT + r")+)")
MACRO_CALL_RE = re.compile(r"(?<![:\w$])(" + IDENT + r")!\s*[(\[{]")


# --------------------------------------------------------------------------- lexing


def strip(src: str) -> str:
    """Blanks comments, string and char literals, keeping every newline."""
    out = []
    i, n = 0, len(src)

    def blank(s: str) -> str:
        return "".join("\n" if c == "\n" else " " for c in s)

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(src[i:j]))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(src[i:j]))
            i = j
        elif (m := re.compile(r'b?r(#*)"').match(src, i)) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = '"' + m.group(1)
            j = src.find(end, m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + blank(src[i + 2 : j]))
            i = j
        elif c == '"' or (c == "b" and src.startswith('b"', i) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_"))):
            j = i + (2 if c == "b" else 1)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append('""' + blank(src[i + 2 : j]))
            i = j
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}', b'x') or a lifetime ('a).
            m = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'").match(src, i)
            if m:
                out.append(blank(m.group(0)))
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching(code: str, i: int, open_: str, close: str) -> int:
    """`code[i]` is `open_`: the index after its matching `close`."""
    level = 0
    while i < len(code):
        if code[i] == open_:
            level += 1
        elif code[i] == close:
            level -= 1
            if level == 0:
                return i + 1
        i += 1
    return len(code)


def item_end(code: str, start: int) -> int:
    """End of the item starting at `start`: after its `;` or its `{ ... }` block."""
    depth = 0
    for i in range(start, len(code)):
        c = code[i]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == ";" and depth == 0:
            return i + 1
        elif c == "{" and depth == 0:
            return matching(code, i, "{", "}")
    return len(code)


ATTR_RE = re.compile(r"#\s*\[")


def attribute_end(code: str, start: int) -> int:
    """`start` is at `#[`: the index after the matching `]`."""
    return matching(code, code.index("[", start), "[", "]")


CFG_TEST_RE = re.compile(r"#\s*\[\s*cfg\s*\(\s*test\s*\)\s*\]")


def drop_test_code(code: str) -> tuple[str, set[str]]:
    """Blanks every item under `#[cfg(test)]`; returns the code and the names of
    `mod x;` files declared under it (not part of the graph)."""
    test_mods: set[str] = set()
    while m := CFG_TEST_RE.search(code):
        i = m.end()
        while True:  # further attributes of the same item
            j = len(code) - len(code[i:].lstrip())
            if ATTR_RE.match(code, j):
                i = attribute_end(code, j)
            else:
                i = j
                break
        end = item_end(code, i)
        if mm := re.match(r"(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", code[i:end]):
            test_mods.add(mm.group(1))
        code = code[: m.start()] + "".join("\n" if c == "\n" else " " for c in code[m.start() : end]) + code[end:]
    return code, test_mods


# ---------------------------------------------------------------------- use trees


@dataclass
class Use:
    path: tuple[str, ...]  # full path of the leaf (for a glob: of the module)
    name: str  # local name, or "*"
    line: int
    public: bool = False  # a re-export (`pub use`, `pub(crate) use`)


def parse_use_tree(text: str, prefix: tuple[str, ...], line: int, out: list[Use]) -> None:
    text = text.strip()
    if not text:
        return
    if text.endswith("}"):
        depth, split = 0, -1
        for k, c in enumerate(text):
            if c == "{":
                if depth == 0 and split < 0:
                    split = k
                depth += 1
            elif c == "}":
                depth -= 1
        head = text[:split].strip().rstrip(":").strip().rstrip(":")
        head_segs = tuple(s.strip() for s in head.split("::") if s.strip())
        body = text[split + 1 : -1]
        depth, start = 0, 0
        parts = []
        for k, c in enumerate(body):
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == "," and depth == 0:
                parts.append(body[start:k])
                start = k + 1
        parts.append(body[start:])
        for p in parts:
            parse_use_tree(p, prefix + head_segs, line, out)
        return
    alias = None
    if m := re.match(r"(.*?)\s+as\s+(" + IDENT + r")$", text, re.S):
        text, alias = m.group(1), m.group(2)
    segs = tuple(s.strip() for s in text.split("::") if s.strip())
    if segs and segs[0] == "::":
        segs = segs[1:]
    full = prefix + segs
    if not full:
        return
    if full[-1] == "*":
        out.append(Use(full[:-1], "*", line))
    elif full[-1] == "self":
        out.append(Use(full[:-1], alias or full[-2], line))
    else:
        out.append(Use(full, alias or full[-1], line))


USE_RE = re.compile(r"\b(pub(?:\s*\([^)]*\))?\s+)?use\s+([^;]*);")


# ------------------------------------------------------------------------ modules


@dataclass
class Module:
    path: tuple[str, ...]
    file: Path
    code: str = ""
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)
    items: set[str] = field(default_factory=set)
    macros: set[str] = field(default_factory=set)
    uses: list[Use] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "::".join(self.path) or "crate"

    def line_of(self, offset: int) -> int:
        return self.code.count("\n", 0, offset) + 1


MOD_DECL_RE = re.compile(r"\b(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;")
INLINE_MOD_RE = re.compile(r"\b(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*\{")


def load_crate(src_dir: Path) -> dict[tuple[str, ...], Module]:
    root = src_dir / "lib.rs"
    if not root.exists():
        root = src_dir / "main.rs"
    modules: dict[tuple[str, ...], Module] = {}

    def blank(text: str) -> str:
        return "".join("\n" if c == "\n" else " " for c in text)

    def build(path: tuple[str, ...], file: Path, code: str, test_mods: set[str], dir_for_children: Path) -> None:
        # Inline modules first: each is a module of its own (in the same file).
        while m := INLINE_MOD_RE.search(code):
            end = item_end(code, m.start())
            inner = blank(code[: m.end()]) + code[m.end() : end - 1] + blank(code[end - 1 :])
            name = m.group(1)
            code = code[: m.start()] + blank(code[m.start() : end]) + code[end:]
            build(path + (name,), file, inner, set(), dir_for_children / name)
            pending.setdefault(path, []).append(name)
        mod = Module(path, file, code)
        modules[path] = mod
        for name in pending.pop(path, []):
            mod.children[name] = path + (name,)
            mod.items.add(name)
        for m in ITEM_RE.finditer(code):
            if m.group(1):
                mod.items.add(m.group(1))
            else:
                mod.macros.add(m.group(2))
        for m in USE_RE.finditer(code):
            before = len(mod.uses)
            parse_use_tree(m.group(2), (), mod.line_of(m.start()), mod.uses)
            for u in mod.uses[before:]:
                u.public = m.group(1) is not None
        for m in MOD_DECL_RE.finditer(code):
            name = m.group(1)
            if name in test_mods:
                continue
            for candidate, child_dir in (
                (dir_for_children / f"{name}.rs", dir_for_children / name),
                (dir_for_children / name / "mod.rs", dir_for_children / name),
            ):
                if candidate.exists():
                    mod.children[name] = path + (name,)
                    load(path + (name,), candidate, child_dir)
                    break

    pending: dict[tuple[str, ...], list[str]] = {}

    def load(path: tuple[str, ...], file: Path, dir_for_children: Path) -> None:
        code, test_mods = drop_test_code(strip(file.read_text()))
        build(path, file, code, test_mods, dir_for_children)

    load((), root, src_dir)
    return modules


class Resolver:
    def __init__(self, modules: dict[tuple[str, ...], Module]):
        self.modules = modules
        self.macro_home: dict[str, list[tuple[str, ...]]] = {}
        for p, m in modules.items():
            for name in m.macros:
                self.macro_home.setdefault(name, []).append(p)

    def start(self, mod: Module, first: str) -> tuple[str, ...] | None:
        """The module a path's first segment names, seen from `mod` (None: outside the crate)."""
        if first in ("crate", "$crate"):
            return ()
        if first == "self":
            return mod.path
        if first == "super":
            return mod.path[:-1]
        if first in mod.children:
            return mod.children[first]
        return None

    def resolve(self, mod: Module, segs: tuple[str, ...], depth: int = 0) -> tuple[str, ...] | None:
        """The module defining the item `segs` names from `mod`, or None if outside the crate."""
        if depth > 24 or not segs:
            return None
        first, rest = segs[0], segs[1:]
        here = self.start(mod, first)
        if here is None:
            # A name imported into `mod` (`use crate::a::b; b::f()`).
            for u in mod.uses:
                if u.name == first:
                    return self.resolve(mod, u.path + rest, depth + 1)
            return None
        while rest and rest[0] == "super":
            here, rest = here[:-1], rest[1:]
        return self.walk(here, rest, depth)

    def walk(self, here: tuple[str, ...], rest: tuple[str, ...], depth: int) -> tuple[str, ...] | None:
        if depth > 24:
            return here
        mod = self.modules.get(here)
        if mod is None:
            return None
        if not rest:
            return here
        seg, tail = rest[0], rest[1:]
        if seg in mod.children:
            return self.walk(mod.children[seg], tail, depth + 1)
        if seg in mod.items or seg in mod.macros:
            return here
        for u in mod.uses:
            if u.name == seg:
                target = self.resolve(mod, u.path + tail, depth + 1)
                return target if target is not None else here
        for u in mod.uses:
            if u.name == "*":
                g = self.resolve(mod, u.path, depth + 1)
                gm = self.modules.get(g) if g is not None else None
                if gm is not None and (seg in gm.items or seg in gm.children or seg in gm.macros or any(x.name == seg for x in gm.uses)):
                    return self.walk(g, rest, depth + 1)
        if seg in self.macro_home and len(self.macro_home[seg]) == 1:
            return self.macro_home[seg][0]  # #[macro_export] macros live at the root
        return here


@dataclass
class Edge:
    src: tuple[str, ...]
    dst: tuple[str, ...]
    file: Path
    line: int
    text: str


def edges_of(modules: dict[tuple[str, ...], Module]) -> dict[tuple[tuple[str, ...], tuple[str, ...]], Edge]:
    r = Resolver(modules)
    edges: dict[tuple[tuple[str, ...], tuple[str, ...]], Edge] = {}

    def add(src: Module, dst: tuple[str, ...] | None, offset_line: int, text: str) -> None:
        if dst is None or dst == src.path or dst not in modules:
            return
        edges.setdefault((src.path, dst), Edge(src.path, dst, src.file, offset_line, text))

    for mod in modules.values():
        code_wo_uses = USE_RE.sub(lambda m: " " * len(m.group(0)), mod.code)
        for u in mod.uses:
            # A re-export alone is not a dependency: paths through it are resolved
            # to the defining module. It is one when the module also uses the name.
            if u.public and (u.name == "*" or not re.search(r"(?<![:\w])" + re.escape(u.name) + r"\b", code_wo_uses)):
                continue
            target = r.resolve(mod, u.path)
            if u.name != "*" and target is not None and target != mod.path:
                add(mod, target, u.line, "use " + "::".join(u.path))
            elif u.name == "*":
                add(mod, target, u.line, "use " + "::".join(u.path) + "::*")
        for m in PATH_RE.finditer(code_wo_uses):
            segs = (m.group(1),) + tuple(s.strip() for s in m.group(2).split("::") if s.strip())
            add(mod, r.resolve(mod, segs), mod.line_of(m.start()), "::".join(segs))
        for m in MACRO_CALL_RE.finditer(code_wo_uses):
            name = m.group(1)
            if name in mod.macros or any(u.name == name for u in mod.uses):
                continue
            homes = r.macro_home.get(name, [])
            if len(homes) == 1:
                add(mod, homes[0], mod.line_of(m.start()), name + "!")
    return edges


# ------------------------------------------------------------------------- cycles


def elementary_cycles(nodes: list[str], succ: dict[str, set[str]]) -> list[list[str]]:
    """Johnson's algorithm, on nodes in sorted order: each cycle starts at its smallest node."""
    cycles: list[list[str]] = []
    order = sorted(nodes)
    for idx, s in enumerate(order):
        allowed = set(order[idx:])
        blocked: set[str] = set()
        bmap: dict[str, set[str]] = {}
        stack: list[str] = [s]

        def unblock(u: str) -> None:
            todo = [u]
            while todo:
                w = todo.pop()
                if w in blocked:
                    blocked.discard(w)
                    todo.extend(bmap.pop(w, set()))

        def circuit(v: str) -> bool:
            found = False
            blocked.add(v)
            for w in sorted(succ.get(v, ())):
                if w not in allowed:
                    continue
                if w == s:
                    cycles.append(list(stack))
                    found = True
                    if len(cycles) > MAX_CYCLES:
                        raise OverflowError
                elif w not in blocked:
                    stack.append(w)
                    if circuit(w):
                        found = True
                    stack.pop()
            if found:
                unblock(v)
            else:
                for w in succ.get(v, ()):
                    if w in allowed:
                        bmap.setdefault(w, set()).add(v)
            return found

        circuit(s)
    return cycles


def workspace_crates() -> list[tuple[str, Path]]:
    text = (ROOT / "Cargo.toml").read_text()
    m = re.search(r"members\s*=\s*\[([^\]]*)\]", text)
    members = re.findall(r'"([^"]+)"', m.group(1)) if m else []
    crates = []
    for d in members:
        src = ROOT / d / "src"
        if (src / "lib.rs").exists() or (src / "main.rs").exists():
            crates.append((d, src))
    return crates


SELF_TEST = {
    "lib.rs": """
        //! `crate::c::Z` in a comment is no dependency, nor "crate::c::Z" in a string.
        mod a;
        mod b;
        mod c;
        mod facade;
        pub use a::X;
        pub mod inline { pub use crate::c::*; }
    """,
    "a.rs": "use crate::b::Y;\npub struct X;\nfn f() -> Y { super::c::make() }\n",
    "b.rs": "pub struct Y;\nfn g() { let _ = crate::a::X; }\n#[cfg(test)]\nmod tests { use crate::c::Z; }\n",
    "c.rs": "pub struct Z;\npub fn make() -> crate::b::Y { crate::b::Y }\nfn h() { let _ = r#\"crate::a::X\"#; }\n",
    "facade/mod.rs": "mod one;\nmod two;\npub use one::One;\npub use two::Two;\n",
    "facade/one.rs": "pub struct One;\nfn f() -> super::Two { super::Two }\n",
    "facade/two.rs": "pub struct Two;\nuse crate::inline::Z;\n",
}


def self_test() -> int:
    """The tool on a small crate whose cycles are known."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        for name, text in SELF_TEST.items():
            f = Path(d) / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text)
        modules = load_crate(Path(d))
        edges = edges_of(modules)
        names = {p: ("::".join(p) or "crate") for p in modules}
        succ: dict[str, set[str]] = {}
        for (a, b) in edges:
            succ.setdefault(names[a], set()).add(names[b])
        got = sorted(" -> ".join(c) for c in elementary_cycles(list(names.values()), succ))
        dependencies = sorted(f"{names[a]} -> {names[b]}" for (a, b) in edges)
    want_cycles = ["a -> b", "a -> c -> b"]
    want_edges = ["a -> b", "a -> c", "b -> a", "c -> b", "facade::one -> facade::two", "facade::two -> c"]
    if got != want_cycles or dependencies != want_edges:
        print(f"self-test FAILED:\n  cycles {got}, want {want_cycles}\n  dependencies {dependencies}, want {want_edges}")
        return 1
    print("self-test passed")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crate", action="append", help="a workspace member name or a crate directory (repeatable)")
    ap.add_argument("--allow", type=Path, default=DEFAULT_ALLOW, help="allow-list file (default %(default)s)")
    ap.add_argument("--list", action="store_true", help="print every cycle, allowed ones too")
    ap.add_argument("--why", action="store_true", help="with each cycle, the line behind each of its edges")
    ap.add_argument("--write-allow", action="store_true", help="write today's cycles to the allow-list")
    ap.add_argument("--edges", action="store_true", help="print every dependency (with its line) and exit")
    ap.add_argument("--self-test", action="store_true", help="check the tool itself on a crate with known cycles")
    args = ap.parse_args()
    if args.self_test:
        return self_test()

    crates = workspace_crates()
    if args.crate:
        chosen = []
        for c in args.crate:
            named = [x for x in crates if x[0] == c]
            chosen += named or [(Path(c).name, Path(c) / "src")]
        crates = chosen

    allowed: set[str] = set()
    if args.allow.exists():
        for line in args.allow.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                allowed.add(" ".join(line.split()))

    found: list[str] = []
    new: list[str] = []
    for crate, src in crates:
        modules = load_crate(src)
        edges = edges_of(modules)
        names = {p: ("::".join(p) or "crate") for p in modules}
        if args.edges:
            for (a, b), e in sorted(edges.items()):
                print(f"{crate}: {names[a]} -> {names[b]}: {os.path.relpath(e.file, ROOT)}:{e.line}: {e.text}")
            continue
        succ: dict[str, set[str]] = {}
        for (a, b) in edges:
            succ.setdefault(names[a], set()).add(names[b])
        try:
            cycles = elementary_cycles(list(names.values()), succ)
        except OverflowError:
            print(f"{crate}: more than {MAX_CYCLES} cycles; giving up", file=sys.stderr)
            return 2
        by_name = {names[p]: p for p in modules}
        print(f"{crate}: {len(modules)} modules, {len(edges)} dependencies, {len(cycles)} cycles")
        for cyc in cycles:
            text = f"{crate}: " + " -> ".join(cyc)
            found.append(text)
            is_new = text not in allowed
            if is_new:
                new.append(text)
            if args.list or is_new:
                print(("  NEW  " if is_new else "  allowed  ") + " -> ".join(cyc + [cyc[0]]))
                if args.why or is_new:
                    for a, b in zip(cyc, cyc[1:] + cyc[:1]):
                        e = edges[(by_name[a], by_name[b])]
                        rel = os.path.relpath(e.file, ROOT)
                        print(f"      {a} -> {b}: {rel}:{e.line}: {e.text}")
    if args.write_allow:
        header = [
            "# Module import cycles that exist and are being cut (scripts/check-module-cycles.py).",
            "# One cycle a line, `crate: a -> b -> c` (c depends on a again). A cycle not",
            "# listed here fails scripts/test.sh; remove lines as the cycles go.",
        ]
        args.allow.write_text("\n".join(header + sorted(found)) + "\n")
        print(f"wrote {len(found)} cycles to {os.path.relpath(args.allow, ROOT)}")
        return 0
    checked = {c for c, _ in crates}
    stale = sorted(a for a in allowed if a not in found and a.split(":", 1)[0] in checked)
    for s in stale:
        print(f"stale allow-list entry (the cycle is gone; remove it): {s}")
    if new:
        print(f"{len(new)} cycle(s) not in {os.path.relpath(args.allow, ROOT)}: cut them (see the lines above)")
        return 1
    print(f"no cycles beyond the {len(found)} allowed ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
