"""Segmentation of volumes into phases and instances, chunk by chunk."""

from ._label import label

__all__ = ["label"]
