"""Finding libformi: FORMI_LIBRARY, pkg-config, the install prefixes, the loader, the build tree; and a
failure that lists every place tried. Each scenario runs in a fresh interpreter (the library loads
once per process)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import formi
from formi import _abi

PACKAGE_DIR = Path(formi.__file__).resolve().parent


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    """`code` in a new interpreter importing the same formi package as this one."""
    full = {k: v for k, v in os.environ.items() if k not in ("FORMI_LIBRARY", "PKG_CONFIG_PATH", "LD_LIBRARY_PATH")}
    full.update(env)
    full["PYTHONPATH"] = str(PACKAGE_DIR.parent) + os.pathsep + full.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=60)


def loaded_library() -> Path:
    return Path(formi.library_path()[0]).resolve()


def test_version_and_library_path():
    major, minor, patch = (int(x) for x in formi.version().split("."))
    assert formi.version_number() == major * 10000 + minor * 100 + patch
    path, how = formi.library_path()
    assert how in ("FORMI_LIBRARY", "bundled", "pkg-config", "install prefix", "dynamic loader", "build tree")
    if os.environ.get("FORMI_LIBRARY"):
        assert (path, how) == (os.environ["FORMI_LIBRARY"], "FORMI_LIBRARY")


def test_formi_library_wins():
    lib = loaded_library()
    done = run_python("import formi; print(formi.library_path())", {"FORMI_LIBRARY": str(lib)})
    assert done.returncode == 0, done.stderr
    assert repr((str(lib), "FORMI_LIBRARY")) in done.stdout


def test_a_bad_formi_library_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nowhere" / "libformi.so.0"
    code = "import formi\ntry:\n    formi.version()\nexcept formi.LibraryNotFoundError as e:\n    print(e); print(e.tried)"
    done = run_python(code, {"FORMI_LIBRARY": str(missing)})
    assert done.returncode == 0, done.stderr
    assert f"FORMI_LIBRARY={missing}" in done.stdout and "cannot load" in done.stdout
    not_formi = tmp_path / "libc.so"
    not_formi.write_bytes(Path("/bin/true").read_bytes())  # an ELF file, not a shared library
    done = run_python(code, {"FORMI_LIBRARY": str(not_formi)})
    assert "cannot load" in done.stdout


def test_pkg_config_finds_the_build_tree(repo):
    """With build/formi.pc (written by make all) on PKG_CONFIG_PATH and no FORMI_LIBRARY."""
    pc = repo / "build" / "formi.pc"
    if not pc.is_file() or not (repo / "build" / "lib" / "libformi.so.0").exists():
        pytest.skip("run make all first (build/formi.pc)")
    done = run_python("import formi; print(formi.library_path())", {"PKG_CONFIG_PATH": str(pc.parent)})
    assert done.returncode == 0, done.stderr
    expected = repo / "build" / "lib" / "libformi.so.0"
    assert f"'{expected}', 'pkg-config'" in done.stdout, done.stdout


def test_build_tree_lookup_without_any_configuration(repo):
    """No FORMI_LIBRARY, no pkg-config path: a package inside the source tree (the bindings/python/src
    folder, or a virtualenv under build/) finds build/lib/libformi.so.0 by walking up."""
    if repo not in PACKAGE_DIR.parents:
        pytest.skip(f"the package ({PACKAGE_DIR}) is not inside the source tree")
    done = run_python("import formi; print(formi.library_path())", {"PKG_CONFIG_PATH": "/nonexistent"})
    assert done.returncode == 0, done.stderr
    if "'install prefix'" in done.stdout or "'dynamic loader'" in done.stdout:
        pytest.skip(f"an installed libformi is found first: {done.stdout}")
    assert f"'{repo / 'build' / 'lib' / 'libformi.so.0'}', 'build tree'" in done.stdout


def test_failure_lists_every_place_tried(tmp_path):
    anchor = tmp_path / "a" / "b" / "formi" / "_abi.py"
    with pytest.raises(formi.LibraryNotFoundError) as info:
        _abi.locate(environ={"PATH": os.environ.get("PATH", ""), "PKG_CONFIG_PATH": str(tmp_path)}, anchor=anchor,
                    prefixes=[str(tmp_path / "prefix" / "lib")], use_loader=False)
    message = str(info.value)
    places = [place for place, _ in info.value.tried]
    assert places[0] == "FORMI_LIBRARY" and "pkg-config --variable=libdir formi" in places
    assert str(tmp_path / "prefix" / "lib" / "libformi.so.0") in places
    assert str(tmp_path / "a" / "b" / "build" / "lib" / "libformi.so.0") in places
    assert str(tmp_path / "build" / "lib" / "libformi.so.0") in places
    for place in places:
        assert place in message
    assert "FORMI_LIBRARY" in message and "make all" in message
    assert isinstance(info.value, OSError)


def test_build_tree_candidates_walk_up_and_add_the_repo_path():
    anchor = Path("/x/repo/bindings/python/src/formi/_abi.py")
    candidates = [str(p) for p in _abi._build_tree_candidates(anchor)]
    assert candidates[0] == "/x/repo/bindings/python/src/formi/build/lib/libformi.so.0"
    assert "/x/repo/build/lib/libformi.so.0" in candidates
    venv = Path("/x/repo/build/venv/lib/python3.11/site-packages/formi/_abi.py")
    assert "/x/repo/build/lib/libformi.so.0" in [str(p) for p in _abi._build_tree_candidates(venv)]
