"""Tortuosity factor against exact results of the discrete diffusion problem."""

import numpy as np
import pytest

from ssbimage.measure import tortuosity_factor


def values(phases, **kwargs):
    return tortuosity_factor(phases, **kwargs).set_index("metric").value


def test_straight_channels_have_tau_one_with_any_spacing():
    phases = np.full((12, 8, 8), 2, np.uint8)
    phases[:, ::2, 1:5] = 1
    found = values(phases, spacing=(0.7, 0.5, 0.3))
    assert found["tortuosity_factor"] == pytest.approx(1.0, rel=1e-7)
    assert found["conducting_fraction"] == pytest.approx(16 / 64)
    assert found["percolating_fraction"] == 1.0


def test_a_bent_channel_matches_its_series_resistance():
    """One voxel wide: up 4, across 6, up to the top; resistance = links + two half voxels."""
    phases = np.full((10, 3, 9), 2, np.uint8)
    phases[0:5, 1, 1] = 1
    phases[4, 1, 1:8] = 1
    phases[4:10, 1, 7] = 1
    phases[2:4, 0, 4] = 1            # an isolated pocket: counted in ε, carries nothing
    voxels = np.count_nonzero(phases[:, 1] == 1)
    resistance = (voxels - 1) + 2 * 0.5
    relative = 10 / (resistance * 3 * 9)          # D_eff / D = L / (R A)
    found = values(phases)
    assert found["effective_diffusivity"] == pytest.approx(relative, rel=1e-7)
    epsilon = (voxels + 2) / phases.size
    assert found["tortuosity_factor"] == pytest.approx(epsilon / relative, rel=1e-7)
    assert found["percolating_fraction"] == pytest.approx(voxels / (voxels + 2))


def test_a_blocked_phase_has_infinite_tau_and_big_volumes_are_refused():
    phases = np.ones((8, 5, 5), np.uint8)
    phases[4] = 2                     # a dense layer across the path
    found = values(phases)
    assert np.isinf(found["tortuosity_factor"]) and found["effective_diffusivity"] == 0
    with pytest.raises(ValueError, match="max_voxels"):
        tortuosity_factor(phases, max_voxels=100)


def test_transport_axis_is_chosen():
    phases = np.full((6, 6, 10), 2, np.uint8)
    phases[2:4, 2:4, :] = 1            # channels along x only
    assert values(phases, axis=2)["tortuosity_factor"] == pytest.approx(1.0, rel=1e-7)
    assert np.isinf(values(phases, axis=0)["tortuosity_factor"])
