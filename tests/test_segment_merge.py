"""The compiled region merge against the plain Python merge it replaced (dicts of pairs, a heap)."""

import heapq

import numpy as np
import pytest

from ssbimage.segment._merge import merge_regions


def _reference(ends, neck, shared, peaks, surfaces, neck_ratio, contact_share):
    peaks, surfaces = list(map(float, peaks)), list(map(float, surfaces))
    neighbours = {}
    for (a, b), n, s in zip(ends.tolist(), neck.tolist(), shared.tolist()):
        neighbours.setdefault(a, {})[b] = neighbours.setdefault(b, {})[a] = [n, s]

    def score(a, b):
        n, s = neighbours[a][b]
        by_neck, by_contact = n / min(peaks[a], peaks[b]), s / min(surfaces[a], surfaces[b])
        if by_neck < neck_ratio and by_contact < contact_share:
            return None
        return max(by_neck / neck_ratio, by_contact / contact_share)

    queue = [(-s, a, b) for a in neighbours for b in neighbours[a] if a < b
             for s in [score(a, b)] if s is not None]
    heapq.heapify(queue)
    parent = list(range(len(peaks)))
    while queue:
        negative, a, b = heapq.heappop(queue)
        if parent[a] != a or parent[b] != b or b not in neighbours[a]:
            continue
        current = score(a, b)
        if current is None:
            continue
        if current != -negative:
            heapq.heappush(queue, (-current, a, b))
            continue
        common = neighbours[a][b][1]
        parent[b] = a
        peaks[a] = max(peaks[a], peaks[b])
        surfaces[a] = surfaces[a] + surfaces[b] - 2 * common
        del neighbours[a][b], neighbours[b][a]
        for c, (n, s) in neighbours.pop(b).items():
            del neighbours[c][b]
            if c in neighbours[a]:
                pair = neighbours[a][c]
                pair[0], pair[1] = max(pair[0], n), pair[1] + s
            else:
                neighbours[a][c] = neighbours[c][a] = [n, s]
        for c in neighbours[a]:
            s = score(a, c)
            if s is not None:
                heapq.heappush(queue, (-s, min(a, c), max(a, c)))
    return np.array(parent)


def _roots(parent):
    while not np.array_equal(parent[parent], parent):
        parent = parent[parent]
    return parent


@pytest.mark.parametrize("seed", range(4))
def test_merges_as_the_python_reference(seed):
    rng = np.random.default_rng(seed)
    n = 400
    # regions on a 3-D grid touching their lattice neighbours, a few pairs missing
    side = round(n ** (1 / 3)) + 1
    coords = rng.permutation(side ** 3)[:n - 1]
    where = {int(c): i + 1 for i, c in enumerate(coords)}
    ends = sorted({(min(i, where[c + d]), max(i, where[c + d])) for c, i in where.items()
                   for d in (1, side, side * side) if c + d in where and rng.random() < 0.9})
    ends = np.array(ends)
    peaks = np.concatenate([[0], rng.uniform(2, 10, n - 1)])
    surfaces = np.concatenate([[0], rng.uniform(50, 400, n - 1)])
    neck = np.minimum(peaks[ends].min(axis=1), rng.uniform(0, 11, len(ends)))
    shared = rng.integers(1, 60, len(ends)).astype(float)
    found = merge_regions(ends, neck, shared, peaks, surfaces, neck_ratio=0.8, contact_share=0.2)
    expected = _reference(ends, neck, shared, peaks, surfaces, 0.8, 0.2)
    merged = np.count_nonzero(_roots(expected) != np.arange(n))
    assert 40 < merged < n - 40  # many merges, not all: the test sees the order
    np.testing.assert_array_equal(found, expected)


def test_no_pairs_merges_nothing():
    parent = merge_regions(np.empty((0, 2), int), [], [], [0, 3.0, 4.0], [0, 10.0, 12.0],
                           neck_ratio=0.9, contact_share=0.3)
    assert parent.tolist() == [0, 1, 2]
