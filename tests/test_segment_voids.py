"""Void instances on exact phase maps: pores stay pores, contact-loss gaps are interfacial."""

import dask.array as da
import numpy as np
import pytest

from ssbimage.segment import segment_voids
from ssbimage.synth import composite_cathode


@pytest.fixture(scope="module")
def cathode():
    ph = composite_cathode((64, 64, 64), 0.5, seed=3)
    return ph, ph.phases.data.compute(), ph.labels["voids"].data.compute()


def test_each_true_pore_is_one_void_of_its_exact_size_and_not_interfacial(cathode):
    ph, phases, truth_voids = cathode
    labels, table = segment_voids(da.from_array(phases, chunks=(20, 33, 64)), spacing=0.5)
    labels = labels.compute()
    table = table.set_index("label")
    pores = ph.objects.query("kind == 'pore' and voxels > 0")
    assert len(pores) > 10
    for _, pore in pores.iterrows():
        found = np.unique(labels[truth_voids == pore.label])
        assert len(found) == 1 and found[0] > 0
        row = table.loc[found[0]]
        assert row.voxels == pore.voxels and not row.interfacial
        assert row.volume == pytest.approx(pore.voxels * 0.125)


def test_contact_loss_gaps_are_interfacial(cathode):
    ph, phases, truth_voids = cathode
    labels, table = segment_voids(phases, spacing=0.5)
    labels = labels.compute()
    interfacial = set(table.label[table.interfacial])
    shells = ph.objects.query("kind == 'interfacial_void' and voxels > 0").label
    inner = (slice(1, -1),) * 3  # away from the faces, where the particle may be cut off
    checked = 0
    for shell in shells:
        found = set(np.unique(labels[inner][truth_voids[inner] == shell])) - {0}
        if found:
            assert found <= interfacial
            checked += 1
    assert checked >= 5


def test_voids_do_not_depend_on_chunks_and_small_ones_can_be_dropped(cathode):
    _, phases, _ = cathode
    whole, table = segment_voids(phases, spacing=0.5)
    parts, table2 = segment_voids(da.from_array(phases, chunks=(7, 64, 30)), spacing=0.5)
    np.testing.assert_array_equal(parts.compute(), whole.compute())
    assert table.equals(table2)
    big, kept = segment_voids(phases, spacing=0.5, min_volume=2.0)
    assert (kept.volume >= 2.0).all() and len(kept) == int((table.volume >= 2.0).sum())
    assert np.count_nonzero(big.compute()) == int(table.voxels[table.volume >= 2.0].sum())
    assert list(kept.label) == list(range(1, len(kept) + 1))


@pytest.mark.parametrize("chunks", [(20, 33, 64), 64, 7])
def test_counts_within_equal_bincount_in_any_chunks(cathode, chunks):
    """The batched counter of voids and cracks gives every label's voxels, in
    all and within each mask, exactly as a whole-array bincount."""
    from ssbimage._arrays import counts_within

    _, phases, truth_voids = cathode
    n = int(truth_voids.max())
    masks = [phases == 2, phases == 1]
    counted = counts_within(da.from_array(truth_voids, chunks=chunks), n,
                            [da.from_array(m, chunks=16) for m in masks], batch=3)
    assert counted.shape == (3, n + 1) and counted[0, 1:].sum() > 0
    np.testing.assert_array_equal(counted[0], np.bincount(truth_voids.ravel(), minlength=n + 1))
    for row, mask in zip(counted[1:], masks):
        np.testing.assert_array_equal(row, np.bincount(truth_voids[mask], minlength=n + 1))
    # without n: up to the highest label present, found by the counts themselves
    np.testing.assert_array_equal(counts_within(da.from_array(truth_voids, chunks=chunks), None,
                                                [da.from_array(m, chunks=16) for m in masks], batch=3), counted)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.int64])
def test_block_counts_equal_bincount_for_high_labels_and_masks(dtype):
    """A block's counts (compiled, from its lowest label) equal ``np.bincount``'s nonzero entries,
    for labels far from 0, within a mask, and without the labels above ``n_labels``."""
    from ssbimage._arrays import _counts_in_block

    rng = np.random.default_rng(4)
    base = 200 if dtype == np.uint8 else 1_000_000
    block = (base + rng.integers(0, 40, (9, 10, 11))).astype(dtype)
    block[0, 0, :5] = 0
    mask = rng.random(block.shape) < 0.3
    n_labels = base + 30
    everything, within = _counts_in_block(block, mask, n_labels=n_labels)
    for (present, counts), values in [(everything, block.ravel()), (within, block[mask])]:
        expected = np.bincount(values.astype(np.int64), minlength=n_labels + 1)[: n_labels + 1]
        np.testing.assert_array_equal(present, np.flatnonzero(expected))
        np.testing.assert_array_equal(counts, expected[present])
    assert present.max() <= n_labels and 0 in everything[0]
    # only background, and no background
    (present, counts), = _counts_in_block(np.zeros((3, 4, 5), dtype), n_labels=n_labels)
    assert present.tolist() == [0] and counts.tolist() == [60]
    (present, counts), = _counts_in_block(np.full((3, 4, 5), base + 7, dtype), n_labels=n_labels)
    assert present.tolist() == [base + 7] and counts.tolist() == [60]
