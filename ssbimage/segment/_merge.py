"""Merging watershed regions into particles on their region graph, compiled.

The regions of the distance watershed touch along necks; two touching
regions are one particle when the neck is nearly as high as the lower peak or
when they share a large part of their surface (:func:`ssbimage.segment.segment_particles`).
The merge runs once for the whole volume, most certain pair first, and
re-scores a merged region's pairs.

It was Python dicts of lists (one per region and pair): 54 MB and 2.1 s
at 512³ (52 822 regions, 137 005 pair rows), growing with the particle
count: about 3.5 GB at 2048³ (extrapolated), past the 3 GiB bound of a whole analysis.
Here the pairs are arrays and each region's pairs a linked list of slots
(one per pair end), in numba: the same merges in the same order.
"""

from __future__ import annotations

import heapq

import numba
import numpy as np

__all__ = ["merge_regions"]


@numba.njit(cache=True)
def _score(p, a, b, neck, shared, peaks, surfaces, neck_ratio, contact_share):  # pragma: no cover - compiled
    """How far pair ``p`` of regions a, b passes the nearer of its two tests (> 1 passes), or -1."""
    by_neck = neck[p] / min(peaks[a], peaks[b])
    by_contact = shared[p] / min(surfaces[a], surfaces[b])
    if by_neck < neck_ratio and by_contact < contact_share:
        return -1.0
    return max(by_neck / neck_ratio, by_contact / contact_share)


@numba.njit(cache=True)
def _find(a, b, head, following, ends, alive):  # pragma: no cover - compiled
    """The live pair between regions a and b, walking a's slots; -1 if none."""
    slot = head[a]
    while slot >= 0:
        p = slot >> 1
        if alive[p] and ends[p, 1 - (slot & 1)] == b:
            return p
        slot = following[slot]
    return -1


@numba.njit(cache=True)
def _merge(ends, neck, shared, peaks, surfaces, neck_ratio, contact_share):  # pragma: no cover - compiled
    n = peaks.size
    pairs = ends.shape[0]
    alive = np.ones(pairs, np.bool_)
    # slot 2p is pair p's end at ends[p, 0], 2p + 1 at ends[p, 1]; each
    # region lists the slots of its ends
    head = np.full(n, -1, np.int64)
    tail = np.full(n, -1, np.int64)
    following = np.full(2 * pairs, -1, np.int64)
    for slot in range(2 * pairs):
        region = ends[slot >> 1, slot & 1]
        if head[region] < 0:
            head[region] = slot
        else:
            following[tail[region]] = slot
        tail[region] = slot
    queue = [(0.0, 0, 0) for _ in range(0)]
    for p in range(pairs):
        a, b = ends[p, 0], ends[p, 1]
        s = _score(p, a, b, neck, shared, peaks, surfaces, neck_ratio, contact_share)
        if s >= 0:
            queue.append((-s, a, b))
    heapq.heapify(queue)
    parent = np.arange(n)
    while len(queue):
        negative, a, b = heapq.heappop(queue)
        if parent[a] != a or parent[b] != b:
            continue  # merged away since it was queued
        p = _find(a, b, head, following, ends, alive)
        if p < 0:
            continue
        current = _score(p, a, b, neck, shared, peaks, surfaces, neck_ratio, contact_share)
        if current < 0:
            continue
        if current != -negative:  # stale: re-queue with today's score
            heapq.heappush(queue, (-current, a, b))
            continue
        keep, gone = a, b  # a < b: the raster-first region names the set
        parent[gone] = keep
        peaks[keep] = max(peaks[a], peaks[b])
        surfaces[keep] = surfaces[a] + surfaces[b] - 2 * shared[p]
        alive[p] = False
        # the gone region's pairs become the kept one's, or add to a pair it has
        slot = head[gone]
        while slot >= 0:
            q = slot >> 1
            if alive[q]:
                c = ends[q, 1 - (slot & 1)]
                existing = _find(keep, c, head, following, ends, alive)
                if existing >= 0:
                    neck[existing] = max(neck[existing], neck[q])
                    shared[existing] += shared[q]
                    alive[q] = False
                else:
                    ends[q, slot & 1] = keep
            slot = following[slot]
        if head[gone] >= 0:
            if head[keep] < 0:
                head[keep] = head[gone]
            else:
                following[tail[keep]] = head[gone]
            tail[keep] = tail[gone]
            head[gone] = -1
        slot = head[keep]
        while slot >= 0:
            q = slot >> 1
            if alive[q]:
                c = ends[q, 1 - (slot & 1)]
                s = _score(q, keep, c, neck, shared, peaks, surfaces, neck_ratio, contact_share)
                if s >= 0:
                    heapq.heappush(queue, (-s, min(keep, c), max(keep, c)))
            slot = following[slot]
    return parent


def merge_regions(ends, neck, shared, peaks, surfaces, *, neck_ratio: float, contact_share: float) -> np.ndarray:
    """Merge touching regions that are one particle, most certain pair first; the parent of each region.

    Parameters
    ----------
    ends : (P, 2) array of int
        The two regions of each touching pair (a < b, each pair once).
    neck, shared : (P,) arrays of float
        Highest distance on the pair's common faces, and the number of those faces.
    peaks, surfaces : (N,) arrays of float
        Each region's highest distance and surface (voxel faces), indexed by region id.
    neck_ratio, contact_share : float
        A pair is one particle when its neck is at least ``neck_ratio`` of
        the lower peak, or its shared faces at least ``contact_share`` of the
        smaller surface. After each merge the merged region's peak, surface
        and pairs are updated and its pairs re-scored.

    Returns
    -------
    parent : (N,) ndarray of int64
        Each region's parent (itself if it is a root); chains lead to the
        set's lowest id.

    Examples
    --------
    >>> import numpy as np
    >>> ends = np.array([[1, 2], [2, 3]])
    >>> merge_regions(ends, np.array([9.5, 2.0]), np.array([5.0, 1.0]), np.array([0, 10.0, 10, 10]),
    ...               np.array([0, 100.0, 100, 100]), neck_ratio=0.9, contact_share=0.3).tolist()
    [0, 1, 1, 3]
    """
    ends = np.array(ends, np.int64).reshape(-1, 2)
    return _merge(ends, np.array(neck, np.float64), np.array(shared, np.float64),
                  np.array(peaks, np.float64), np.array(surfaces, np.float64),
                  float(neck_ratio), float(contact_share))
