"""Segmentation on a dask.distributed LocalCluster (worker processes) equals the threaded result."""

import dask
import dask.array as da
import numpy as np
import pytest

from ssbimage.segment import segment_dendrites, segment_particles, segment_voids
from ssbimage.synth import anode_interface, composite_cathode


def run_all(cathode_phases, anode_phases):
    particles, n_particles = segment_particles(cathode_phases, spacing=0.5, max_radius=6.0)
    voids, void_table = segment_voids(cathode_phases, spacing=0.5)
    dendrites, dendrite_table = segment_dendrites(anode_phases, spacing=0.5)
    return (particles.compute(), n_particles, voids.compute(), void_table,
            dendrites.compute(), dendrite_table)


def test_local_cluster_equals_threads():
    distributed = pytest.importorskip("distributed")
    cathode = da.from_array(composite_cathode((48, 48, 48), 0.5, radius_range=(2, 5), seed=4)
                            .phases.data.compute(), chunks=(24, 20, 48))
    anode = da.from_array(anode_interface((48, 48, 48), 0.5, lithium_thickness=5.0, seed=4)
                          .phases.data.compute(), chunks=(20, 24, 48))
    with dask.config.set(scheduler="threads"):
        threaded = run_all(cathode, anode)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        clustered = run_all(cathode, anode)
    assert threaded[1] > 5 and len(threaded[3]) > 0 and len(threaded[5]) > 0
    for a, b in zip(threaded, clustered):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        elif hasattr(a, "equals"):
            assert a.equals(b)
        else:
            assert a == b
