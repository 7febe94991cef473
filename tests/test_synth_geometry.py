"""Ground-truth machinery of the phantoms against closed-form geometry."""

import numpy as np
import pytest
from scipy.special import elliprg

from ssbimage.synth._placement import _conflicts, pack_spheres, place_spheres
from ssbimage.synth._scene import ACTIVE, CRACK, VOID, Paint, Scene
from ssbimage.synth._shapes import CapShell, Ellipsoid, Sheet, random_rotation
from ssbimage.synth._truth import crack_midsurfaces, particle_surfaces
from ssbimage.synth._xct import hashed_normal

SHAPE, SPACING = (64, 64, 64), (0.5, 0.5, 0.5)
CENTRE = np.array([16.0, 16.0, 16.0])  # µm, middle of the box


def surfaces(paints, particle, step=0.25):
    return particle_surfaces(Scene(paints), [(1, particle)], SHAPE, SPACING, step).iloc[0]


def test_sphere_surface_and_cap_contact_match_closed_forms():
    sphere = Ellipsoid.sphere(CENTRE, 5.0)
    rng = np.random.default_rng(3)
    axis = rng.normal(size=3)
    shell = CapShell(sphere, 1.0, axis / np.linalg.norm(axis), 0.7)
    row = surfaces([Paint(sphere, ACTIVE, "particles", 1, rule="particle"),
                    Paint(shell, VOID, "voids", 1)], sphere)
    area = 4 * np.pi * 5.0**2
    assert row.surface_area_um2 == pytest.approx(area, rel=1e-9)
    cap = 2 * np.pi * 5.0**2 * (1 - np.cos(0.7))
    assert shell.cap_area == pytest.approx(cap)
    assert row.contact_area_um2 == pytest.approx(area - cap, rel=1e-3)
    assert row.void_interface_area_um2 == pytest.approx(cap, rel=1e-2)


def test_ellipsoid_surface_matches_carlson_formula():
    axes = np.array([6.0, 4.0, 2.5])
    shape = Ellipsoid(CENTRE, axes, random_rotation(np.random.default_rng(1)))
    exact = 4 * np.pi * np.prod(axes) * elliprg(*(1 / axes**2))
    row = surfaces([Paint(shape, ACTIVE, "particles", 1, rule="particle")], shape)
    assert row.surface_area_um2 == pytest.approx(exact, rel=1e-4)


def test_touching_particles_hide_no_more_than_their_contact():
    a, b = Ellipsoid.sphere(CENTRE, 4.0), Ellipsoid.sphere(CENTRE + [0, 0, 7.0], 4.0)  # overlap 1 µm
    scene = Scene([Paint(a, ACTIVE, "particles", 1, rule="particle"),
                   Paint(b, ACTIVE, "particles", 2, rule="particle")])
    rows = particle_surfaces(scene, [(1, a), (2, b)], SHAPE, SPACING, 0.2)
    # each sphere loses the cap inside the other: height h = 0.5 µm, area 2πrh
    expected = 4 * np.pi * 16 - 2 * np.pi * 4 * 0.5
    np.testing.assert_allclose(rows.surface_area_um2, expected, rtol=2e-3)


def test_box_cuts_the_surface_by_the_zone_formula():
    sphere = Ellipsoid.sphere([2.0, 16.0, 16.0], 5.0)  # crosses the z = -0.25 µm face
    row = surfaces([Paint(sphere, ACTIVE, "particles", 1, rule="particle")], sphere, step=0.1)
    height_inside = (2.0 + 5.0) - (-0.25)  # zone from the face to the top of the sphere
    assert row.surface_area_um2 == pytest.approx(2 * np.pi * 5.0 * height_inside, rel=2e-3)


@pytest.mark.parametrize("offset", [0.0, 2.0])
def test_through_crack_midsurface_is_the_sphere_cross_section(offset):
    r, normal = 6.0, np.array([0.0, 0.6, 0.8])
    sphere = Ellipsoid.sphere(CENTRE, r)
    crack = Sheet(CENTRE + offset * normal, normal, 0.5, 2 * r)
    scene = Scene([Paint(sphere, ACTIVE, "particles", 1, rule="particle"),
                   Paint(crack, CRACK, "cracks", 1, where=(ACTIVE,), host=1)])
    area = crack_midsurfaces(scene, [(1, crack)], SHAPE, SPACING, 0.1).midsurface_area_um2[0]
    assert area == pytest.approx(np.pi * (r**2 - offset**2), rel=5e-3)


