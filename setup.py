"""Build simbox: one distribution, one import namespace ``simbox.*``.

The top-level folders are mapped onto the namespace with ``package_dir`` and
every ``_*.pyx`` kernel found in them is compiled.  ``SIMBOX_DEBUG=1`` builds
the kernels with bounds checks, wraparound and initialisation checks on
(``SIMBOX_DEBUG=1 pip install -e .``); the test suite must pass in it.  The kernels
are made on every core (Cython and the C compiler; ``SIMBOX_BUILD_JOBS=1`` for one).
"""
import glob
import os
import re

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

#: C compilers and Cython run at once: a kernel is one big C file, compiled alone; the
#: machine's cores compile several (``SIMBOX_BUILD_JOBS`` sets how many)
JOBS = int(os.environ.get("SIMBOX_BUILD_JOBS", "0") or 0) or (os.cpu_count() or 1)

PACKAGES = {
    "simbox": "simbox",
    "simbox.commands": "simbox/commands",
    "simbox.spark": "simbox/spark",
    "simbox.watch": "simbox/watch",
    "simbox.feedback": "simbox/feedback",
    "simbox.fastpath": "fastpath",
    "simbox.features": "features",
    "simbox.training": "training",
    "simbox.data": "data",
}

DEBUG = os.environ.get("SIMBOX_DEBUG", "") not in ("", "0")
# the mode of the last build: the generated C files of a debug build must not be
# reused by a normal one (Cython regenerates them only when the .pyx is newer)
MODE_FILE = ".cython-build-mode"


def mode_changed() -> bool:
    """True when the kernels were last generated in the other mode, or never (recorded here)."""
    mode = "debug" if DEBUG else "release"
    try:
        with open(MODE_FILE) as f:
            last = f.read().strip()
    except OSError:
        last = None
    if last != mode:
        try:
            with open(MODE_FILE, "w") as f:
                f.write(mode + "\n")
        except OSError:            # a read-only source tree: regenerate every time
            pass
        return True
    return False


def local_headers(pyx: str) -> list:
    """The C headers beside ``pyx`` that it includes (``cdef extern from "name.h"``): editing
    one alone rebuilds the module."""
    with open(pyx, encoding="utf-8") as f:
        names = re.findall(r'^\s*cdef\s+extern\s+from\s+"([^"<>/]+\.h)"', f.read(), re.M)
    folder = os.path.dirname(pyx)
    return sorted(os.path.join(folder, n) for n in set(names)
                  if os.path.exists(os.path.join(folder, n)))


def extensions():
    exts = []
    for package, folder in PACKAGES.items():
        for pyx in sorted(glob.glob(os.path.join(folder, "_*.pyx"))):
            name = package + "." + os.path.splitext(os.path.basename(pyx))[0]
            exts.append(Extension(
                name, [pyx],
                include_dirs=[numpy.get_include(), folder],
                depends=local_headers(pyx),
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=["-O0", "-g"] if DEBUG else ["-O3"],
            ))
    directives = {
        "language_level": "3",
        "boundscheck": DEBUG,
        "wraparound": DEBUG,
        "initializedcheck": DEBUG,
        "cdivision": not DEBUG,
    }
    changed = mode_changed()        # always recorded: a debug build must force the next release one
    return cythonize(exts, compiler_directives=directives,
                     compile_time_env={"SIMBOX_DEBUG": DEBUG},
                     force=DEBUG or changed, nthreads=JOBS if JOBS > 1 else 0)


class ParallelBuildExt(build_ext):
    """``build_ext`` compiling :data:`JOBS` kernels at once unless ``--parallel`` is given."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel and JOBS > 1:
            self.parallel = JOBS


def version():
    with open(os.path.join("simbox", "_version.py")) as f:
        return f.read().split("=")[1].strip().strip('"')


setup(
    name="simbox",
    version=version(),
    description="Find SIM boxes and card farms in a mobile carrier's CDRs and signaling",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={
        "simbox.fastpath": ["*.pyx", "*.pxd", "*.pxi", "*.h", "*.pyi", "profiles/*.json"],
        "simbox.features": ["*.pyx", "*.pyi"],
        "simbox.data": ["sample/*", "*.json", "*.toml"],
        "simbox.training": ["default_model/*"],
        "simbox": ["templates/*"],
    },
    ext_modules=extensions(),
    cmdclass={"build_ext": ParallelBuildExt},
    install_requires=[
        "numpy>=1.26",
        "pandas>=2.0",
        "pyarrow>=14",
        "scikit-learn>=1.9,<1.10",  # the series the shipped default model was saved with
        "joblib>=1.3",
        "skops>=0.10",              # model files that cannot run code when loaded
        "scapy>=2.5",
        "isal>=1.6",
        "matplotlib>=3.7",
        "jinja2>=3.1",              # report.html and the training report page
        "tqdm>=4.66",               # the command line's progress bar
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-xdist>=3.5", "hypothesis>=6", "pycrate>=0.7",
                 "pyspark>=3.5"],
        "spark": ["pyspark>=3.5", "venv-pack>=0.2"],   # the Spark engine (docs/spark.md)
    },
    entry_points={"console_scripts": ["simbox=simbox.cli:entry"]},
    zip_safe=False,
)
