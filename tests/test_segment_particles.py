"""Particle instances: the distance watershed splits touching particles, the same for any chunking."""

import dask.array as da
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from ssbimage.segment import particle_distance, segment_particles
from ssbimage.synth import composite_cathode, match_instances


def balls(shape, centres, radii):
    z, y, x = np.indices(shape)
    out = np.zeros(shape, bool)
    for (cz, cy, cx), r in zip(centres, radii):
        out |= (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= r * r
    return out


def test_distance_is_exact_below_the_clip_for_any_chunking():
    from scipy import ndimage

    mask = balls((40, 44, 48), [(20, 22, 14), (18, 20, 32)], [11, 9])
    exact = ndimage.distance_transform_edt(np.pad(mask, 1, constant_values=True),
                                           sampling=(0.5, 0.4, 0.4))[1:-1, 1:-1, 1:-1]
    for chunks in [(40, 44, 48), (13, 20, 9)]:
        found = particle_distance(da.from_array(mask, chunks=chunks), spacing=(0.5, 0.4, 0.4),
                                  max_radius=3.0).compute()
        np.testing.assert_allclose(found, np.minimum(exact, 3.0), rtol=1e-6)


def test_overlapping_spheres_split_and_an_ellipsoid_stays_whole():
    shape = (48, 48, 96)
    # two spheres of radius 10 and 7 voxels overlapping by 15 % of the smaller radius
    pair = balls(shape, [(24, 24, 20), (24, 24, 20 + 10 + 7 - 1)], [10, 7])
    z, y, x = np.indices(shape)
    ellipsoid = ((z - 24) / 10) ** 2 + ((y - 24) / 8) ** 2 + ((x - 72) / 18) ** 2 <= 1
    labels, n = segment_particles(da.from_array(pair | ellipsoid, chunks=(20, 30, 40)),
                                  spacing=0.5, max_radius=10)
    labels = labels.compute()
    assert n == 3
    assert len(np.unique(labels[pair & (x < 30)])) == 1
    assert len(np.unique(labels[ellipsoid])) == 1
    assert len(np.unique(labels[pair | ellipsoid])) == 3


def test_a_last_chunk_thinner_than_the_halo_gives_the_same_particles():
    rng = np.random.default_rng(3)
    shape = (40, 40, 100)
    centres = rng.uniform((6, 6, 6), (34, 34, 94), size=(14, 3))
    mask = balls(shape, centres, rng.uniform(3, 6, 14))
    # halo 6 voxels: work chunks 48 along x, so 48 + 48 + 4, the 4 joining the 48 before
    chunked, n_chunked = segment_particles(da.from_array(mask, chunks=16), spacing=0.5, max_radius=2.5)
    whole, n_whole = segment_particles(mask, spacing=0.5, max_radius=2.5)
    assert n_chunked == n_whole > 5
    assert adjusted_rand_score(chunked.compute()[mask], whole.compute()[mask]) >= 0.999


def test_particles_across_block_seams_equal_the_whole_volume():
    """Touching particles cut by the work blocks' seams on all three axes: the
    faces inside blocks (scanned as the watershed is written) and across the
    seams (read from the seams' two layers) give the labels of one block."""
    rng = np.random.default_rng(5)
    shape = (100, 100, 100)
    centres = rng.uniform(4, 96, size=(260, 3))
    mask = balls(shape, centres, rng.uniform(3, 6, 260))
    # halo 6 voxels: work blocks of 48 + 52 along each axis, seams at 48
    chunked, n_chunked = segment_particles(da.from_array(mask, chunks=16), spacing=0.5, max_radius=2.5)
    assert chunked.chunks == ((48, 52),) * 3
    whole, n_whole = segment_particles(mask, spacing=0.5, max_radius=2.5)
    chunked, whole = chunked.compute(), whole.compute()
    for axis in range(3):
        lower, upper = np.take(chunked, 47, axis=axis), np.take(chunked, 48, axis=axis)
        straddling = (lower > 0) & (lower == upper)
        split = (lower > 0) & (upper > 0) & (lower != upper)
        assert straddling.sum() > 500 and split.sum() > 0  # particles, and contacts, across every seam
    assert n_chunked == n_whole > 100
    np.testing.assert_array_equal(chunked, whole)


def test_a_zarr_phase_map_read_with_halos_gives_the_same_particles(tmp_path):
    """From a Zarr store the distance step reads each work block with its halo from the store
    (no neighbouring blocks held); the particles are those of the in-memory path."""
    import zarr

    from ssbimage._arrays import as_dask

    rng = np.random.default_rng(8)
    shape = (100, 100, 100)
    centres = rng.uniform(4, 96, size=(260, 3))
    phases = np.where(balls(shape, centres, rng.uniform(3, 6, 260)), 2, 1).astype(np.uint8)
    phases[40:44, 30:60, 30:60] = np.where(phases[40:44, 30:60, 30:60] == 2, 4, 1)  # cracks are particle too
    store = zarr.create_array(str(tmp_path / "phases.zarr"), shape=shape, dtype=np.uint8, chunks=(16, 16, 16))
    store[...] = phases
    lazy = as_dask(store)
    assert lazy.chunksize == (16, 16, 16)  # read in the store's chunks, not loaded whole
    from_store, n_store = segment_particles(store, spacing=0.5, max_radius=2.5)
    in_memory, n_memory = segment_particles(da.from_array(phases, chunks=16), spacing=0.5, max_radius=2.5)
    assert from_store.chunks == ((48, 52),) * 3
    assert n_store == n_memory > 100
    np.testing.assert_array_equal(from_store.compute(), in_memory.compute())


def test_face_scan_rows_span_only_the_labels_in_the_block():
    """The face scan's per-label rows start at the block's lowest label: seeds numbered from
    10⁶ (a block of a 2048³ volume) give the same summary, shifted, in two rows, not 10⁶."""
    from ssbimage.segment._particles import SKIP, _scan_faces

    labels = np.zeros((6, 6, 8), np.uint32)
    labels[1:-1, 1:-1, 1:4], labels[1:-1, 1:-1, 4:7] = 1, 2
    labels[0], labels[-1] = SKIP, SKIP
    distance = np.where((labels > 0) & (labels < SKIP), 3, 0).astype(np.uint16)
    distance[2, 2, 2] = 7
    low = _scan_faces(labels, distance, SKIP)
    high = _scan_faces(np.where((labels > 0) & (labels < SKIP), labels + 1_000_000, labels).astype(np.uint32),
                       distance, SKIP)
    assert (low[0], high[0]) == (1, 1_000_001)
    assert len(high[2]) == 2
    for a, b in zip(low[1:4], high[1:4]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(high[4][:, :2], low[4][:, :2] + 1_000_000)
    np.testing.assert_array_equal(high[4][:, 2:], low[4][:, 2:])
    assert low[1].tolist() == [7.0, 3.0] and low[4].tolist() == [[1, 2, 3, 16]]


def test_pieces_no_seed_reaches_become_particles_after_the_others():
    """A plate thinner than ``min_radius`` starts no region; isolated, it is a
    particle of its own, numbered after the seeded ones, whatever the chunks."""
    shape = (40, 40, 60)
    spheres = balls(shape, [(20, 20, 12), (20, 20, 44)], [8, 8])
    plate = np.zeros(shape, bool)
    plate[5:35, 5:35, 28:30] = True  # 2 voxels thick: its distance peaks at 1 voxel
    mask = spheres | plate
    for chunks in (60, 16):
        labels, n = segment_particles(da.from_array(mask, chunks=chunks), spacing=0.5, max_radius=5,
                                      min_radius=1.0)
        labels = labels.compute()
        assert n == 3
        assert set(np.unique(labels[plate])) == {3}
        assert labels[20, 20, 12] == 1 and labels[20, 20, 44] == 2
        assert np.all(labels[mask] > 0) and not np.any(labels[~mask])


@pytest.fixture(scope="module")
def cathode():
    ph = composite_cathode((128, 128, 128), 0.5, seed=0)
    return ph.phases.data.compute(), ph.labels["particles"].data.compute()


def test_particles_match_the_phantom_and_do_not_depend_on_chunks(cathode):
    phases, truth = cathode
    found = {}
    for chunks in (64, 96, 128):
        labels, n = segment_particles(da.from_array(phases, chunks=chunks), spacing=0.5)
        found[chunks] = (labels.compute(), n)
    n_true = len(np.unique(truth)) - 1
    labels, n = found[128]
    assert abs(n - n_true) <= 0.03 * n_true, (n, n_true)
    assert match_instances(labels, truth).matched.mean() >= 0.95
    solid = phases > 0
    for a, b in [(64, 96), (64, 128), (96, 128)]:
        assert found[a][1] == found[b][1]
        assert adjusted_rand_score(found[a][0][solid], found[b][0][solid]) >= 0.999
    # the particle phase is covered but for specks below min_volume (4.2 voxels), nothing else is
    particle = np.isin(phases, (2, 4))
    assert not np.any((labels > 0) & ~particle)
    assert np.count_nonzero(particle & (labels == 0)) < 10


def test_priority_flood_partitions_like_scikit_image_watershed():
    from scipy import ndimage
    from skimage.segmentation import watershed

    from ssbimage.segment._flood import flood_descending

    rng = np.random.default_rng(0)
    field = ndimage.gaussian_filter(rng.random((40, 50, 60)), 3)
    mask = field > np.quantile(field, 0.3)
    level = np.rint((field - field.min()) / np.ptp(field) * 2000).astype(np.uint16)
    peaks = (ndimage.maximum_filter(level, 3) == level) & mask
    markers, n = ndimage.label(peaks)
    ours = flood_descending(level, markers.astype(np.uint32), mask)
    reference = watershed(-level.astype(float), markers, mask=mask)
    assert n > 5
    assert not np.any(ours[~mask]) and np.all(ours[mask] > 0)
    # the two break ties between equal levels differently, nothing else
    assert np.mean(ours[mask] == reference[mask]) >= 0.99


def test_priority_flood_same_in_32_and_64_bit_words():
    """Levels and labels share one word: 32 bits when they fit, else 64. Marker
    ids too large for the narrow word flood the same."""
    from scipy import ndimage

    from ssbimage.segment._flood import flood_descending

    rng = np.random.default_rng(1)
    field = ndimage.gaussian_filter(rng.random((30, 40, 50)), 2)
    mask = field > np.quantile(field, 0.4)
    level = np.rint((field - field.min()) / np.ptp(field) * 400).astype(np.uint16)
    markers, n = ndimage.label((ndimage.maximum_filter(level, 3) == level) & mask)
    narrow = flood_descending(level, markers.astype(np.uint32), mask)
    assert n > 5 and np.all(narrow[mask] > 0) and not np.any(narrow[~mask])
    offset = np.uint32(2**31)  # beyond the 23 label bits left by 9-bit levels
    shifted = flood_descending(level, np.where(markers > 0, markers + offset, 0).astype(np.uint32), mask)
    np.testing.assert_array_equal(np.where(shifted > 0, shifted - offset, 0), narrow)


def test_seed_peaks_equal_scipy_maximum_filter():
    """The compiled 3×3×3 peak test gives exactly scipy's ``maximum_filter``
    result (edges replicated), on noise with many ties and on a distance map."""
    from scipy import ndimage

    from ssbimage.segment._particles import _marker_block

    rng = np.random.default_rng(3)
    fields = [rng.integers(0, top, shape).astype(np.uint16)
              for shape in [(1, 1, 1), (1, 5, 7), (3, 1, 4), (9, 10, 11)] for top in (3, 300)]
    blobs = ndimage.gaussian_filter(rng.normal(size=(30, 31, 32)), 2) > 0
    fields.append(np.rint(16 * ndimage.distance_transform_edt(blobs)).astype(np.uint16))
    for levels in fields:
        for min_level in (0, 2, 16):
            expected = (levels >= ndimage.maximum_filter(levels, size=3, mode="nearest")) & (levels >= min_level)
            np.testing.assert_array_equal(_marker_block(levels, min_level), expected)
