"""Small compiled helpers shared by the numba scans."""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# LLVM names the intrinsic by its pointer type: opaque pointers from LLVM 15
_PREFETCH = "llvm.prefetch.p0" if binding.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, array, index):
    """Ask the CPU to fetch ``array.flat[index]`` into its caches for writing (LLVM's
    ``llvm.prefetch``: no fault, no effect on results), for compiled loops that know an
    address well before they use it. ``array`` must be C-contiguous, ``index`` in range."""
    signature = types.void(array, index)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        byte_pointer = ir.IntType(8).as_pointer()
        address = builder.bitcast(builder.gep(data, [args[1]]), byte_pointer)
        int32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]), _PREFETCH)
        # write, highest locality, data cache
        builder.call(function, [address, ir.Constant(int32, 1), ir.Constant(int32, 3), ir.Constant(int32, 1)])
        return context.get_dummy_value()

    return signature, codegen


@numba.njit(cache=True, nogil=True)
def grown(values, capacity):  # pragma: no cover - compiled
    """``values`` copied into a new array of ``capacity`` rows (for scans that
    do not know how many rows they will emit)."""
    out = np.empty((capacity,) + values.shape[1:], values.dtype)
    out[:values.shape[0]] = values
    return out


@numba.njit(cache=True, nogil=True)
def labelled_range(values):  # pragma: no cover - compiled
    """Lowest and highest non-zero value of a 1-D integer array, in one pass; (1, 0) without any.

    Without the background: a block of a 2048³ void label image holds labels
    0 and about 400 000 to 460 000, and counting from 0 zeroed and scanned
    half a million counts per block (docs/performance.md, item 44).
    """
    lowest, highest = np.int64(np.iinfo(np.int64).max), np.int64(0)
    for v in values:
        value = np.int64(v)
        if value != 0:
            lowest = min(lowest, value)
            highest = max(highest, value)
    if highest == 0 and lowest == np.iinfo(np.int64).max:
        return np.int64(1), np.int64(0)
    return lowest, highest


@numba.njit(cache=True, nogil=True)
def counts_in_range(values, mask, lowest, highest):  # pragma: no cover - compiled
    """How often each integer from ``lowest`` to ``highest`` occurs in ``values`` (1-D), and
    how often 0 does, or only where ``mask`` (1-D bool, same size; an empty mask counts
    everywhere) is true.

    ``np.bincount`` holds the GIL and counts from 0: a block of a large label
    image holds labels near 10⁶ in a narrow range (docs/performance.md, item 43).
    """
    counts = np.zeros(max(highest - lowest + 1, 0), np.int64)
    zeros = 0
    masked = mask.size == values.size
    for i in range(values.size):
        v = np.int64(values[i])
        if masked and not mask[i]:
            continue
        if v == 0:
            zeros += 1
        elif lowest <= v <= highest:
            counts[v - lowest] += 1
    return counts, zeros


@numba.njit(cache=True, nogil=True)
def table_slot(keys, key):  # pragma: no cover - compiled
    """Slot of ``key`` in the open-addressing table ``keys`` (-1 = empty), or of the empty slot where it goes."""
    mask = keys.size - 1
    # Fibonacci hashing: the key times 2⁶⁴/φ, its high bits
    slot = int((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)) & mask
    while keys[slot] != -1 and keys[slot] != key:
        slot = (slot + 1) & mask
    return slot
