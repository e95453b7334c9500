"""cffi build script of the C launcher (API mode): the cdef is launcher.h itself."""
import os
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
ffibuilder = FFI()
ffibuilder.cdef((HERE / "launcher.h").read_text())
ffibuilder.set_source(
    "afbspawn.sandbox._launcher",
    '#include "launcher.h"',
    sources=[os.path.relpath(HERE / "launcher.c")],  # setuptools wants relative paths
    include_dirs=[str(HERE)],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
