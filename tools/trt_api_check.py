#!/usr/bin/env python3
"""Check every `trt.`-rooted attribute the project touches against each TensorRT version's name list.

Roots: names bound by `import tensorrt [as X]` anywhere in a module, plus the name `trt` itself
(the project's convention: the tensorrt module is passed around as a parameter called `trt`).
For `trt.BuilderFlag.FP16` both `BuilderFlag` and `FP16` must be in the list. A name is present
when some string in the list ends with it (the linker tail-merges string literals; see
tools/trt_api_names.py). `from tensorrt import X` is reported: it hides uses from this check.

A use is exempt, or checked only against some versions, inside these guards:
  if trt_major(trt) >= 11: ...  else: ...   (any comparison op; also names TRT_MAJOR/_TRT_MAJOR)
      -> the body is checked against the versions for which the test holds, else-branch the others
  if hasattr(<trt chain>, "X"): ...          -> uses of <chain>.X... in the body are exempt
  if not hasattr(<trt chain>, "X"): return   -> an early exit: exempt in the rest of the block
  (guards combine with `and`; an `if` whose body always returns/raises guards the rest of the block
  with the negated test). String lookups such as getattr(trt, "X", None) are not attribute uses.

Usage: python tools/trt_api_check.py [--lists tests/data/trt_api] [act_edge]
"""

from __future__ import annotations

import argparse
import ast
import operator
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

MAJOR_NAMES = {"trt_major", "TRT_MAJOR", "_TRT_MAJOR"}
OPS = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
       ast.Eq: operator.eq, ast.NotEq: operator.ne}
FLIP = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


class NameList:
    """One TensorRT version's names, matched by suffix."""

    def __init__(self, version: str, strings: Iterable[str]) -> None:
        self.version = version
        self.major = int(version.split(".")[0])
        self._suffixes = {s[i:] for s in strings for i in range(len(s))}

    def __contains__(self, name: str) -> bool:
        return name in self._suffixes

    @classmethod
    def from_file(cls, path: Path) -> "NameList":
        version = path.stem.removeprefix("tensorrt-")
        lines = [ln.strip() for ln in path.read_text().splitlines()]
        return cls(version, [ln for ln in lines if ln and not ln.startswith("#")])


def load_lists(folder: Path) -> list[NameList]:
    lists = [NameList.from_file(p) for p in sorted(folder.glob("tensorrt-*.txt"))]
    if not lists:
        raise FileNotFoundError(f"no tensorrt-*.txt name lists in {folder}")
    return lists


@dataclass
class Guard:
    majors: Callable[[int], bool] = lambda m: True  # versions this code runs on
    exempt: tuple[tuple[str, ...], ...] = ()  # chain prefixes checked by hasattr

    def both(self, other: "Guard") -> "Guard":
        a, b = self.majors, other.majors
        return Guard(lambda m: a(m) and b(m), self.exempt + other.exempt)


@dataclass
class Use:
    file: str
    line: int
    chain: tuple[str, ...]
    guard: Guard = field(default_factory=Guard)

    @property
    def text(self) -> str:
        return "trt." + ".".join(self.chain)


