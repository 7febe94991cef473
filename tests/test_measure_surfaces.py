"""Interface and envelope areas against closed forms: spheres, planes, thin cracks; chunk invariance."""

import dask.array as da
import numpy as np
import pytest

from ssbimage.measure import interface_areas, label_surface_areas
from ssbimage.synth import composite_cathode


def ball(shape, centre, radius, spacing=(1.0, 1.0, 1.0)):
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing)) <= radius ** 2


def area_facing(table, facing):
    return table.loc[table.facing == facing, "area_um2"].sum()


@pytest.mark.parametrize("centre", [(20.0, 20.0, 20.0), (20.3, 19.8, 20.6), (19.55, 20.25, 20.1)])
def test_sphere_of_radius_10_voxels_within_2_percent(centre):
    phases = np.where(ball((41, 41, 41), centre, 10.0), 2, 1).astype(np.uint8)
    exact = 4 * np.pi * 10.0 ** 2 * 0.25
    areas = interface_areas(phases, spacing=0.5)
    assert area_facing(areas, 1) == pytest.approx(exact, rel=0.02)
    assert set(areas.facing) == {1}
    assert label_surface_areas(phases == 2, spacing=0.5).surface_area_um2[0] == pytest.approx(exact, rel=0.02)


@pytest.mark.parametrize("slope", [(0.0, 0.0), (0.05, 0.0), (0.1, 0.05), (0.2, 0.0), (0.3, 0.3),
                                   (0.6, 0.2), (1.0, 1.0)])
def test_flat_interface_within_1_percent(slope):
    """A plane z = a y + b x + c, measured over the central N × N columns (labelled 1).

    A face between a central column and an outer one belongs to the column of
    its active-material voxel: on average half of them, as the area on the
    boundary of the central region.
    """
    a, b = slope
    n, pad = 48, 12
    z, y, x = np.ogrid[:2 * n, :n + 2 * pad, :n + 2 * pad]
    plane = z <= a * (y - pad - n / 2) + b * (x - pad - n / 2) + n + 0.37
    phases = np.where(plane, 2, 1).astype(np.uint8)
    central = np.zeros(phases.shape, np.uint8)
    central[:, pad:pad + n, pad:pad + n] = 1
    areas = interface_areas(phases, spacing=1.0, labels=central)
    measured = areas.loc[areas.label == 1, "area_um2"].sum()
    assert measured == pytest.approx(n * n * np.hypot(1, np.hypot(a, b)), rel=0.01)


def test_each_side_of_a_sphere_goes_to_the_phase_it_faces():
    """Void below z = 20.5 (between voxel layers), electrolyte above: two zones of the sphere."""
    inside = ball((41, 41, 41), (20.2, 20.4, 19.7), 10.0)
    below = np.broadcast_to(np.arange(41)[:, None, None] <= 20, inside.shape)
    phases = np.where(below, 3, 1).astype(np.uint8)
    phases[inside] = 2
    areas = interface_areas(phases, spacing=1.0)
    cap = 2 * np.pi * 10.0 * (20.2 + 10.0 - 20.5)  # zone area 2π r h
    assert area_facing(areas, 1) == pytest.approx(cap, rel=0.02)
    assert area_facing(areas, 3) == pytest.approx(4 * np.pi * 100 - cap, rel=0.02)


def test_anisotropic_spacing():
    spacing = (1.0, 0.5, 0.5)   # a 10 µm sphere is 10 voxels tall and 20 wide
    phases = np.where(ball((31, 51, 51), (15.2, 25.3, 24.9), 10.0, spacing), 2, 1).astype(np.uint8)
    measured = area_facing(interface_areas(phases, spacing=spacing), 1)
    assert measured == pytest.approx(4 * np.pi * 100, rel=0.02)


@pytest.mark.parametrize("width, tolerance", [(2.0, 0.05), (1.5, 0.05), (1.0, 0.1)])
def test_thin_crack_keeps_both_faces(width, tolerance):
    """A crack through an active-material slab: two faces of its area.

    Measured +2.9 %, +0.5 %, +7.5 % for 2, 1.5 and 1 voxel: the normals of a
    one-voxel gap come from a 0.8-voxel smoothing, which its staircase tilts.
    """
    phases = np.full((40, 40, 40), 2, np.uint8)
    z, y, x = np.ogrid[:40, :40, :40]
    phases[np.broadcast_to(np.abs(z - 20 - 0.4 * (y - 20)) <= width / 2, phases.shape)] = 4
    areas = interface_areas(phases, spacing=1.0)
    mid = 40 ** 2 * np.hypot(1, 0.4)
    assert area_facing(areas, 4) == pytest.approx(2 * mid, rel=tolerance)


