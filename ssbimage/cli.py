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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    args = _parser().parse_args(argv)
    if args.spacing is not None and len(args.spacing) == 1:
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