@dataclass
class Finding:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class _Walker:
    def __init__(self, file: str, roots: set[str]) -> None:
        self.file = file
        self.roots = roots
        self.uses: list[Use] = []

    # --- guards --------------------------------------------------------------------------------
    def chain_of(self, node: ast.AST) -> tuple[str, ...] | None:
        """('BuilderFlag', 'FP16') for trt.BuilderFlag.FP16; () for bare trt; None if not trt-rooted."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.roots:
            return tuple(reversed(parts))
        return None

    def guard_of(self, test: ast.AST, negate: bool = False) -> Guard | None:
        """The guard a test expresses (negated for else-branches), None if it is no guard."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return self.guard_of(test.operand, not negate)
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And) and not negate:
            guards = [self.guard_of(v) for v in test.values]
            guards = [g for g in guards if g is not None]
            out = Guard()
            for g in guards:
                out = out.both(g)
            return out if guards else None
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left, right, op = test.left, test.comparators[0], type(test.ops[0])
            if self._is_major(right) and isinstance(left, ast.Constant):
                left, right, op = right, left, FLIP[op]
            if self._is_major(left) and isinstance(right, ast.Constant) and isinstance(right.value, int) \
                    and op in OPS:
                fn, value = OPS[op], right.value
                return Guard(majors=(lambda m: not fn(m, value)) if negate else (lambda m: fn(m, value)))
        if (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "hasattr"
                and len(test.args) == 2 and isinstance(test.args[1], ast.Constant)):
            base = self.chain_of(test.args[0])
            if base is not None and not negate:
                return Guard(exempt=(base + (test.args[1].value,),))
            if base is not None and negate:
                return Guard()  # the branch where the name is missing: nothing to exempt
        return None

    def _is_major(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            return name in MAJOR_NAMES
        return isinstance(node, ast.Name) and node.id in MAJOR_NAMES

    # --- walk ----------------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt], guard: Guard) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.If):
                self.expr(stmt.test, guard)
                yes, no = self.guard_of(stmt.test), self.guard_of(stmt.test, negate=True)
                self.block(stmt.body, guard.both(yes) if yes else guard)
                self.block(stmt.orelse, guard.both(no) if no else guard)
                if no is not None and not stmt.orelse and _exits(stmt.body):
                    guard = guard.both(no)  # `if not hasattr(...): return` guards what follows
                continue
            for _, value in ast.iter_fields(stmt):
                items = value if isinstance(value, list) else [value]
                if items and all(isinstance(i, ast.stmt) for i in items):
                    self.block(items, guard)  # a nested body: early exits guard the rest of it
                    continue
                for item in items:
                    if isinstance(item, ast.AST):
                        if isinstance(item, (ast.ExceptHandler, ast.match_case)):
                            self.block(item.body, guard)
                            if isinstance(item, ast.ExceptHandler) and item.type is not None:
                                self.expr(item.type, guard)
                        else:
                            self.expr(item, guard)

    def expr(self, node: ast.AST, guard: Guard) -> None:
        chain = self.chain_of(node)
        if chain:
            self.uses.append(Use(self.file, node.lineno, chain, guard))
            return  # the maximal chain covers its prefixes
        if isinstance(node, ast.IfExp):
            yes, no = self.guard_of(node.test), self.guard_of(node.test, negate=True)
            self.expr(node.test, guard)
            self.expr(node.body, guard.both(yes) if yes else guard)
            self.expr(node.orelse, guard.both(no) if no else guard)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.block([child], guard)
            else:
                self.expr(child, guard)


def _exits(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break))


def scan_source(source: str, file: str = "<string>") -> tuple[list[Use], list[Finding]]:
    """trt-rooted attribute uses in one module, and structural findings (from-imports)."""
    tree = ast.parse(source, filename=file)
    roots = {"trt"}
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tensorrt":
                    roots.add(alias.asname or "tensorrt")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "tensorrt":
            findings.append(Finding(file, node.lineno, "`from tensorrt import ...` hides names from the "
                                    "version check; use `import tensorrt as trt` and `trt.X`"))
    walker = _Walker(file, roots)
    walker.block(tree.body, Guard())
    return walker.uses, findings


def check_uses(uses: list[Use], lists: list[NameList]) -> list[Finding]:
    out = []
    for use in uses:
        if any(use.chain[:len(p)] == p for p in use.guard.exempt):
            continue
        for names in lists:
            if not use.guard.majors(names.major):
                continue
            missing = [n for n in use.chain if n not in names]
            if missing:
                out.append(Finding(use.file, use.line, f"{use.text}: {', '.join(missing)} not in TensorRT "
                                   f"{names.version} (guard it with `if trt_major(trt) ...` or hasattr)"))
    return out


def check_source(source: str, lists: list[NameList], file: str = "<string>") -> list[Finding]:
    uses, findings = scan_source(source, file)
    return findings + check_uses(uses, lists)


def trt_modules(package: Path) -> list[Path]:
    """Modules of `package` that import tensorrt or use the name `trt`."""
    out = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Import) and any(a.name == "tensorrt" for a in node.names)) or \
                    (isinstance(node, ast.ImportFrom) and node.level == 0
                     and (node.module or "").split(".")[0] == "tensorrt") or \
                    (isinstance(node, ast.Name) and node.id == "trt") or \
                    (isinstance(node, ast.arg) and node.arg == "trt"):
                out.append(path)
                break
    return out


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("package", nargs="?", type=Path, default=here / "act_edge")
    ap.add_argument("--lists", type=Path, default=here / "tests" / "data" / "trt_api")
    args = ap.parse_args(argv)
    lists = load_lists(args.lists)
    findings: list[Finding] = []
    n_uses = 0
    for path in trt_modules(args.package):
        uses, structural = scan_source(path.read_text(), str(path.relative_to(here)) if path.is_relative_to(here)
                                       else str(path))
        n_uses += len(uses)
        findings += structural + check_uses(uses, lists)
    for f in findings:
        print(f)
    print(f"{n_uses} trt uses checked against TensorRT {', '.join(n.version for n in lists)}: "
          f"{len(findings)} problem(s)", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
