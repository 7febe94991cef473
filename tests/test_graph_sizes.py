"""Task graphs stay a few tasks per chunk: a ``dask.distributed`` scheduler pays for every task.

Counts are for a 4³-chunk volume (64 chunks), whose source array is one
task per chunk. The bounds are the measured counts with a little room; the
old graphs they replaced are in the comments (docs/performance.md, item 35).
"""

import dask.array as da
import numpy as np
import pytest

CHUNKS = 64


def _tasks_per_chunk(array_or_graph):
    graph = array_or_graph.__dask_graph__() if hasattr(array_or_graph, "__dask_graph__") else array_or_graph
    return len(dict(graph)) / CHUNKS


@pytest.fixture(scope="module")
def phases():
    rng = np.random.default_rng(0)
    volume = rng.choice(np.array([1, 2, 3], np.uint8), size=(64, 64, 64), p=[0.5, 0.4, 0.1])
    return da.from_array(volume, chunks=16)


def test_the_contact_test_takes_three_tasks_per_chunk(phases):
    from ssbimage.segment._voids import near_phase

    # source, outer layers, result; map_overlap with a zero boundary made 80
    assert _tasks_per_chunk(near_phase(phases, 2)) <= 3


def test_labels_take_two_tasks_per_chunk(phases):
    from ssbimage.segment import label

    labels, _ = label(phases == 3)
    # one (the runs kept from pass 1, painted) or three (source, comparison,
    # labelled again); da.block of from_delayed pieces added 4 more per chunk
    assert _tasks_per_chunk(labels) <= 3


def test_gaussian_halo_takes_no_padding_chunks(phases):
    from ssbimage.filters import gaussian

    # 18.6 per chunk; 83 with dask's "nearest" boundary (σ = 1, halo 4)
    assert _tasks_per_chunk(gaussian(phases, 1.0)) <= 20


def test_surface_blocks_take_no_padding_chunks(phases):
    import dask

    from ssbimage.measure._surfaces import _haloed_blocks

    blocks = [b[0] for b, *_ in _haloed_blocks([phases], (5, 5, 5))]
    graph = dask.delayed(list)(blocks).__dask_graph__()
    # 18.5 per chunk; 40.6 with dask's "nearest" boundary
    assert _tasks_per_chunk(graph) <= 20


def test_each_haloed_block_carries_only_its_neighbourhood(phases):
    """A task per block costs per block, not per volume.

    ``to_delayed`` blocks each held the whole graph, which every
    ``dask.delayed`` call on them culled again: O(blocks²) to build, 246 s
    for the 4096 blocks of a 2048³ volume's interface areas (item 42).
    """
    from ssbimage.measure._surfaces import _haloed_blocks

    blocks = [b[0] for b, *_ in _haloed_blocks([phases], (5, 5, 5))]
    whole = _tasks_per_chunk(__import__("dask").delayed(list)(blocks).__dask_graph__()) * CHUNKS
    sizes = [len(dict(block.__dask_graph__())) for block in blocks]
    # a block in the middle needs its 27 source chunks, their cut halos and
    # the joining; the whole graph has 64 chunks' worth
    assert max(sizes) <= 60 < whole


def test_delayed_blocks_are_the_blocks(phases):
    import dask

    from ssbimage._arrays import delayed_blocks

    shifted = phases + 1
    blocks = delayed_blocks(shifted)
    assert blocks.shape == shifted.numblocks
    for index in [(0, 0, 0), (1, 2, 3), (3, 3, 3)]:
        expected = shifted.blocks[index].compute()
        np.testing.assert_array_equal(dask.compute(blocks[index])[0], expected)
        # the source chunk and the addition, not the other 63 chunks' tasks
        assert len(dict(blocks[index].__dask_graph__())) <= 2
