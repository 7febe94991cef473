"""The one place that turns what a user passes (Volume, NumPy, Dask) into a Dask array."""

from __future__ import annotations

import os

import dask.array as da
import numpy as np

from ._compiled import counts_in_range, labelled_range


def as_dask(image) -> da.Array:
    """The voxels of a Volume, or a NumPy/Dask/Zarr array, as a Dask array (no copy for Dask;
    a Zarr array is read lazily in its own chunks)."""
    if is_zarr_array(image):
        return da.from_zarr(image)
    data = getattr(image, "data", image)
    return data if isinstance(data, da.Array) else da.from_array(np.asarray(data))


def is_zarr_array(image) -> bool:
    """Whether ``image`` is a ``zarr.Array`` (without importing Zarr when nothing has)."""
    import sys

    zarr = sys.modules.get("zarr")
    return zarr is not None and isinstance(image, zarr.Array)


def delayed_blocks(image) -> np.ndarray:
    """The blocks of an array as Delayed values (an object array shaped like its block grid),
    each carrying only the tasks it needs.

    ``to_delayed`` blocks share the array's whole graph, and each
    ``dask.delayed(function)(block)`` call optimises and culls all of it
    again: building one task per block took O(blocks²), 246 s for the 4096
    haloed blocks of a 2048³ volume's interface areas (docs/performance.md,
    item 42). Here the graph is optimised once and each block's own tasks are
    found by walking back from its key.
    """
    from dask.delayed import Delayed
    from dask.optimization import cull

    array = as_dask(image)
    keys = array.__dask_keys__()
    graph = dict(array.__dask_optimize__(array.__dask_graph__(), keys))
    out = np.empty(array.numblocks, object)
    for index in np.ndindex(*array.numblocks):
        key = (array.name, *index)
        out[index] = Delayed(key, cull(graph, [key])[0])
    return out


def task(function, *args, dask_key_name=None, **kwargs):
    """``dask.delayed(function, pure=True)(*args, **kwargs)``, built directly (under
    ``dask_key_name`` if given).

    Delayed arguments, also inside lists, tuples and dicts, become
    references to their keys and their graphs are merged as they are.
    ``dask.delayed`` optimised each argument's graph again at every call,
    1–2 ms each: the 1024³ near-phase graph took 1.78 s to build, now 0.20 s
    (docs/performance.md, item 43).
    """
    from dask._task_spec import Task, TaskRef, parse_input
    from dask.base import tokenize
    from dask.delayed import Delayed
    from dask.utils import funcname

    graph = {}

    def reference(value):
        if isinstance(value, Delayed):
            graph.update(value.__dask_graph__())
            return TaskRef(value.key)
        if isinstance(value, dict):
            return {k: reference(v) for k, v in value.items()}
        if type(value) in (list, tuple):
            return type(value)(reference(v) for v in value)
        return value

    key = dask_key_name or f"{funcname(function)}-{tokenize(function, args, kwargs)}"
    graph[key] = Task(key, function, *(parse_input(reference(a)) for a in args),
                      **{k: parse_input(reference(v)) for k, v in kwargs.items()})
    return Delayed(key, graph)


def array_of_blocks(name: str, function, arguments: dict, chunks, dtype) -> da.Array:
    """A lazy array whose block ``index`` is ``function(*arguments[index])``, one task per block.

    ``arguments`` maps every block index (a tuple) to that block's arguments
    (Delayed values or plain ones). Unlike ``da.block`` of ``da.from_delayed``
    pieces, which adds a task per piece and concatenations along each axis
    (256 extra tasks for 4³ blocks), each block's key is its own task's, so
    a ``dask.distributed`` scheduler has a fifth of ``label``'s tasks to handle.
    ``name`` must be unique to the computation (a token of its inputs).
    """
    graph = {}
    for index in np.ndindex(*(len(c) for c in chunks)):
        graph.update(task(function, *arguments[index], dask_key_name=(name, *index)).dask)
    return da.Array(graph, name, chunks, dtype=dtype)


def kernel_threads() -> int:
    """Cores this process may use: the particles' large haloed blocks are
    computed this many at a time (one per Dask thread)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def resident_bytes() -> int:
    """The process's resident memory in bytes (Linux), or 0 where it cannot be read."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


#: batches hand their freed memory back only while the process holds more than this
TRIM_ABOVE_BYTES = 3 * 2**29


