"""The bounds-checked (SIMBOX_DEBUG=1) fastpath kernels for the fuzzers, without touching
the normal in-place build.

``kernels(names)`` returns the modules ``simbox.fastpath.<name>`` bounds-checked, loaded
into ``sys.modules`` before anything imports them:

- with Cython installed, they are built (as ``setup.py`` builds them with
  ``SIMBOX_DEBUG=1``: bounds, wraparound and initialisation checks, -O0) under
  ``build/fuzz-debug/<sources hash>-<kernels>`` from the source tree, once per version of
  the sources;
- without Cython (an installed environment), the installed kernels are used when they
  are a debug build (``SIMBOX_DEBUG=1 pip install .``); otherwise the fuzzer stops with a
  message saying how to get one (``allow_release=True``: go on, with a warning).
"""
from __future__ import annotations

import glob
import hashlib
import importlib
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEST = ROOT / "build" / "fuzz-debug"

BUILD = """
import sys, numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
names = sys.argv[1:]
sys.argv[1:] = []
exts = [Extension("simbox.fastpath." + n, [n + ".pyx"], include_dirs=[numpy.get_include(), "."],
                  define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                  extra_compile_args=["-O0", "-g"]) for n in names]
setup(ext_modules=cythonize(exts, compiler_directives={
          "language_level": "3", "boundscheck": True, "wraparound": True,
          "initializedcheck": True, "cdivision": False},
      compile_time_env={"SIMBOX_DEBUG": True}, force=True, quiet=True),
      script_args=["-q", "build_ext", "--inplace"])
"""


def _is_debug(mod) -> bool:
    return bool(getattr(mod, "DEBUG", getattr(mod, "DEBUG_BUILD", False)))


def _sources_hash() -> str:
    h = hashlib.sha256()
    for f in sorted((ROOT / "fastpath").glob("_*.p*")) + sorted((ROOT / "fastpath").glob("*.h")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def build(names, dest: pathlib.Path = DEST) -> dict:
    """{name: path of the built module}, built once per version of the kernel sources.

    Each build goes to its own folder ``dest/<sources hash>-<names>`` (made under a
    temporary name, then renamed), so fuzzers running side by side never see a
    half-built or deleted module."""
    names = sorted(names)
    final = dest / f"{_sources_hash()}-{'-'.join(n.strip('_') for n in names)}"

    def found(root):
        so = {n: glob.glob(str(root / "simbox" / "fastpath" / f"{n}.*.so")) for n in names}
        return {n: pathlib.Path(p[0]) for n, p in so.items()} if all(so.values()) else None

    if final.exists() and found(final):
        return found(final)
    tmp = dest / f"{final.name}.tmp{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "simbox" / "fastpath").mkdir(parents=True)
    for f in list((ROOT / "fastpath").glob("_*.p*")) + list((ROOT / "fastpath").glob("*.h")):
        shutil.copy(f, tmp / f.name)
    (tmp / "build_debug.py").write_text(BUILD)
    r = subprocess.run([sys.executable, "build_debug.py", *names], cwd=tmp, capture_output=True,
                       text=True)
    if r.returncode or not found(tmp):
        raise SystemExit(f"the debug build failed in {tmp}:\n{r.stderr[-3000:]}")
    try:
        os.rename(tmp, final)
    except OSError:                      # another fuzzer finished the same build first
        shutil.rmtree(tmp, ignore_errors=True)
    return found(final)


def load(name: str, path: pathlib.Path):
    full = "simbox.fastpath." + name
    spec = importlib.util.spec_from_file_location(full, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[full] = mod
    spec.loader.exec_module(mod)
    return mod


def kernels(names, *, allow_release: bool = False, module_paths: dict | None = None) -> dict:
    """{name: module}: bounds-checked kernels, loaded as ``simbox.fastpath.<name>``."""
    if module_paths:
        return {n: load(n, p) for n, p in module_paths.items()}
    try:
        import Cython  # noqa: F401
    except ImportError:
        mods = {n: importlib.import_module("simbox.fastpath." + n) for n in names}
        release = [n for n, m in mods.items() if not _is_debug(m)]
        if release:
            msg = (f"the installed kernels {', '.join(release)} are a release build and Cython is "
                   "not installed to build bounds-checked ones: pip install cython (then rerun), "
                   "or install a debug build: SIMBOX_DEBUG=1 pip install -e .")
            if not allow_release:
                raise SystemExit(msg)
            print("warning: " + msg + "; fuzzing the release build", file=sys.stderr)
        return mods
    return {n: load(n, p) for n, p in build(names).items()}