def test_chunks_do_not_change_areas():
    ph = composite_cathode((64, 64, 64), 0.5, seed=2)
    phases, particles = ph.phases.data.compute(), ph.labels["particles"].data.compute()
    whole = interface_areas(phases, spacing=0.5, labels=particles)
    cut = interface_areas(da.from_array(phases, chunks=(20, 33, 64)), spacing=0.5,
                          labels=da.from_array(particles, chunks=(17, 64, 30)))
    assert len(whole) == len(cut) > 20
    np.testing.assert_allclose(cut.area_um2, whole.area_um2, rtol=1e-9)
    assert (cut[["label", "facing"]].values == whole[["label", "facing"]].values).all()
    envelope = label_surface_areas(particles, spacing=0.5)
    envelope_cut = label_surface_areas(da.from_array(particles, chunks=(30, 21, 64)), spacing=0.5)
    np.testing.assert_allclose(envelope_cut.surface_area_um2, envelope.surface_area_um2, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cropped_gaussian_equals_scipy(dtype):
    """The smoothing behind every normal and envelope (cropped compiled passes,
    cached weights) gives scipy's ``gaussian_filter`` values on the region:
    bit for bit from float32, within float32 rounding from float64."""
    from scipy import ndimage

    from ssbimage._smoothing import gaussian_weights as _gaussian_weights
    from ssbimage._smoothing import smoothed as _smoothed

    field = np.random.default_rng(1).random((40, 41, 42)).astype(dtype)
    region = (slice(10, 30), slice(9, 31), slice(12, 42))
    for sigmas in [(0.8,) * 3, (1.6, 0.8, 0.8), (2.0,) * 3, (0.3, 3.3, 1.0)]:
        found = _smoothed(field, tuple(r.start for r in region), tuple(r.stop - r.start for r in region),
                          *[_gaussian_weights(s) for s in sigmas])
        expected = ndimage.gaussian_filter(field, sigmas, mode="nearest", truncate=4.0)[region]
        assert found.dtype == np.float32
        if dtype == np.float32:
            np.testing.assert_array_equal(found, expected)
        else:
            np.testing.assert_allclose(found, expected, rtol=3e-7, atol=0)  # three float32 roundings


def test_smoothed_indicator_equals_scipy_bit_for_bit():
    """The envelopes' compiled smoothing of one label's indicator gives scipy's
    ``gaussian_filter`` values exactly on the region, with the box's edges
    read as ``mode="nearest"``, for labels that touch the box's faces."""
    from scipy import ndimage

    from ssbimage.measure._envelopes import _smoothed_indicator
    from ssbimage._smoothing import gaussian_weights as _gaussian_weights

    labels = np.random.default_rng(2).integers(0, 3, (30, 31, 32)).astype(np.uint32)
    lo, hi = np.array([2, 3, 1]), np.array([28, 30, 32])
    region_lo, region_hi = np.array([4, 3, 6]), np.array([26, 27, 32])
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    region = tuple(slice(a - b, c - b) for a, b, c in zip(region_lo, lo, region_hi))
    for sigmas in [(0.8,) * 3, (1.6, 0.8, 0.8), (0.3, 2.2, 1.0)]:
        weights = [_gaussian_weights(s) for s in sigmas]
        found = _smoothed_indicator(labels, 1, lo, hi, region_lo, region_hi, *weights)
        expected = ndimage.gaussian_filter((labels[box] == 1).astype(np.float32), sigmas, mode="nearest",
                                           truncate=4.0)
        np.testing.assert_array_equal(found, expected[region])


@pytest.mark.parametrize("spacing", [0.5, (1.0, 0.5, 0.5)])
def test_envelopes_meshed_one_voxel_around_each_box_miss_no_cell(spacing, monkeypatch):
    """No cell more than one voxel outside a label's box is crossed by the
    0.5 level (module ``_envelopes``, INNER_PAD): meshing three voxels around
    each box gives the same areas, for thin, rough and touching labels."""
    from scipy import ndimage

    import ssbimage.measure._envelopes as envelopes

    rng = np.random.default_rng(4)
    blobs = ndimage.gaussian_filter(rng.random((40, 44, 48)), 1.2) > 0.52
    labels = ndimage.label(blobs)[0].astype(np.uint32)
    labels[20, 5:40, 10] = labels.max() + 1  # a one-voxel line
    assert labels.max() > 10
    tight = label_surface_areas(labels, spacing=spacing)
    monkeypatch.setattr(envelopes, "INNER_PAD", 3)
    loose = label_surface_areas(labels, spacing=spacing)
    np.testing.assert_array_equal(tight.to_numpy(), loose.to_numpy())


def test_envelopes_of_high_label_numbers_cost_only_the_labels_present():
    """Labels numbered from 10⁶ (a block of a 2048³ volume) give the same areas as from 1, and a
    block's result holds a row per label it meshes, not per label number below its highest
    (rows for every lower number would have held about 4 GiB at 2048³: docs/performance.md, item 41)."""
    from scipy import ndimage

    from ssbimage.measure._envelopes import _block_label_areas
    from ssbimage.measure._surfaces import _halo

    rng = np.random.default_rng(7)
    labels = ndimage.label(ndimage.gaussian_filter(rng.random((36, 40, 44)), 1.2) > 0.52)[0].astype(np.uint32)
    offset = 1_000_000
    high = np.where(labels > 0, labels + offset, 0).astype(np.uint32)
    low_areas = label_surface_areas(da.from_array(labels, chunks=18), spacing=0.5)
    high_areas = label_surface_areas(da.from_array(high, chunks=18), spacing=0.5)
    np.testing.assert_array_equal(high_areas.label.to_numpy(), low_areas.label.to_numpy() + offset)
    np.testing.assert_array_equal(high_areas.surface_area_um2.to_numpy(), low_areas.surface_area_um2.to_numpy())
    halo = _halo((0.8,) * 3)  # the block as the envelopes read it: its edge voxels repeated
    block = (halo, labels.shape, (True,) * 3, (0.8,) * 3, (0.5,) * 3, True)
    low_rows = _block_label_areas(np.pad(labels, [(h, h) for h in halo], mode="edge"), *block)
    rows = _block_label_areas(np.pad(high, [(h, h) for h in halo], mode="edge"), *block)
    np.testing.assert_array_equal(rows, low_rows + [offset, 0])
    assert rows.flags.owndata and rows.nbytes == 16 * len(rows)


@pytest.mark.parametrize("chunks, least, count", [
    ((10, 12, 11), None, 5 * 4 * 4), ((10, 12, 11), (20, 20, 20), 3 * 2 * 2), ((10, 12, 11), (25, 1, 44), 2 * 4 * 1),
    # a chunk thinner than the halo is widened from its neighbour's voxels
    (((20, 2, 28), 37, (40, 4)), None, 3 * 1 * 2)])
def test_haloed_blocks_are_the_edge_padded_volume_cut_out(chunks, least, count):
    import dask

    from ssbimage.measure._surfaces import _haloed_blocks

    volume = np.random.default_rng(0).integers(0, 2**31, (50, 37, 44))
    halo = (3, 4, 2)
    padded = np.pad(volume, [(h, h) for h in halo], mode="edge")
    covered = np.zeros(volume.shape, int)
    found = list(_haloed_blocks([da.from_array(volume, chunks=chunks)], halo, least))
    for blocks, core, at_start, at_end in found:
        block = dask.compute(blocks[0])[0]
        assert block.shape == tuple(c + 2 * h for c, h in zip(core, halo))
        # random values: the block matches the padded volume at one place only
        where = [s for s in zip(*np.nonzero(padded == block[0, 0, 0]))
                 if padded[tuple(slice(a, a + n) for a, n in zip(s, block.shape))].shape == block.shape
                 and np.array_equal(padded[tuple(slice(a, a + n) for a, n in zip(s, block.shape))], block)]
        assert len(where) == 1
        covered[tuple(slice(a, a + c) for a, c in zip(where[0], core))] += 1
        assert at_end == tuple(a + c == n for a, c, n in zip(where[0], core, volume.shape))
        assert at_start == tuple(a == 0 for a in where[0])
        if least is not None:
            assert all(c >= min(m, n - a) for c, m, n, a in zip(core, least, volume.shape, where[0]))
    assert (covered == 1).all()
    assert len(found) == count


@pytest.mark.parametrize("blocks", [4, 8, 16])
def test_batches_of_haloed_blocks_read_within_the_budget(blocks):
    from ssbimage.measure._surfaces import _batch_within

    shape = (blocks * 8,) * 3
    arrays = [da.zeros(shape, dtype=np.uint8, chunks=8), da.zeros(shape, dtype=np.uint32, chunks=8)]
    chunk_bytes = 5 * 8**3
    budget = 100 * chunk_bytes
    batch = _batch_within(arrays, budget, least=1, one_go=budget)
    order = list(np.ndindex(blocks, blocks, blocks))

    def read(start, size):  # the chunks a batch's haloed blocks touch
        return {tuple(int(np.clip(i + d - 1, 0, blocks - 1)) for i, d in zip(index, offset))
                for index in order[start:start + size] for offset in np.ndindex(3, 3, 3)}

    assert all(len(read(start, batch)) * chunk_bytes <= budget for start in range(0, len(order), batch))
    # and a larger batch would not fit somewhere (batches stop at one layer of chunks,
    # unless the whole volume is read in one go)
    assert batch in (blocks * blocks, blocks ** 3) or any(len(read(start, batch + 1)) * chunk_bytes > budget
                                           for start in range(0, len(order), batch + 1))
    # every block in one go where two layers of chunks fit in ``one_go``, and not where they do not
    layers = 2 * blocks * blocks * chunk_bytes
    assert _batch_within(arrays, budget, least=1, one_go=layers) == blocks ** 3
    by_budget = _batch_within(arrays, budget, least=1, one_go=0)
    assert _batch_within(arrays, budget, least=1, one_go=layers - 1) == by_budget
    assert blocks == 4 or by_budget < blocks ** 3