def test_radial_crack_is_half_a_disc():
    r, normal = 6.0, np.array([1.0, 0.0, 0.0])
    sphere = Ellipsoid.sphere(CENTRE, r)
    crack = Sheet(CENTRE, normal, 0.5, 0.8 * r, half_plane=np.array([0.0, 1.0, 0.0]))
    scene = Scene([Paint(sphere, ACTIVE, "particles", 1, rule="particle"),
                   Paint(crack, CRACK, "cracks", 1, where=(ACTIVE,), host=1)])
    area = crack_midsurfaces(scene, [(1, crack)], SHAPE, SPACING, 0.1).midsurface_area_um2[0]
    assert area == pytest.approx(np.pi * (0.8 * r) ** 2 / 2, rel=5e-3)


@pytest.mark.parametrize("radius_voxels, tolerance", [(10, 0.02), (20, 0.01)])
def test_rasterised_sphere_volume(radius_voxels, tolerance):
    spacing = 0.5
    rng = np.random.default_rng(radius_voxels)
    centre = 32 * spacing + rng.uniform(-0.5, 0.5, 3) * spacing  # off the voxel grid
    sphere = Ellipsoid.sphere(centre, radius_voxels * spacing)
    fields = Scene([Paint(sphere, ACTIVE, "particles", 1, rule="particle")]).rasterize(
        (0, 0, 0), (64, 64, 64), (spacing,) * 3)
    volume = np.count_nonzero(fields["phases"] == ACTIVE) * spacing**3
    assert volume == pytest.approx(sphere.volume, rel=tolerance)


def test_rasterising_in_blocks_equals_one_block():
    rng = np.random.default_rng(0)
    paints = [Paint(Ellipsoid(rng.uniform(0, 16, 3), rng.uniform(1, 4, 3), random_rotation(rng)),
                    ACTIVE, "particles", k + 1, rule="particle") for k in range(30)]
    scene = Scene(paints)
    spacing = (0.4, 0.5, 0.5)
    whole = scene.rasterize((0, 0, 0), (40, 32, 32), spacing)
    for start, size in [((0, 0, 0), (13, 32, 32)), ((13, 7, 5), (27, 25, 27)), ((39, 31, 31), (1, 1, 1))]:
        part = scene.rasterize(start, size, spacing)
        index = tuple(slice(s, s + n) for s, n in zip(start, size))
        for name in ("phases", "particles"):
            np.testing.assert_array_equal(part[name], whole[name][index])


def test_classifying_points_agrees_with_rasterising():
    rng = np.random.default_rng(5)
    paints = [Paint(Ellipsoid.sphere(rng.uniform(2, 14, 3), rng.uniform(1, 3)), ACTIVE, "particles",
                    k + 1, rule="particle") for k in range(12)]
    paints.append(Paint(Sheet(np.full(3, 8.0), np.array([0.0, 0.0, 1.0]), 0.4, 6.0), CRACK,
                        "cracks", 1, where=(ACTIVE,)))
    scene = Scene(paints)
    grid = scene.rasterize((0, 0, 0), (32, 32, 32), (0.5,) * 3)
    points = np.stack(np.indices((32, 32, 32)), axis=-1).reshape(-1, 3) * 0.5
    found = scene.classify(points)
    np.testing.assert_array_equal(found["phases"], grid["phases"].ravel())
    np.testing.assert_array_equal(found["particles"], grid["particles"].ravel())


def test_packing_respects_the_overlap_rule_and_reaches_high_fractions():
    def draw(rng):
        return float(np.clip(rng.lognormal(np.log(3.0), 0.4), 1.5, 6.0))

    centres, radii = pack_spheres(7, draw, 0.62, [0, 0, 0], [40, 40, 40], max_overlap=0.1, tile=25.0)
    assert len(_conflicts(centres, radii, 2 * radii.max() + 1e-9, 0.1)[0]) == 0
    assert 4 / 3 * np.pi * np.sum(radii**3) / 40**3 > 0.55


def test_sequential_placement_keeps_clearance_from_obstacles():
    rng = np.random.default_rng(2)
    obstacles = (rng.uniform(0, 30, (40, 3)), rng.uniform(1, 4, 40))
    centres, radii = place_spheres(rng, rng.uniform(0.5, 1.5, 200), [0, 0, 0], [30, 30, 30],
                                   obstacles=obstacles, clearance=0.5)
    gaps = np.linalg.norm(centres[:, None] - obstacles[0][None], axis=2) - radii[:, None] - obstacles[1]
    assert len(radii) > 50 and gaps.min() >= 0.5 - 1e-9
    pair = np.linalg.norm(centres[:, None] - centres[None], axis=2) - radii[:, None] - radii[None]
    assert pair[~np.eye(len(radii), dtype=bool)].min() >= 0.5 - 1e-9


def test_hashed_noise_is_standard_normal_and_depends_only_on_index():
    index = np.arange(400_000, dtype=np.uint64)
    z = hashed_normal(index, seed=11)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(np.abs(z) > 1.96) - 0.05) < 0.003
    np.testing.assert_array_equal(hashed_normal(index[1000:1010], 11), z[1000:1010])
    assert not np.array_equal(hashed_normal(index[:10], 12), z[:10])
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.01
