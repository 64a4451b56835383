#!/usr/bin/env python3
"""Extract the TensorRT Python API names from the bindings-only wheels into committed name lists.

The `tensorrt-cu*-bindings` wheels (~1.2 MB) hold the compiled pybind11 module
(`tensorrt_bindings/tensorrt.so`) and an `__init__.py`; they cannot run without the TensorRT
libraries, but every Python-visible name the module registers (classes, methods, properties, enum
members, keyword names) is a C string literal in its `.rodata` section. This script:

  1. reads `.rodata` of the ELF module (a minimal ELF64 section-header parser, no dependencies),
  2. splits it at NUL bytes and keeps the whole strings that are identifiers
     (`[A-Za-z_][A-Za-z0-9_]*`), dropping C++ mangled/typeinfo names (`_Z...`, `N8tensorrt...`),
  3. adds the names that `__init__.py` defines at module level (AST: def/class/assignments/imports),
  4. writes `tests/data/trt_api/tensorrt-<version>.txt`, sorted, one name per line, `#` header.

Tail merging: the linker stores a literal that is the end of a longer literal only once
("Runtime" lives inside "IPluginV3OneRuntime"), so a name is present when some listed string
*ends with* it. The lists keep whole strings; `tests/test_trt_conformance.py` does the suffix match.

Reproduce (network only for `pip download`):
    pip download --no-deps -d /tmp/trtw tensorrt-cu12-bindings==10.3.0 \
        tensorrt-cu12-bindings==10.13.3.9 tensorrt-cu13-bindings==11.4.0.106
    python tools/trt_api_names.py /tmp/trtw --out tests/data/trt_api
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import re
import struct
import sys
import zipfile
from pathlib import Path

IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
# Itanium-ABI mangled symbols and typeinfo names: not Python-visible, and most of the list's bulk.
MANGLED = re.compile(r"^(_Z|_GLOBAL_|St[0-9])|[0-9](nvinfer|tensorrt|pybind|__cxx|nvonnxparser|basic_string|v_1_0)")
WHEEL_NAME = re.compile(r"tensorrt_cu\d+_bindings-(?P<version>[0-9.]+)-")


def elf_section(data: bytes, wanted: str) -> bytes:
    """Bytes of the named section of a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a little-endian ELF64 file")
    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        off = e_shoff + i * e_shentsize
        name, = struct.unpack_from("<I", data, off)
        sh_offset, sh_size = struct.unpack_from("<QQ", data, off + 0x18)
        return name, sh_offset, sh_size

    _, str_off, str_size = header(e_shstrndx)
    names = data[str_off:str_off + str_size]
    for i in range(e_shnum):
        name_off, off, size = header(i)
        name = names[name_off:names.index(b"\0", name_off)].decode()
        if name == wanted:
            return data[off:off + size]
    raise ValueError(f"no {wanted} section")


def rodata_identifiers(so_bytes: bytes) -> set[str]:
    out = set()
    for chunk in elf_section(so_bytes, ".rodata").split(b"\0"):
        if IDENT.fullmatch(chunk):
            s = chunk.decode()
            if not MANGLED.search(s):
                out.add(s)
    return out


def init_names(source: str) -> set[str]:
    """Names bound at module level in the package __init__.py (plus attributes it sets on classes)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    names.add(t.id)
                elif isinstance(t, ast.Attribute):  # e.g. `DataType.itemsize = property(...)`
                    names.add(t.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.add((alias.asname or alias.name).split(".")[0])
    return names


def names_from_wheel(wheel: Path) -> tuple[str, set[str], int]:
    """(version, names, count of names from __init__.py) for one bindings wheel."""
    m = WHEEL_NAME.search(wheel.name)
    if not m:
        raise ValueError(f"{wheel.name}: not a tensorrt-cu*-bindings wheel")
    with zipfile.ZipFile(wheel) as z:
        so = z.read("tensorrt_bindings/tensorrt.so")
        init = z.read("tensorrt_bindings/__init__.py").decode()
    from_init = init_names(init)
    return m.group("version"), rodata_identifiers(so) | from_init, len(from_init)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel_dir", type=Path, help="folder holding the tensorrt-cu*-bindings wheels")
    ap.add_argument("--out", type=Path, default=Path("tests/data/trt_api"))
    args = ap.parse_args(argv)
    wheels = sorted(args.wheel_dir.glob("tensorrt_cu*_bindings-*.whl"))
    if not wheels:
        print(f"no tensorrt_cu*_bindings-*.whl in {args.wheel_dir}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        version, names, n_init = names_from_wheel(wheel)
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        header = [
            f"# TensorRT {version} Python API names: whole identifier strings of tensorrt.so .rodata",
            f"# plus {n_init} names bound in tensorrt/__init__.py; match by suffix (linker tail merging).",
            f"# Made by tools/trt_api_names.py from {wheel.name}",
            f"# sha256 {sha}",
        ]
        path = args.out / f"tensorrt-{version}.txt"
        path.write_text("\n".join(header + sorted(names)) + "\n")
        print(f"{path}: {len(names)} names ({n_init} from __init__.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
