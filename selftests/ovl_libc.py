# SPDX-License-Identifier: GPL-2.0
"""The C library calls the Python selftests make (overlay_diff_test.py,
image_fuzz.py): mount(2), umount2(2), renameat2(2), name_to_handle_at(2),
with their argument types, and file_handle() on top of the last."""

import ctypes
import struct

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                           ctypes.c_char_p, ctypes.c_uint]
libc.name_to_handle_at.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                   ctypes.c_void_p,
                                   ctypes.POINTER(ctypes.c_int), ctypes.c_int]

AT_FDCWD = -100


def file_handle(path):
    """(type, fid bytes) of @path from name_to_handle_at(2), or None."""
    buf = ctypes.create_string_buffer(8 + 128)
    struct.pack_into("Ii", buf, 0, 128, 0)
    mid = ctypes.c_int(0)
    if libc.name_to_handle_at(AT_FDCWD, path.encode(), buf,
                              ctypes.byref(mid), 0) != 0:
        return None
    nbytes, htype = struct.unpack_from("Ii", buf, 0)
    return htype, buf.raw[8:8 + nbytes]
