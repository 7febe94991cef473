"""The ``ssbimage`` command line: a thin shell over the library."""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from .errors import SsbImageError

__all__ = ["main"]


def _open(args):
    from .io import open_volume

    return open_volume(args.input, spacing=args.spacing, dataset=args.dataset, level=args.level)


def _format_volume(vol) -> str:
    spacing = " × ".join(f"{s:g}" for s in vol.spacing)
    size = " × ".join(f"{n:.4g}" for n in vol.physical_size)
    note = "" if vol.spacing_known else "  (unknown: pass --spacing DZ DY DX in µm)"
    lines = [
        f"volume    {vol.name}  ({vol.metadata.get('format', '?')})",
        f"source    {vol.source}",
        f"shape     {vol.shape} {vol.axes}   dtype {vol.dtype}   {vol.nbytes / 2**20:.1f} MiB",
        f"spacing   {spacing} {vol.unit}{note}",
        f"extent    {size} {vol.unit}",
        f"chunks    {vol.data.chunksize} × {vol.data.npartitions} chunks",
    ]
    return "\n".join(lines)


def cmd_info(args) -> int:
    from .measure import intensity_summary

    vol = _open(args)
    print(_format_volume(vol))
    start = time.perf_counter()
    s = intensity_summary(vol)
    pct = "  ".join(f"{k} {s[k]:.6g}" for k in s.index if k.startswith("p"))
    print(f"grey      min {s['min']:.6g}  max {s['max']:.6g}  mean {s['mean']:.6g}  "
          f"std {s['std']:.6g}")
    print(f"          {pct}   ({time.perf_counter() - start:.2f} s, chunk-wise)")
    if s["nan_count"]:
        print(f"          {int(s['nan_count'])} non-finite voxels left out")
    return 0


def cmd_convert(args) -> int:
    from .io import save_ome_zarr, save_tiff

    vol = _open(args)
    out = Path(args.output)
    fmt = args.format or ("tiff" if out.suffix.lower() in (".tif", ".tiff") else "ome-zarr")
    start = time.perf_counter()
    if fmt == "tiff":
        save_tiff(vol, out, overwrite=args.overwrite)
    else:
        save_ome_zarr(vol, out, overwrite=args.overwrite)
    print(f"wrote     {out}  ({fmt}, {time.perf_counter() - start:.2f} s)")
    return 0


SAMPLES = ("cathode", "anode", "full-cell", "cathode-series", "anode-series", "sem-eds")


def make_sample(name: str, size=None, seed: int = 0, spacing=None, timepoints: int = 4):
    """Build the phantom a ``ssbimage sample`` NAME stands for."""
    from . import synth

    if name == "sem-eds":
        size = size or (512, 512)
        shape = tuple(size) * 2 if len(size) == 1 else tuple(size[:2])
        return synth.sem_eds(shape, spacing or 0.05, seed=seed)
    size = size or ((96,) if name.endswith("series") else (128,))
    shape = tuple(size) * 3 if len(size) == 1 else tuple(size)
    if len(shape) != 3:
        raise SsbImageError(f"--size takes one value or three (z y x), got {size}")
    common = dict(shape=shape, spacing=spacing or 0.5, seed=seed)
    if name == "cathode":
        return synth.composite_cathode(**common)
    if name == "anode":
        return synth.anode_interface(**common)
    if name == "full-cell":
        depth = shape[0] * common["spacing"]
        return synth.anode_interface(**common, lithium_thickness=0.15 * depth,
                                     cathode_thickness=0.35 * depth)
    return synth.cycling_series(name.split("-")[0], timepoints, **common)


def cmd_sample(args) -> int:
    from .synth import save_phantom

    start = time.perf_counter()
    phantom = make_sample(args.name, args.size, args.seed, args.spacing, args.timepoints)
    out = save_phantom(phantom, args.out, format=args.format, overwrite=args.overwrite)
    print(f"wrote     {out}  ({args.name}, {args.format}, {time.perf_counter() - start:.1f} s)")
    truth = phantom.truth
    for _, row in truth.iterrows():
        where = f"t{int(row['timepoint'])} " if "timepoint" in truth else ""
        print(f"  {where}{row['metric']:<34} {row['value']:>12.6g} {row['unit']}")
    return 0


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="ssbimage",
        description="Segment and measure XCT volumes and SEM/EDS maps of solid-state batteries.",
    )
    parser.add_argument("--version", action="version", version=f"ssbimage {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_input(p):
        p.add_argument("input", help="TIFF stack, folder/glob of slices, (OME-)Zarr, HDF5 or .npy")
        p.add_argument("--spacing", type=float, nargs="+", metavar="µm",
                       help="voxel size in µm: one value (isotropic) or DZ DY DX")
        p.add_argument("--dataset", help="HDF5 dataset or Zarr array inside a group")
        p.add_argument("--level", type=int, default=0, help="pyramid level (0 = full resolution)")

    info = sub.add_parser("info", help="print shape, spacing, chunking and grey-value summary")
    add_input(info)
    info.set_defaults(run=cmd_info)

    convert = sub.add_parser("convert", help="write a volume as OME-Zarr (default) or OME-TIFF")
    add_input(convert)
    convert.add_argument("output", help="output path (*.ome.zarr or *.ome.tif)")
    convert.add_argument("--format", choices=["ome-zarr", "tiff"])
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output")
    convert.set_defaults(run=cmd_convert)
    sample = sub.add_parser("sample", help="write a synthetic phantom with its ground truth")
    sample.add_argument("name", choices=SAMPLES)
    sample.add_argument("--out", required=True, help="output folder")
    sample.add_argument("--size", type=int, nargs="+", help="voxels: N or Z Y X (pixels Y X for sem-eds)")
    sample.add_argument("--spacing", type=float, help="voxel (pixel) size in µm")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--timepoints", type=int, default=4, help="scans in a series")
    sample.add_argument("--format", choices=["ome-zarr", "tiff"], default="ome-zarr")
    sample.add_argument("--overwrite", action="store_true")
    sample.set_defaults(run=cmd_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    args = _parser().parse_args(argv)
    if isinstance(args.spacing, list) and len(args.spacing) == 1:
        args.spacing = args.spacing[0]
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda message, *_, **__: print(f"warning: {message}", file=sys.stderr)
        try:
            return args.run(args)
        except SsbImageError as exc:
            print(f"ssbimage: error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
