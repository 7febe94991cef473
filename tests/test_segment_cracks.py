"""Crack instances on exact cathode phase maps, each in its own host particle."""

import dask.array as da
import numpy as np
import pytest

from ssbimage.segment import segment_cracks
from ssbimage.synth import composite_cathode


@pytest.fixture(scope="module")
def cathode():
    ph = composite_cathode((64, 64, 64), 0.5, seed=3)
    return (ph, ph.phases.data.compute(), ph.labels["particles"].data.compute(),
            ph.labels["cracks"].data.compute())


def test_every_true_crack_lies_in_one_found_crack_with_the_right_host(cathode):
    ph, phases, particles, truth = cathode
    labels, table = segment_cracks(da.from_array(phases, chunks=(20, 33, 64)), particles, spacing=0.5)
    labels = labels.compute()
    table = table.set_index("label")
    expected = ph.objects.query("kind == 'crack' and voxels > 0")
    assert len(expected) >= 10
    for _, crack in expected.iterrows():
        found = np.unique(labels[truth == crack.label])
        assert len(found) == 1 and found[0] > 0
        assert table.loc[found[0]].host == crack.host
    # cracks of one particle may cross and merge, never cracks of two particles
    assert len(table) <= len(expected)
    for label, row in table.iterrows():
        assert set(np.unique(particles[labels == label])) == {row.host}
    assert table.voxels.sum() == np.count_nonzero(phases == 4)
    assert table.volume.sum() == pytest.approx(np.count_nonzero(phases == 4) * 0.125)


def test_cracks_do_not_depend_on_chunks(cathode):
    _, phases, particles, _ = cathode
    whole, table = segment_cracks(phases, particles)
    parts, table2 = segment_cracks(da.from_array(phases, chunks=(9, 64, 31)), particles)
    np.testing.assert_array_equal(parts.compute(), whole.compute())
    assert table.equals(table2)
