"""cffi build script of the C launcher (API mode); see launcher.c."""
from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef("int afbspawn_launcher_abi(void);")
ffibuilder.set_source(
    "afbspawn.sandbox._launcher",
    "int afbspawn_launcher_abi(void) { return 1; }",
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
