"""The ctypes mirror of include/formi.h against the header itself: struct sizes and field offsets from a
compiled C program (skipped without a C compiler), and every function's arity and argument types
parsed from the header (so a changed signature fails here rather than corrupting memory)."""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import formi
from formi import _abi


def _header() -> Path:
    from conftest import REPO

    candidates = []
    if REPO is not None:
        candidates.append(REPO / "include" / "formi.h")
    if shutil.which("pkg-config"):
        done = subprocess.run(["pkg-config", "--variable=includedir", "formi"], capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(Path(done.stdout.strip()) / "formi.h")
    for path in candidates:
        if path.is_file():
            return path
    pytest.skip("include/formi.h not found (no source tree, no pkg-config formi)")


@pytest.fixture(scope="module")
def header() -> Path:
    return _header()


@pytest.fixture(scope="module")
def c_layout(header, tmp_path_factory):
    """{"struct": size, "struct.field": offset} as the C compiler lays them out."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler (cc) to compile the layout probe")
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <formi.h>", "int main(void) {"]
    for cname, struct in _abi.STRUCTS.items():
        lines.append(f'    printf("{cname} %zu\\n", sizeof({cname}));')
        for field, _ in struct._fields_:
            lines.append(f'    printf("{cname}.{field} %zu\\n", offsetof({cname}, {field}));')
    lines += ["    return 0;", "}"]
    work = tmp_path_factory.mktemp("layout")
    source, binary = work / "layout.c", work / "layout"
    source.write_text("\n".join(lines) + "\n")
    done = subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", str(header.parent), str(source), "-o", str(binary)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"the layout probe does not compile (a field renamed or removed?):\n{done.stderr}"
    out = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    return {key: int(value) for key, value in (line.split() for line in out.splitlines())}


@pytest.mark.parametrize("cname", list(_abi.STRUCTS))
def test_struct_size_and_offsets_match_the_header(c_layout, cname):
    struct = _abi.STRUCTS[cname]
    assert ctypes.sizeof(struct) == c_layout[cname], f"sizeof({cname})"
    for field, _ in struct._fields_:
        assert getattr(struct, field).offset == c_layout[f"{cname}.{field}"], f"{cname}.{field}"


def _struct_fields_in_header(text: str, cname: str) -> list:
    body = re.search(r"typedef struct " + cname + r" \{(.*?)\} " + cname + ";", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = []
    for declaration in body.split(";"):
        declaration = declaration.strip()
        if declaration:
            # "formi_text stream_id, call_id" declares several; the names are the identifiers after the type.
            first, *rest = [part.strip() for part in declaration.split(",")]
            names.append(first.replace("*", " ").split()[-1])
            names += [name.replace("*", "").strip() for name in rest]
    return names


@pytest.mark.parametrize("cname", list(_abi.STRUCTS))
def test_struct_fields_are_the_headers_in_order(header, cname):
    text = header.read_text()
    assert [f for f, _ in _abi.STRUCTS[cname]._fields_] == _struct_fields_in_header(text, cname)


def _prototypes(text: str) -> dict:
    """name -> (return type, [parameter types]) of every function declared in the header."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"^\s*#.*$", "", text, flags=re.M)
    found = {}
    for ret, name, params in re.findall(r"([A-Za-z_][\w\s\*]*?)\b(formi_\w+)\s*\(([^;{}]*?)\)\s*;", text):
        params = " ".join(params.split())
        types = [] if params in ("", "void") else [
            re.sub(r"\b[A-Za-z_]\w*$", "", p.strip()).strip() if not p.strip().endswith("*") else p.strip()
            for p in params.split(",")]
        found[name] = (" ".join(ret.split()), types)
    return found


_SCALARS = {"int": ctypes.c_int, "size_t": ctypes.c_size_t, "int64_t": ctypes.c_int64, "char": ctypes.c_char,
            "void": None, "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32}


def _is_pointer_type(t) -> bool:
    return t in (ctypes.c_void_p, ctypes.c_char_p) or (isinstance(t, type) and issubclass(t, ctypes._Pointer))


def _compatible(c_type: str, py_type) -> bool:
    c_type = c_type.replace("const ", "").strip()
    if "*" in c_type:
        return _is_pointer_type(py_type)
    return _SCALARS.get(c_type, "unknown") is py_type


def test_every_header_function_has_a_matching_prototype(header):
    declared = _prototypes(header.read_text())
    assert len(declared) >= 78
    assert set(declared) == set(_abi.PROTOTYPES), "functions added to or removed from include/formi.h"
    for name, (ret, params) in declared.items():
        restype, argtypes = _abi.PROTOTYPES[name]
        assert len(argtypes) == len(params), f"{name}: {len(params)} parameters in the header"
        for i, (c_type, py_type) in enumerate(zip(params, argtypes)):
            assert _compatible(c_type, py_type), f"{name} parameter {i}: {c_type} vs {py_type}"
        assert _compatible(ret, restype), f"{name} returns {ret} vs {restype}"


def test_the_loaded_library_exports_every_function():
    lib = _abi.lib()
    for name in _abi.PROTOTYPES:
        assert hasattr(lib, name), name


def test_header_version_matches_the_library(header):
    text = header.read_text()
    version = re.search(r'#define FORMI_VERSION "([^"]+)"', text).group(1)
    assert formi.version() == version and formi.__version__ == version
    major, minor, patch = (int(x) for x in version.split("."))
    assert formi.version_number() == major * 10000 + minor * 100 + patch


def test_header_constants_match_the_bindings(header):
    text = header.read_text()
    defines = {name: int(value) for name, value in re.findall(r"#define (FORMI_\w+)\s+\(?(-?\d+)\)?", text)}
    from formi import errors

    for name, value in defines.items():
        if name.startswith("FORMI_ENCODING_"):
            assert formi.Encoding[name[len("FORMI_ENCODING_"):]] == value, name
        elif name.startswith("FORMI_EVENT_"):
            assert formi.EventKind[name[len("FORMI_EVENT_"):]] == value, name
        elif name.startswith("FORMI_ROLE_"):
            assert formi.Role[name[len("FORMI_ROLE_"):]] == value, name
        elif name.startswith("FORMI_E") or name == "FORMI_OK":
            assert getattr(errors, name) == value, name
    assert defines["FORMI_RESAMPLER_QUALITY_DEFAULT"] == formi.QUALITY_DEFAULT
