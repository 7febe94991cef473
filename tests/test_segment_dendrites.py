"""Dendrites on exact anode phase maps: every one found, exactly, and nothing else."""

import dask.array as da
import numpy as np
import pytest

from ssbimage.segment import segment_dendrites
from ssbimage.synth import anode_interface


@pytest.fixture(scope="module")
def anode():
    ph = anode_interface((80, 72, 72), 0.5, lithium_thickness=6.0, n_dendrites=4, n_pores=12,
                         n_interface_voids=4, seed=7)
    return ph, ph.phases.data.compute(), ph.labels["dendrites"].data.compute()


def test_every_dendrite_found_exactly_and_no_pore_or_void_taken(anode):
    ph, phases, truth = anode
    labels, table = segment_dendrites(da.from_array(phases, chunks=(30, 40, 72)), spacing=0.5)
    labels = labels.compute()
    expected = ph.objects.query("kind == 'dendrite' and voxels > 0")
    assert len(table) == len(expected) == ph.truth_value("dendrite_count")
    for _, dendrite in expected.iterrows():
        found = np.unique(labels[truth == dendrite.label])
        assert len(found) == 1 and found[0] > 0
        np.testing.assert_array_equal(labels == found[0], truth == dendrite.label)
        row = table.set_index("label").loc[found[0]]
        assert row.voxels == dendrite.voxels
        assert abs(row.penetration_um - dendrite.penetration_um) <= 0.5  # within one voxel
    assert not np.any(labels[ph.labels["voids"].data.compute() > 0])  # pores, stripping voids
    assert table.attrs["interface_um"] == pytest.approx(6.0 - 0.25)


def test_skeleton_length_and_branches_follow_the_truth(anode):
    ph, phases, _ = anode
    _, table = segment_dendrites(phases, spacing=0.5)
    true_length = ph.truth_value("dendrite_length")
    assert table.length_um.sum() == pytest.approx(true_length, rel=0.2)
    # a side branch shorter than the filament is thick leaves no skeleton branch
    true_branches = ph.truth_value("dendrite_branch_points")
    assert table.branch_points.sum() <= true_branches + 1
    assert table.branch_points.sum() >= 0.4 * true_branches


def test_chunking_does_not_change_dendrites(anode):
    _, phases, _ = anode
    whole, table = segment_dendrites(phases, spacing=0.5)
    parts, table2 = segment_dendrites(da.from_array(phases, chunks=(17, 29, 72)), spacing=0.5)
    np.testing.assert_array_equal(parts.compute(), whole.compute())
    assert table.equals(table2)


def test_needs_a_lithium_layer_at_the_bottom():
    phases = np.ones((10, 10, 10), np.uint8)
    with pytest.raises(ValueError, match="lithium layer"):
        segment_dendrites(phases, spacing=1.0)


def test_lithium_joined_to_the_layer_through_a_crack_is_a_dendrite():
    """Thin lithium at a crack's root reads as crack: the crack bridges, the filament counts."""
    phases = np.ones((30, 20, 20), np.uint8)
    phases[:5] = 5                      # Li layer, surface at z = 4
    phases[5:9, 10, 5:15] = 4           # electrolyte crack rising from the surface
    phases[9:20, 10, 9:12] = 5          # lithium filament above the crack's root
    phases[12:15, 3:6, 3:6] = 5         # an isolated lithium island: not a dendrite
    phases[22:25, 15, 5:15] = 4         # an isolated crack with lithium in it: not joined
    phases[22:25, 16, 8:10] = 5
    labels, table = segment_dendrites(da.from_array(phases, chunks=(7, 11, 20)), spacing=1.0)
    labels = labels.compute()
    assert len(table) == 1
    np.testing.assert_array_equal(labels > 0, (phases == 5) & (np.arange(30)[:, None, None] >= 9)
                                  & (np.arange(30)[:, None, None] < 20) & (np.arange(20)[None, :, None] == 10))
    assert table.voxels[0] == 11 * 3 and table.penetration_um[0] == pytest.approx(15.0)
    _, alone = segment_dendrites(phases, spacing=1.0, bridges=())
    assert len(alone) == 0


def test_lithium_in_scattered_bits_along_a_crack_is_measured():
    """Two single lithium voxels joined to the layer only through crack: one dendrite, two voxels long."""
    phases = np.ones((12, 8, 8), np.uint8)
    phases[:3] = 5                      # Li layer, surface at z = 2
    phases[3:10, 4, 2:6] = 4            # crack rising from the surface
    phases[6, 4, 2] = phases[9, 4, 5] = 5
    labels, table = segment_dendrites(phases, spacing=0.5)
    assert len(table) == 1 and table.voxels[0] == 2
    assert table.length_um[0] == pytest.approx(2 * 0.5)
    assert table.branch_points[0] == 0
