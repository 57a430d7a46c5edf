"""Build script: compiles every ``ext/*.pyx`` to ``vngeonet._ext.<name>``.

Environment switches
--------------------
VNGEONET_PUREPYTHON=1   do not compile anything (the numpy twins in vngeonet/kernels are used).
VNGEONET_REQUIRE_EXT=1  a kernel that fails to compile is an error, not a warning (CI sets it).
VNGEONET_BUILD_ONLY=a,b compile only these kernels (developer convenience).
VNGEONET_ANNOTATE=1     write Cython's HTML annotation next to each .pyx.
VNGEONET_LINETRACE=1    compile with line tracing (for coverage and profiling).
"""

import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
PURE = os.environ.get("VNGEONET_PUREPYTHON", "") not in ("", "0")
REQUIRE = os.environ.get("VNGEONET_REQUIRE_EXT", "") not in ("", "0")
ONLY = {s for s in os.environ.get("VNGEONET_BUILD_ONLY", "").split(",") if s}
LINETRACE = os.environ.get("VNGEONET_LINETRACE", "") not in ("", "0")

# The one place where compiler directives live.
DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "embedsignature": True,
    "linetrace": LINETRACE,
}


class OptionalBuildExt(build_ext):
    """build_ext that warns and carries on when a kernel fails to compile.

    The package works without compiled kernels (it falls back to the numpy
    twins), so a missing compiler must not stop an install.  With
    VNGEONET_REQUIRE_EXT=1 every failure is fatal instead.
    """

    def run(self):
        try:
            super().run()
        except Exception as err:
            if REQUIRE:
                raise
            sys.stderr.write(f"WARNING: compiled kernels not built ({err}); using numpy twins\n")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as err:
            if REQUIRE:
                raise
            sys.stderr.write(f"WARNING: kernel {ext.name} not built ({err}); using its numpy twin\n")


def _extensions():
    if PURE:
        return []
    try:
        import numpy
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as err:
        if REQUIRE:
            raise
        sys.stderr.write(f"WARNING: Cython/numpy unavailable ({err}); kernels not compiled\n")
        return []
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if LINETRACE:
        macros.append(("CYTHON_TRACE_NOGIL", "1"))
    exts = []
    for path in sorted(glob.glob(os.path.join("ext", "*.pyx"))):
        name = os.path.splitext(os.path.basename(path))[0]
        if ONLY and name not in ONLY:
            continue
        exts.append(
            Extension(
                f"vngeonet._ext.{name}",
                [path],
                include_dirs=[numpy.get_include(), "ext"],
                define_macros=macros,
                extra_compile_args=["-O3"],
            )
        )
    return cythonize(
        exts,
        compiler_directives=DIRECTIVES,
        annotate=os.environ.get("VNGEONET_ANNOTATE", "") not in ("", "0"),
        include_path=["ext"],
        quiet=True,
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