def return_freed_memory(above: int = 0) -> None:
    """Hand freed memory back to the system (glibc's ``malloc_trim``); elsewhere a no-op.

    glibc keeps freed blocks in its per-thread arenas for reuse, so the
    buffers of one batch or stage stayed resident under the next one's
    (a 512³ analysis: 0.08–0.21 GiB returned at each stage's start; at
    2048³ the particle stage rose to 3.07 GiB: docs/performance.md, item 41).
    With ``above``, only if resident memory (where it can be read) exceeds
    that many bytes: what is handed back is faulted in again by the next
    batch, which cost 8 % of the 1024³ interface areas' time (item 42).
    """
    global _malloc_trim
    if above and 0 < resident_bytes() <= above:
        return
    if _malloc_trim is None:
        import ctypes
        import ctypes.util

        try:
            _malloc_trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None

#: results one batch hands to the next instead of the next computing them again
CARRY_BYTES = 256 * 2**20


def compute_in_batches(parts, batch: int = 8, carry_bytes: int = CARRY_BYTES) -> list:
    """Compute delayed block results a few at a time; returns their values in order.

    One ``dask.compute`` over every block lets the scheduler read the haloed
    inputs of many blocks before it processes them; batches of a few blocks
    per worker bound that (measured on 384³ blocks of a 512³ volume: the
    interface areas' peak fell from 4.6 to 3.4 GiB), at the cost of a short
    wait at the end of each batch. The graph is built and optimised once and
    each batch runs only the tasks its blocks need: a ``dask.compute`` per
    batch would rebuild the whole graph each time (measured: 49 ms per block
    at 4096 blocks, growing with the volume).

    Neighbouring batches share inputs (the chunks around their blocks, whose
    halos both read): each batch also returns the intermediate results that
    the next one needs for new work, up to ``carry_bytes``, and the next
    batch takes them as data instead of reading and cutting them again
    (:func:`_handover`). Those values stay in memory from the task that makes
    them to the end of their batch; ``carry_bytes=0`` hands nothing over.
    After each batch the memory it freed goes back to the system while the
    process holds more than ``TRIM_ABOVE_BYTES``, and after the last one in any
    case (:func:`return_freed_memory`).

    Under ``dask.distributed`` everything goes in one ``dask.compute``: the
    scheduler queues root tasks itself (which bounds what is read ahead),
    while a barrier per batch left the two workers idle half the time and
    re-read the inputs shared between batches (measured on a 512³ analysis on
    a 2-worker LocalCluster: 2.1× the threaded scheduler's time with batches,
    1.37× without; the phase stage alone 27.9 → 14.6 s).
    """
    import dask
    from dask._task_spec import DataNode
    from dask.base import collections_to_expr, get_scheduler
    from dask.optimization import cull

    parts = list(parts)
    schedule = get_scheduler(collections=parts)
    if len(parts) <= batch or _is_distributed(schedule):
        return list(dask.compute(*parts))
    graph = dict(collections_to_expr(parts, optimize_graph=True).optimize().__dask_graph__())
    keys = [part.key for part in parts]
    batches = [keys[start:start + batch] for start in range(0, len(keys), batch)]
    results, carried = [], {}
    following = cull(graph, batches[0])
    for index, wanted in enumerate(batches):
        needed, _ = following
        if carried:
            needed = {**needed, **{key: DataNode(key, value) for key, value in carried.items() if key in needed}}
            needed, _ = cull(needed, wanted)
        handover = []
        if index + 1 < len(batches):
            following = cull(graph, batches[index + 1])
            # a handed-over value stays in memory from its task to the end of the batch
            handover = _handover(needed, following) if carry_bytes else []
        values = schedule(needed, wanted + handover)
        results.extend(values[:len(wanted)])
        carried = _carried(handover, values[len(wanted):], carry_bytes)
        del values
        # after the last batch always: the next step's allocations would not reuse it all
        # (2048³: the region merge after the seam batches rose from 1.41 to 2.76 GiB untrimmed)
        return_freed_memory(above=TRIM_ABOVE_BYTES if index + 1 < len(batches) else 0)
    return results


def _handover(needed, following) -> list:
    """Keys of this batch's graph ``needed`` whose values the next batch's culled graph
    ``following`` (graph, dependencies) reads in a task this batch does not run."""
    graph, dependencies = following
    return sorted({dependency for key in graph.keys() - needed.keys() for dependency in dependencies[key]
                   if dependency in needed}, key=str)


def _carried(keys, values, limit) -> dict:
    """The values to hand to the next batch, in order of ``keys`` while they fit in ``limit`` bytes."""
    from dask.sizeof import sizeof

    carried, total = {}, 0
    for key, value in zip(keys, values):
        total += sizeof(value)
        if total > limit:
            break
        carried[key] = value
    return carried


def _is_distributed(schedule) -> bool:
    owner = getattr(schedule, "__self__", None)
    return type(owner).__module__.startswith("distributed")


