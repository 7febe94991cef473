"""Chunked connected components equal scipy.ndimage.label exactly, whatever the chunks."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from ssbimage.segment import label, label_and_count

STRUCTURE = {6: ndimage.generate_binary_structure(3, 1), 18: ndimage.generate_binary_structure(3, 2),
             26: np.ones((3, 3, 3), bool)}


def blobs(shape=(40, 50, 60), threshold=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), 1.5) > threshold


@pytest.mark.parametrize("connectivity", [6, 18, 26])
@pytest.mark.parametrize("chunks", [(40, 50, 60), (16, 16, 16), (13, 27, 7), (1, 50, 60), (40, 3, 60)])
def test_equals_scipy_label(connectivity, chunks):
    mask = blobs()
    expected, n = ndimage.label(mask, STRUCTURE[connectivity])
    labels, count = label(da.from_array(mask, chunks=chunks), connectivity=connectivity)
    assert labels.dtype == np.uint32 and labels.chunks == da.from_array(mask, chunks=chunks).chunks
    np.testing.assert_array_equal(labels.compute(), expected)
    assert int(count) == n


def test_diagonal_contacts_across_chunk_edges_and_corners():
    mask = np.zeros((8, 8, 8), bool)
    mask[3, 3, 3] = mask[4, 4, 4] = True  # touch only by a corner, across 3 chunk faces
    mask[0, 3, 0] = mask[1, 4, 0] = True  # touch by an edge, across 2 faces
    for connectivity, n in [(26, 2), (18, 3), (6, 4)]:
        labels, count = label(da.from_array(mask, chunks=4), connectivity=connectivity)
        assert int(count) == n, connectivity
        np.testing.assert_array_equal(labels.compute(), ndimage.label(mask, STRUCTURE[connectivity])[0])


def test_one_component_through_every_chunk():
    mask = np.zeros((30, 30, 30), bool)
    mask[:, 15, 15] = mask[15, :, 15] = mask[15, 15, :] = True  # a 3D cross
    mask[2:28:4, 2:28, 2] = True  # thin plates crossing several chunks, apart from the cross
    expected, n = ndimage.label(mask, STRUCTURE[26])
    labels, count = label(da.from_array(mask, chunks=7))
    np.testing.assert_array_equal(labels.compute(), expected)
    assert int(count) == n


@pytest.mark.parametrize("fill", [False, True])
def test_empty_and_full(fill):
    mask = np.full((10, 11, 12), fill)
    labels, count = label(da.from_array(mask, chunks=4))
    assert int(count) == int(fill)
    np.testing.assert_array_equal(labels.compute(), mask.astype(np.uint32))


def test_numpy_input_and_bad_arguments():
    labels, count = label(blobs((12, 12, 12)))
    assert isinstance(labels, da.Array)
    with pytest.raises(ValueError, match="connectivity"):
        label(np.zeros((2, 2, 2), bool), connectivity=8)
    with pytest.raises(ValueError, match="3D"):
        label(np.zeros((2, 2), bool))


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_block_runs_equal_scipy_label(connectivity):
    """One block labelled by its runs: scipy's partition, numbering, first voxels and faces.

    Noise masks of every density, down to a checkerboard (a run per voxel,
    more runs than the kernel first allocates), and one-voxel-thin shapes.
    """
    from ssbimage.segment._runs import face_labels, first_voxels, label_runs, paint_runs

    rng = np.random.default_rng(connectivity)
    checkerboard = np.indices((9, 40, 40)).sum(axis=0) % 2 == 0
    masks = [rng.random(tuple(rng.integers(1, 24, 3))) < density for density in (0.1, 0.3, 0.5, 0.7, 0.9)]
    masks += [checkerboard, np.ones((1, 1, 5), bool), np.zeros((3, 4, 5), bool)]
    for mask in masks:
        expected, n = ndimage.label(mask, STRUCTURE[connectivity])
        runs, count = label_runs(mask, connectivity)
        assert count == n
        found = paint_runs(mask.shape, runs)
        np.testing.assert_array_equal(found, expected)
        firsts = [np.flatnonzero(expected.ravel() == k)[0] for k in range(1, n + 1)]
        np.testing.assert_array_equal(first_voxels(mask.shape, runs, n), firsts)
        for axis, (low, high) in enumerate(face_labels(mask.shape, runs)):
            np.testing.assert_array_equal(low, np.take(expected, 0, axis=axis))
            np.testing.assert_array_equal(high, np.take(expected, -1, axis=axis))
        table = np.arange(n + 1, dtype=np.uint32) * 3
        np.testing.assert_array_equal(paint_runs(mask.shape, runs, table), expected * 3)


def test_kept_runs_spare_the_second_read_and_change_nothing(monkeypatch):
    from ssbimage.segment import _label
    from ssbimage.segment._runs import compact_runs, label_runs

    mask = blobs()
    expected, n = ndimage.label(mask, STRUCTURE[26])
    source = da.from_array(mask, chunks=16)
    reads = {}

    def counted(block, block_info=None):
        where = tuple(block_info[0]["chunk-location"])
        reads[where] = reads.get(where, 0) + 1
        return block

    counted_source = source.map_blocks(counted, dtype=bool)
    sizes = {}
    for idx in np.ndindex(*source.numblocks):
        block = source.blocks[idx].compute()
        sizes[idx] = sum(a.nbytes for a in compact_runs(block.shape, label_runs(block)[0]))
    # each chunk's share between the smallest and the largest runs: some chunks keep theirs
    share = int(np.median(list(sizes.values())))
    monkeypatch.setattr(_label, "KEPT_RUNS_BYTES", share * len(sizes))
    labels, count = label(counted_source)
    np.testing.assert_array_equal(labels.compute(), expected)
    assert int(count) == n
    kept = {idx for idx, size in sizes.items() if size <= share}
    assert 0 < len(kept) < len(sizes)
    assert reads == {idx: 1 if idx in kept else 2 for idx in sizes}
    reads.clear()
    labels, count = label(counted_source, keep_runs=False)
    np.testing.assert_array_equal(labels.compute(), expected)
    assert reads == {idx: 2 for idx in sizes}


def test_chunks_with_more_components_than_uint16_holds():
    # a checkerboard has a component per voxel under 6-connectivity: 81 920 in
    # the first chunk, more than the narrowed faces would hold, beside a noise chunk
    mask = np.indices((64, 64, 48)).sum(axis=0) % 2 == 0
    mask[:, :, 40:] = np.random.default_rng(0).random((64, 64, 8)) < 0.6
    expected, n = ndimage.label(mask, STRUCTURE[6])
    found, count = label(da.from_array(mask, chunks=(64, 64, 40)), connectivity=6)
    assert ndimage.label(mask[:, :, :40], STRUCTURE[6])[1] > 2 ** 16
    assert count == n
    np.testing.assert_array_equal(found.compute(), expected)


@pytest.mark.parametrize("connectivity", [6, 26])
@pytest.mark.parametrize("chunks", [(40, 50, 60), (16, 16, 16), (13, 27, 7)])
def test_label_and_count_equal_bincounts_of_scipy_labels(connectivity, chunks):
    """Counts from the first pass's runs equal bincounts of scipy's labels, in all and within
    each mask (column 0: the voxels outside every component), whatever the chunks."""
    mask = blobs()
    inside = [blobs(seed=1, threshold=0.5), np.zeros(mask.shape, bool), np.ones(mask.shape, bool)]
    expected, n = ndimage.label(mask, STRUCTURE[connectivity])
    labels, count, counts = label_and_count(da.from_array(mask, chunks=chunks),
                                            [da.from_array(m, chunks=11) for m in inside], connectivity=connectivity)
    assert count == n and counts.shape == (4, n + 1) and counts.dtype == np.int64
    np.testing.assert_array_equal(counts[0], np.bincount(expected.ravel(), minlength=n + 1))
    for row, within in zip(counts[1:], inside):
        np.testing.assert_array_equal(row, np.bincount(expected[within], minlength=n + 1))
    np.testing.assert_array_equal(labels.compute(), expected)
    # without masks: the voxels alone; with runs labelled again in pass 2, the same
    _, _, alone = label_and_count(da.from_array(mask, chunks=chunks), connectivity=connectivity, keep_runs=False)
    np.testing.assert_array_equal(alone, counts[:1])
