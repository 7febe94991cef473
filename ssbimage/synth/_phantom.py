"""`Phantom`: an XCT-like image with its exact ground truth, generated chunk by chunk."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import dask.array as da
import numpy as np
import pandas as pd

from ..volume import Volume
from ._scene import LABEL_KINDS, Scene
from ._xct import XCTModel, scene_image

__all__ = ["Phantom", "render_scene"]


def render_scene(scene: Scene, shape, spacing, chunks) -> dict[str, da.Array]:
    """Lazy phase map and label images of a scene; each chunk rasterised once, on its own."""
    kinds = ("phases",) + LABEL_KINDS
    template = da.empty(shape, chunks=chunks, dtype=np.uint8)

    def render(_, block_info=None):
        loc = block_info[0]["array-location"]
        fields = scene.rasterize([a for a, _ in loc], [b - a for a, b in loc], spacing)
        return np.stack([fields[k].astype(np.uint32, copy=False) for k in kinds])

    stack = template.map_blocks(
        render, dtype=np.uint32, new_axis=0, chunks=((len(kinds),),) + template.chunks,
        name=f"synth-scene-{uuid.uuid4().hex}",
    )
    out = {k: stack[i] for i, k in enumerate(kinds)}
    out["phases"] = out["phases"].astype(np.uint8)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class Phantom:
    """A synthetic XCT volume with exact ground truth.

    Attributes
    ----------
    image : Volume
        uint16 XCT-like tomogram (lazy).
    phases : Volume
        uint8 phase map, DESIGN.md codes (0 outside, 1 SE, 2 AM, 3 void,
        4 crack, 5 Li metal / dendrite).
    labels : dict of str to Volume
        uint32 instance labels: ``particles`` (particle envelopes: active
        material plus the particle's own cracks), ``voids``, ``cracks``,
        ``dendrites``; 0 = none.
    truth : pandas.DataFrame
        Ground-truth metrics, columns ``metric, value, unit, source`` with
        ``source`` either ``"analytic"`` (continuous geometry) or ``"voxels"``
        (exact label images).
    objects : pandas.DataFrame
        One row per generated object (particles, voids, cracks, dendrites).
    scene : Scene
        The primitives the phantom is rasterised from.
    xct : XCTModel
        The image-formation settings.
    params : dict
        The generator's arguments.
    """

    image: Volume
    phases: Volume
    labels: Mapping[str, Volume]
    scene: Scene
    xct: XCTModel
    params: Mapping[str, Any]
    truth_function: Any = dataclasses.field(repr=False, default=None)

    @cached_property
    def _truth(self):
        return self.truth_function(self)

    @property
    def truth(self) -> pd.DataFrame:
        return self._truth[0]

    @property
    def objects(self) -> pd.DataFrame:
        return self._truth[1]

    def truth_value(self, metric: str) -> float:
        """One ground-truth metric's value."""
        rows = self.truth[self.truth["metric"] == metric]
        if rows.empty:
            raise KeyError(f"no ground-truth metric {metric!r}; have {list(self.truth['metric'])}")
        return float(rows["value"].iloc[0])

    @property
    def spacing(self):
        return self.image.spacing

    @property
    def shape(self):
        return self.image.shape


def make_phantom(scene: Scene, shape, spacing, chunks, xct: XCTModel, params, truth_function,
                 name: str) -> Phantom:
    """Assemble a Phantom from a scene: lazy label images, lazy image, lazy truth."""
    spacing = tuple(float(s) for s in spacing)
    arrays = render_scene(scene, shape, spacing, chunks)
    image = scene_image(scene, shape, spacing, arrays["phases"].chunks, xct)
    wrap = lambda data, n: Volume(data, spacing, "µm", n, metadata={"phantom": name})  # noqa: E731
    return Phantom(
        image=wrap(image, name),
        phases=wrap(arrays["phases"], f"{name}-phases"),
        labels={k: wrap(arrays[k], f"{name}-{k}") for k in LABEL_KINDS},
        scene=scene, xct=xct, params=dict(params), truth_function=truth_function,
    )
