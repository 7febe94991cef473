"""Random sequential placement of spheres in a box, batched with a k-d tree."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def place_spheres(rng, radii, low, high, *, obstacles=None, clearance=0.0, max_overlap=0.0,
                  tries=40, k=24):
    """Random sequential addition of spheres (largest first).

    Each new sphere keeps at least ``clearance`` µm between its surface and
    every obstacle (an optional (centres, radii) pair), and overlaps no other
    placed sphere by more than ``max_overlap`` times the smaller radius (with
    ``clearance`` between them when that is 0). Centres are drawn uniformly in
    ``[low, high]`` (µm); spheres that find no place within ``tries`` rounds
    are left out.

    Returns
    -------
    centres : (M, 3) ndarray, radii : (M,) ndarray
    """
    radii = np.sort(np.asarray(radii, float))[::-1]
    low, high = np.asarray(low, float), np.asarray(high, float)
    placed_c, placed_r = np.empty((0, 3)), np.empty(0)
    pending = radii
    obstacle_tree = None
    if obstacles is not None and len(obstacles[1]):
        obstacle_tree = (cKDTree(obstacles[0]), np.asarray(obstacles[1], float))
    for _ in range(tries):
        if not len(pending):
            break
        centres = rng.uniform(low, high, size=(len(pending), 3))
        ok = np.ones(len(pending), bool)
        if obstacle_tree is not None:
            ok &= _clear_of(centres, pending, *obstacle_tree, clearance, 0.0, k)
        if len(placed_r):
            ok[ok] = _clear_of(centres[ok], pending[ok], cKDTree(placed_c), placed_r, clearance,
                               max_overlap, k)
        alive = ok.copy()
        pairs = cKDTree(centres).query_pairs(2 * pending.max() + clearance, output_type="ndarray")
        for a, b in pairs:  # within this round, the first of a conflicting pair wins
            allowed = pending[a] + pending[b] + clearance - max_overlap * min(pending[a], pending[b])
            if alive[a] and alive[b] and np.linalg.norm(centres[a] - centres[b]) < allowed:
                alive[max(a, b)] = False
        placed_c = np.vstack([placed_c, centres[alive]])
        placed_r = np.concatenate([placed_r, pending[alive]])
        pending = pending[~alive]
    return placed_c, placed_r


def _clear_of(centres, radii, tree, other_r, clearance, max_overlap, k):
    """True where a sphere keeps ``clearance`` from all others, less the allowed
    overlap (exact: the k nearest are checked and the k-th is far enough that
    no further one can touch)."""
    k = min(k, len(other_r))
    if not len(centres):
        return np.ones(0, bool)
    distance, index = tree.query(centres, k=k)
    distance, index = distance.reshape(len(centres), k), index.reshape(len(centres), k)
    allowance = max_overlap * np.minimum(radii[:, None], other_r[index])
    ok = np.all(distance - other_r[index] >= radii[:, None] + clearance - allowance, axis=1)
    if k < len(other_r):
        ok &= distance[:, -1] >= radii + other_r.max() + clearance
    return ok


def relax_spheres(rng, radii, low, high, *, max_overlap=0.0, iterations=1500, fixed=None):
    """Dense packing: random centres pushed apart until no pair overlaps too much.

    Every pair that overlaps by more than ``max_overlap`` times the smaller
    radius is moved apart along its centre line, centres kept in ``[low,
    high]``; after ``iterations`` sweeps the smaller sphere of any pair still
    in conflict is dropped, so the result always satisfies the rule of
    :func:`place_spheres`. Reaches volume fractions around 0.6 where random
    sequential addition jams near 0.4. ``fixed`` is an optional
    (centres, radii) pair of already placed spheres that push but never move.

    Returns the new spheres only: centres (M, 3) and radii (M,).
    """
    radii = np.asarray(radii, float)
    low, high = np.asarray(low, float), np.asarray(high, float)
    order = np.argsort(-radii, kind="stable")
    radii = radii[order]
    centres = rng.uniform(low, high, size=(len(radii), 3))
    n_new = len(radii)
    if fixed is not None and len(fixed[1]):
        centres = np.vstack([centres, fixed[0]])
        radii = np.concatenate([radii, fixed[1]])
    movable = np.arange(len(radii)) < n_new
    reach = 2 * radii.max() if len(radii) else 0.0
    best, since_best = np.inf, 0
    for _ in range(iterations):
        i, j, gap = _conflicts(centres, radii, reach, max_overlap)
        if not len(i):
            break
        # a few jammed pairs may never resolve: stop once they stop improving
        best, since_best = (len(i), 0) if len(i) < best else (best, since_best + 1)
        if since_best > 50 and len(i) <= max(2, n_new // 100):
            break
        direction = centres[j] - centres[i]
        distance = np.linalg.norm(direction, axis=1)
        random = rng.normal(size=direction.shape)
        direction = np.where(distance[:, None] > 1e-9, direction, random)
        direction /= np.linalg.norm(direction, axis=1)[:, None]
        # each movable end takes half the gap, or all of it when the other is fixed
        share_i = np.where(movable[j], 0.5, 1.0) * movable[i]
        share_j = np.where(movable[i], 0.5, 1.0) * movable[j]
        amount = 1.3 * gap + 2e-6  # over-relaxation: about half the sweeps
        np.add.at(centres, i, -(share_i * amount)[:, None] * direction)
        np.add.at(centres, j, (share_j * amount)[:, None] * direction)
        centres[:n_new] = np.clip(centres[:n_new], low, high)
    keep = np.ones(len(radii), bool)
    i, j, _ = _conflicts(centres, radii, reach, max_overlap)
    for a, b in zip(i, j):  # drop a movable one of each pair still in conflict
        if keep[a] and keep[b]:
            drop = b if movable[b] and (radii[b] <= radii[a] or not movable[a]) else a
            keep[drop] = False
    keep &= movable
    return centres[keep], radii[keep]


def pack_spheres(seed, draw_radius, volume_fraction, low, high, *, max_overlap=0.0, tile=96.0):
    """Densely packed spheres filling about ``volume_fraction`` of the box.

    Large boxes are packed tile by tile (``tile`` µm per side, each tile with
    its own random stream, so the cost grows linearly with the volume); the
    spheres already placed in earlier tiles near a tile's border take part as
    fixed obstacles, so tile borders leave neither conflicts nor gaps.
    ``draw_radius(rng)`` returns one radius in µm.
    """
    low, high = np.asarray(low, float), np.asarray(high, float)
    counts = np.maximum(1, np.ceil((high - low) / tile).astype(int))
    edges = [np.linspace(lo, hi, n + 1) for lo, hi, n in zip(low, high, counts)]
    centres, radii = np.empty((0, 3)), np.empty(0)
    for index in np.ndindex(*counts):
        t_lo = np.array([edges[a][index[a]] for a in range(3)])
        t_hi = np.array([edges[a][index[a] + 1] for a in range(3)])
        rng = np.random.default_rng([seed, 1, *index])
        target = volume_fraction * float(np.prod(t_hi - t_lo))
        fixed = None
        if len(radii):
            margin = 2 * radii.max()
            near = np.all((centres >= t_lo - margin) & (centres <= t_hi + margin), axis=1)
            fixed = (centres[near], radii[near])
            # spheres of earlier tiles reaching into this one already fill part of it
            target -= _volume_inside(fixed[0], fixed[1], t_lo, t_hi)
        new_r = radii_for_volume(lambda: draw_radius(rng), target)
        if not new_r:
            continue
        c, r = relax_spheres(rng, new_r, t_lo, t_hi, max_overlap=max_overlap, fixed=fixed)
        centres, radii = np.vstack([centres, c]), np.concatenate([radii, r])
    return centres, radii


def radii_for_volume(draw, volume: float, *, dims: int = 3) -> list[float]:
    """Draw radii one by one until the spheres' (discs' if ``dims=2``) total reaches ``volume``."""
    factor = 4 / 3 * np.pi if dims == 3 else np.pi
    radii, total = [], 0.0
    while total < volume:
        radii.append(draw())
        total += factor * radii[-1] ** dims
    return radii


def _volume_inside(centres, radii, low, high) -> float:
    """Approximate volume of spheres inside a box (per-axis overlap of their extents)."""
    lo, hi = centres - radii[:, None], centres + radii[:, None]
    share = np.clip(np.minimum(hi, high) - np.maximum(lo, low), 0, None) / (hi - lo)
    return float(np.sum(4 / 3 * np.pi * radii**3 * np.prod(share, axis=1)))


def _conflicts(centres, radii, reach, max_overlap):
    pairs = cKDTree(centres).query_pairs(reach, output_type="ndarray")
    if not len(pairs):
        return np.empty(0, int), np.empty(0, int), np.empty(0)
    i, j = pairs[:, 0], pairs[:, 1]
    allowed = radii[i] + radii[j] - max_overlap * np.minimum(radii[i], radii[j])
    gap = allowed - np.linalg.norm(centres[j] - centres[i], axis=1)
    bad = gap > 0
    return i[bad], j[bad], gap[bad]