def label_counts(labels, n_labels: int):
    """Voxels per label 0..n_labels of a label image, counted chunk by chunk (lazy).

    Returns a dask Delayed of a (n_labels + 1,) int64 array. To count within
    masks too, use :func:`counts_within` (one pass, batched).
    """
    blocks = delayed_blocks(labels).ravel()
    parts = [task(_present_counts, b, None, n_labels) for b in blocks]
    return task(_summed, parts, n_labels)


def _present_counts(block, mask, n_labels, span=None):
    """The labels (at most ``n_labels``) present in a block, or in it within ``mask``, and their voxels.

    Only the labels present: a dense count per block would gather
    blocks × labels numbers (1.2 GiB for 512 blocks of a 1024³ volume).
    Compiled and free of the GIL (``np.bincount`` held it, and with the
    mask's boolean selection was the largest entry in the profile of the
    1024³ voids: docs/performance.md, item 43). Label 0 is counted apart: a
    range from 0 scanned half a million counts per block at 2048³ (item 44).
    ``span``: the block's lowest and highest non-zero label
    (:func:`ssbimage._compiled.labelled_range`), if known.
    """
    values = np.ascontiguousarray(block).reshape(-1)
    if values.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    lowest, highest = labelled_range(values) if span is None else span
    selected = np.empty(0, bool) if mask is None else np.ascontiguousarray(mask, bool).reshape(-1)
    lowest = max(lowest, 1)
    counts, zeros = counts_in_range(values, selected, lowest, min(highest, n_labels))
    present = np.flatnonzero(counts)
    if zeros:
        return np.concatenate([[0], present + lowest]), np.concatenate([[zeros], counts[present]])
    return present + lowest, counts[present]


def _summed(parts, n_labels):
    out = np.zeros(n_labels + 1, np.int64)
    for present, counts in parts:
        np.add.at(out, present.astype(np.int64), counts)
    return out


def _counts_in_block(block, *masks, n_labels):
    flat = np.ascontiguousarray(block).reshape(-1)
    span = labelled_range(flat) if flat.size else None
    return [_present_counts(flat, m, n_labels, span) for m in (None, *masks)]


def counts_within(labels, n_labels: int | None, masks=(), *, batch: int = 8) -> np.ndarray:
    """Voxels per label 0..n_labels, in all (row 0) and within each mask (rows 1..), computed now.

    ``n_labels=None`` counts up to the highest label present, without a pass
    of its own to find it (``labels.max()`` read a 1024³ label image once more).

    One task per block counts them all, and blocks are computed a batch at a
    time (:func:`compute_in_batches`). Separate lazy counts of the same label
    image (one :func:`label_counts` each) left Dask two consumers per block:
    at 2048³ it computed label blocks for the first count far ahead of the
    second's inputs and held them, 10.6 GiB and rising when it was stopped.
    """
    labels = as_dask(labels)
    blocks = delayed_blocks(labels).ravel()
    mask_blocks = [delayed_blocks(as_dask(m).rechunk(labels.chunks)).ravel() for m in masks]
    parts = compute_in_batches([task(_counts_in_block, b, *ms,
                                     n_labels=np.iinfo(np.int64).max if n_labels is None else n_labels)
                                for b, *ms in zip(blocks, *mask_blocks)], batch=batch)
    if n_labels is None:
        n_labels = max((int(present[-1]) for part in parts for present, _ in part if present.size), default=0)
    return np.stack([_summed([p[k] for p in parts], n_labels) for k in range(len(masks) + 1)])


def _pair_block(first, second, either):
    keep = ((first > 0) | (second > 0)) if either else ((first > 0) & (second > 0))
    if not keep.any():
        return np.empty((0, 3), np.int64)
    pairs, counts = np.unique(np.stack([first[keep], second[keep]]).astype(np.int64), axis=1,
                              return_counts=True)
    return np.column_stack([pairs.T, counts])


def overlap_counts(first, second, *, either: bool = False):
    """Voxels shared by each pair of labels of two label images, counted chunk by chunk.

    Pairs where both labels are non-zero, or with ``either`` where at least
    one is (so 0 pairs with the other image's labels). Returns a pandas
    DataFrame ``first, second, count``, one row per pair, sorted.
    """
    import dask
    import pandas as pd

    first = as_dask(first)
    second = as_dask(second).rechunk(first.chunks)
    parts = dask.compute(*[task(_pair_block, a, b, either) for a, b in
                           zip(delayed_blocks(first).ravel(), delayed_blocks(second).ravel())])
    table = pd.DataFrame(np.concatenate(parts) if parts else np.empty((0, 3), np.int64),
                         columns=["first", "second", "count"])
    return table.groupby(["first", "second"], as_index=False)["count"].sum()
