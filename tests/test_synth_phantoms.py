"""Phantoms: determinism, chunk invariance, self-consistent ground truth, image formation."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from ssbimage.synth import (XCTModel, anode_interface, composite_cathode, cycling_series,
                            sem_eds, simulate_annotations, simulate_dendrite_annotations)
from ssbimage.synth._scene import ACTIVE, CRACK, ELECTROLYTE, LITHIUM, OUTSIDE, VOID
from ssbimage.synth._xct import xct_image

SMALL = dict(shape=(48, 48, 48), spacing=0.5, radius_range=(2.0, 5.0), radius_median=3.0)


@pytest.fixture(scope="module")
def cathode():
    return composite_cathode(**SMALL, seed=4)


@pytest.fixture(scope="module")
def anode():
    return anode_interface((64, 56, 56), 0.5, lithium_thickness=6.0, n_dendrites=4,
                           n_pores=10, seed=4)


def arrays(phantom):
    out = {"image": phantom.image.data, "phases": phantom.phases.data}
    out.update({k: v.data for k, v in phantom.labels.items()})
    return {k: v.compute() for k, v in out.items()}


def test_same_seed_same_phantom_other_seed_another(cathode):
    again = composite_cathode(**SMALL, seed=4)
    a, b = arrays(cathode), arrays(again)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert cathode.truth.equals(again.truth)
    other = composite_cathode(**SMALL, seed=5)
    assert not np.array_equal(arrays(other)["phases"], a["phases"])


@pytest.mark.parametrize("make", [
    lambda chunks: composite_cathode((40, 44, 36), (0.6, 0.5, 0.5), radius_range=(2, 5),
                                     chunks=chunks, seed=9),
    lambda chunks: anode_interface((44, 40, 40), 0.5, lithium_thickness=5, n_dendrites=2,
                                   n_pores=4, chunks=chunks, seed=9),
], ids=["cathode", "anode"])
def test_chunkwise_generation_equals_in_memory(make):
    whole = arrays(make((44, 44, 40)))  # one chunk: the in-memory version
    for chunks in [(16, 16, 16), (13, 27, 7)]:
        parts = arrays(make(chunks))
        for name in whole:
            np.testing.assert_array_equal(parts[name], whole[name], err_msg=f"{name} {chunks}")


def test_cathode_truth_agrees_with_its_label_images(cathode):
    a = arrays(cathode)
    phases, particles, voids, cracks = a["phases"], a["particles"], a["voids"], a["cracks"]
    sample = np.count_nonzero(phases != OUTSIDE)
    assert cathode.truth_value("void_fraction") == np.count_nonzero(phases == VOID) / sample
    assert cathode.truth_value("active_material_volume_fraction") == \
        np.count_nonzero(phases == ACTIVE) / sample
    n_crack = np.count_nonzero(phases == CRACK)
    assert cathode.truth_value("crack_volume_fraction") == \
        n_crack / (n_crack + np.count_nonzero(phases == ACTIVE))
    assert cathode.truth_value("particle_count") == len(np.unique(particles)) - 1
    # labels agree with phases: particle envelopes are AM + cracks, cracks lie in particles
    np.testing.assert_array_equal(particles > 0, np.isin(phases, (ACTIVE, CRACK)))
    np.testing.assert_array_equal(voids > 0, phases == VOID)
    np.testing.assert_array_equal(cracks > 0, phases == CRACK)
    hosts = cathode.objects.query("kind == 'crack' and voxels > 0")
    for _, crack in hosts.iterrows():
        assert set(np.unique(particles[cracks == crack.label])) == {crack.host}
    cracked = cathode.truth_value("cracked_particle_fraction") * cathode.truth_value("particle_count")
    assert round(cracked) == len(set(np.unique(particles[cracks > 0])))


def test_interfacial_voids_touch_particles_and_pores_do_not(cathode):
    a = arrays(cathode)
    touching_am = ndimage.binary_dilation(a["phases"] == ACTIVE, np.ones((3, 3, 3)))
    objects = cathode.objects.set_index("label")
    for kind, should_touch in [("interfacial_void", True), ("pore", False)]:
        labels = objects[(objects.kind == kind) & (objects.voxels > 0)].index
        assert len(labels)
        for label in labels:
            where = a["voids"] == label
            on_face = any(np.take(where, [0, -1], axis=ax).any() for ax in range(3))
            if should_touch and on_face:
                continue  # its particle may lie outside the imaged box
            assert bool(touching_am[where].any()) == should_touch, (kind, label)


def test_particle_voxel_volumes_match_analytic_volumes():
    """Whole particles (no overlaps, no cracks): voxelised volume within discretisation error."""
    ph = composite_cathode((64, 64, 64), 0.5, radius_range=(3.0, 6.0), radius_median=4.0,
                           max_overlap=0.0, cracked_fraction=0.0, seed=8)
    table = ph.objects.query("kind == 'particle'")
    box_hi = 64 * 0.5 - 0.25
    centres = table[["centre_z", "centre_y", "centre_x"]].to_numpy()
    radius = table.radius_um.to_numpy()[:, None]
    inside = np.all((centres - radius > -0.25) & (centres + radius < box_hi), axis=1)
    whole = table[inside & table.sphere.astype(bool)]
    assert len(whole) >= 10
    errors = (whole.volume_um3 - whole.analytic_volume_um3) / whole.analytic_volume_um3
    # radius 6-12 voxels: a few % at most per particle, unbiased on average
    assert np.abs(errors).max() < 0.05
    assert abs(errors.mean()) < 0.01


def test_contact_is_complete_without_shells_pores_or_cracks():
    ph = composite_cathode(**SMALL, contact_loss=0.0, porosity=0.0, cracked_fraction=0.0, seed=2)
    assert ph.truth_value("contact_fraction") == pytest.approx(1.0, abs=1e-12)
    ph = composite_cathode(**SMALL, contact_loss=1.0, porosity=0.0, cracked_fraction=0.0, seed=2)
    assert ph.truth_value("contact_fraction") < 0.95
    assert ph.truth_value("crack_density") == 0


def test_active_fraction_reaches_its_target():
    for target in (0.3, 0.55):
        ph = composite_cathode((64, 64, 64), 0.5, radius_range=(2, 6), active_fraction=target,
                               cracked_fraction=0, seed=1)
        envelope = ph.truth_value("active_material_volume_fraction")
        assert envelope == pytest.approx(target, abs=0.04)


def test_anode_dendrites_are_connected_to_lithium_and_pores_are_not(anode):
    a = arrays(anode)
    phases, dendrites = a["phases"], a["dendrites"]
    lithium = (phases == LITHIUM)
    components, n = ndimage.label(lithium, np.ones((3, 3, 3)))
    slab = components[0].max()  # the bottom slice is all lithium metal
    assert np.all(components[dendrites > 0] == slab)  # every dendrite grows out of the slab
    assert anode.truth_value("dendrite_count") == len(np.unique(dendrites)) - 1 == 4
    # separate dendrites never touch each other
    grown = ndimage.grey_dilation(dendrites, size=(3, 3, 3))
    for label in range(1, 5):
        assert set(np.unique(grown[dendrites == label])) <= {0, label}
    # pores in the electrolyte are away from Li and dendrites
    pores = anode.objects.query("kind == 'pore' and voxels > 0").label
    near_li = ndimage.binary_dilation(lithium, np.ones((3, 3, 3)))
    assert len(pores) and not near_li[np.isin(a["voids"], pores)].any()


def test_dendrite_penetration_matches_voxels_within_one_voxel(anode):
    a = arrays(anode)
    z_voxels = np.nonzero(a["dendrites"])[0]
    z_li = anode.params["lithium_thickness"] - 0.25  # box starts at -0.5 voxel
    from_voxels = (z_voxels.max() + 0.5) * 0.5 - z_li  # top face of the highest voxel
    assert abs(anode.truth_value("dendrite_max_penetration") - from_voxels) <= 0.5
    assert anode.truth_value("dendrite_penetration_fraction") == pytest.approx(
        anode.truth_value("dendrite_max_penetration") / anode.truth_value("electrolyte_thickness"))


def test_dendrite_strokes_cover_the_filaments_and_their_outline(anode):
    a = arrays(anode)
    dendrites = a["dendrites"] > 0
    outline = (a["phases"] == ELECTROLYTE) & ndimage.binary_dilation(dendrites, np.ones((3, 3, 3)))
    plain = simulate_annotations(a["phases"], per_class=2000)
    marks = simulate_dendrite_annotations(anode, per_class=2000, on_dendrites=600, outline=300)
    assert np.all(marks[marks > 0] == a["phases"][marks > 0])  # every stroke on its own phase
    assert np.count_nonzero((marks == LITHIUM) & dendrites) == min(600, np.count_nonzero(dendrites))
    assert np.count_nonzero(marks == LITHIUM) == 2000
    # the electrolyte strokes moved to the outline: as many as asked (plus any already there)
    on_outline = np.count_nonzero((marks == ELECTROLYTE) & outline)
    assert 300 <= on_outline <= 300 + np.count_nonzero((plain == ELECTROLYTE) & outline)
    assert np.count_nonzero(marks == ELECTROLYTE) <= 2000
    # the other phases keep simulate_annotations' strokes
    for phase in (VOID, CRACK):
        np.testing.assert_array_equal(marks == phase, plain == phase)


def test_full_cell_has_all_three_layers():
    ph = anode_interface((64, 48, 48), 0.5, lithium_thickness=5, cathode_thickness=12,
                         n_dendrites=2, n_pores=3, seed=3)
    phases = ph.phases.data.compute()
    assert (phases[0] == LITHIUM).all()
    assert np.count_nonzero(phases[-10:] == ACTIVE) > 0 and np.count_nonzero(phases[:20] == ACTIVE) == 0
    assert ph.truth_value("particle_count") > 0 and ph.truth_value("contact_fraction") == \
        pytest.approx(1.0)


def slab_phases(first, second, shape=(32, 64, 64)):
    phases = np.full(shape, first, np.uint8)
    phases[:, :, shape[2] // 2:] = second
    return da.from_array(phases, chunks=16)


def test_xct_contrast_to_noise_ratio_is_as_set():
    model = XCTModel(cnr=6.0, ring_amplitude=0, cupping=0, blur_sigma=1.0, seed=1)
    image = xct_image(slab_phases(ELECTROLYTE, VOID), model).compute().astype(float)
    se, void = image[:, :, 4:24], image[:, :, 40:60]  # far from the interface
    cnr = (se.mean() - void.mean()) / se.std()
    assert cnr == pytest.approx(6.0, rel=0.03)
    assert se.mean() == pytest.approx(model.grey(ELECTROLYTE), rel=1e-3)
    assert void.std() < se.std()  # photon noise grows with the signal


def test_xct_attenuation_order_and_switches():
    model = XCTModel(cnr=None, blur_sigma=0, ring_amplitude=0, cupping=0)
    phases = np.array([[[VOID, LITHIUM, ELECTROLYTE, ACTIVE]]], np.uint8)
    grey = xct_image(da.from_array(phases), model).compute()[0, 0]
    assert list(grey) == sorted(grey) and len(set(grey)) == 4  # void < Li < SE < AM
    oxide = XCTModel(attenuation={**model.attenuation, ELECTROLYTE: 0.65}, cnr=None,
                     blur_sigma=0, ring_amplitude=0, cupping=0)
    assert oxide.grey(ELECTROLYTE) > model.grey(ELECTROLYTE)


def test_rings_are_concentric_and_cupping_darkens_the_centre():
    uniform = da.from_array(np.full((4, 65, 65), ELECTROLYTE, np.uint8), chunks=(4, 20, 20))
    base = dict(cnr=None, blur_sigma=0)
    rings = xct_image(uniform, XCTModel(ring_amplitude=0.3, cupping=0, **base)).compute()[0]
    yy, xx = np.indices(rings.shape)
    radius = np.rint(np.hypot(yy - 32, xx - 32)).astype(int)
    assert rings.std() > 0
    same_radius = [rings[(radius == r)] for r in range(5, 30)]
    assert max(v.std() for v in same_radius) < 0.2 * rings.std() * 3  # varies with radius only
    cupped = xct_image(uniform, XCTModel(ring_amplitude=0, cupping=0.1, **base)).compute()[0]
    assert cupped[32, 32] < cupped[0, 0] and cupped[32, 32] < cupped[32, 0]


def test_series_degrades_monotonically_with_shifts_and_drift():
    series = cycling_series("cathode", 4, shape=(48, 48, 48), radius_range=(2, 5), seed=3)
    assert series.cycles == (0, 33, 67, 100)
    contact = series.trend("contact_fraction")
    assert contact[0] == pytest.approx(1.0) and np.all(np.diff(contact) < 0)
    for metric in ("crack_volume_fraction", "crack_density", "void_fraction"):
        assert np.all(np.diff(series.trend(metric)) > 0), metric
    shifts_voxels = series.shifts / 0.5
    assert np.all(shifts_voxels[0] == 0) and np.abs(shifts_voxels).max() <= 3
    assert np.any(np.abs(shifts_voxels[1:] - np.rint(shifts_voxels[1:])) > 0.1)  # sub-voxel parts
    assert series.gains[0] == 1 and len(set(np.round(series.gains, 6))) == 4
    truth = series.truth
    assert set(truth.timepoint) == {0, 1, 2, 3} and set(truth.cycle) == {0, 33, 67, 100}
    assert series.image.shape == (4, 48, 48, 48) and series.image.axes == "tzyx"


def test_series_scans_are_the_same_cell_moved_by_their_shift():
    series = cycling_series("cathode", 2, shape=(48, 48, 48), radius_range=(2, 5), radius_median=3.0, max_shift=3,
                            drift=0, seed=6)
    last = series[1].phases.data.compute()
    shift = np.rint(series.shifts[1] / 0.5).astype(int)
    unshifted = composite_cathode(**SMALL, degradation=1.0, seed=6).phases.data.compute()
    moved = np.roll(unshifted, shift, axis=(0, 1, 2))
    core = tuple(slice(4, -4) for _ in range(3))
    agreement = np.mean(moved[core] == last[core])
    assert agreement > 0.9  # the sub-voxel part of the shift changes only boundary voxels


def test_anode_series_dendrites_advance():
    series = cycling_series("anode", 3, shape=(48, 40, 40), lithium_thickness=4, n_dendrites=2,
                            n_pores=3, seed=2)
    penetration = series.trend("dendrite_max_penetration")
    volume = series.trend("dendrite_volume")
    assert np.all(np.diff(penetration) > 0) and np.all(np.diff(volume) > 0)


def test_sem_eds_counts_and_interdiffusion_width():
    ph = sem_eds((256, 256), 0.05, interdiffusion_width=0.5, cracked_fraction=0, seed=3)
    phases = ph.phases
    deep_am = ndimage.distance_transform_edt(phases == ACTIVE) * 0.05 > 1.5
    deep_se = ndimage.distance_transform_edt(phases == ELECTROLYTE) * 0.05 > 1.5
    for element, mean in [("Ni", 30.0), ("O", 40.0)]:
        assert ph.maps[element][deep_am].mean() == pytest.approx(mean, abs=4 * np.sqrt(mean / deep_am.sum()))
    assert ph.maps["S"][deep_se].mean() == pytest.approx(45.0, rel=0.02)
    assert ph.maps["Ni"][deep_se].max() == 0
    # 10-90 % width of the noise-free profile against the distance to the boundary
    outside = ndimage.distance_transform_edt(phases != ACTIVE) * 0.05
    inside = ndimage.distance_transform_edt(phases == ACTIVE) * 0.05
    signed = np.where(phases == ACTIVE, -inside, outside).ravel()
    share = ph.cathode_fraction.ravel()
    bins = np.arange(-1.0, 1.0, 0.05)
    filled = [(b + 0.025, share[(signed >= b) & (signed < b + 0.05)].mean()) for b in bins
              if np.any((signed >= b) & (signed < b + 0.05))]
    centres, profile = np.array(filled).T
    d90 = np.interp(0.9, profile[::-1], centres[::-1])
    d10 = np.interp(0.1, profile[::-1], centres[::-1])
    assert d10 - d90 == pytest.approx(ph.truth_value("interdiffusion_width"), abs=0.06)
    assert set(ph.maps.elements) == {"Ni", "Co", "Mn", "O", "P", "S", "Cl"}
    assert ph.maps.sem[deep_am].mean() > ph.maps.sem[deep_se].mean()
