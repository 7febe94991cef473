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


def _config_from_args(args) -> dict | str | None:
    from .pipeline import ConfigError

    given = {k: v for k, v in (("sample", args.sample), ("classifier", args.classifier)) if v}
    if args.trust_classifier:
        given["trust_classifier"] = True
    if args.config:
        if given:
            raise ConfigError("give the settings either in --config or as options, not both", args.config)
        return args.config
    return {"sample": "cathode", **given}


def _summary(metrics, truth=None) -> str:
    table = metrics.set_index("metric")
    if truth is not None:
        table = table.join(truth.set_index("metric").value.rename("truth"), how="left")
    lines = [f"  {'metric':<34} {'value':>12}  {'unit':<5}" + ("  truth" if truth is not None else "")]
    for name, row in table.iterrows():
        line = f"  {name:<34} {row.value:>12.6g}  {row.unit:<5}"
        if truth is not None:
            line += f"  {row.truth:.6g}" if row.truth == row.truth else "  -"
        lines.append(line)
    return "\n".join(lines)


def cmd_analyze(args) -> int:
    import pandas as pd

    from .pipeline import analyze

    vol = _open(args)
    start = time.perf_counter()
    result = analyze(vol, config=_config_from_args(args))
    try:
        out = result.save(args.out, overwrite=args.overwrite)
    finally:
        result.close()
    truth = None
    if args.truth:
        try:
            truth = pd.read_csv(args.truth)
        except (OSError, ValueError) as error:
            raise SsbImageError(f"cannot read the truth table: {error}", args.truth) from None
    print(f"analysed  {vol.name}  ({result.provenance['config']['sample']}, "
          f"phases by {result.provenance['phases']['method']}, {time.perf_counter() - start:.1f} s)")
    print(_summary(result.metrics, truth))
    print(f"wrote     {out}/metrics.csv, particles.csv, labels.zarr, provenance.json")
    return 0


def cmd_train(args) -> int:
    from .io import open_volume
    from .segment import PixelClassifier

    vol = _open(args)
    annotations = open_volume(args.annotations, dataset=args.annotations_dataset).data
    if annotations.shape != vol.shape:
        raise SsbImageError(f"annotations are {annotations.shape}, the image {vol.shape}", args.annotations)
    if args.per_class:
        from .synth import simulate_annotations

        annotations = simulate_annotations(annotations.compute(), per_class=args.per_class)
    start = time.perf_counter()
    classifier = PixelClassifier(model=args.model).fit(vol.data, annotations)
    out = classifier.save(args.out)
    print(f"trained   {len(classifier.classes)} classes on {vol.name} with a {args.model} "
          f"({time.perf_counter() - start:.0f} s)")
    print(f"wrote     {out}  (a pickle: load it only with trust_classifier = true, and only if you trust it)")
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

    run = sub.add_parser("analyze", help="segment and measure a volume; write metrics, tables, labels")
    add_input(run)
    run.add_argument("--out", required=True, help="output folder (written atomically)")
    run.add_argument("--sample", choices=["cathode", "anode", "full-cell"], help="default cathode")
    run.add_argument("--config", help="TOML file of settings (docs/metrics.md)")
    run.add_argument("--classifier", help="a saved pixel classifier to segment the phases with")
    run.add_argument("--trust-classifier", action="store_true",
                     help="allow loading --classifier (a pickle, which can run code)")
    run.add_argument("--truth", help="a truth.csv (metric, value) to print beside the results")
    run.add_argument("--overwrite", action="store_true")
    run.set_defaults(run=cmd_analyze)

    train = sub.add_parser("train", help="train a pixel classifier from annotations")
    add_input(train)
    train.add_argument("--annotations", required=True,
                       help="label volume, 0 = not annotated (e.g. painted in napari)")
    train.add_argument("--annotations-dataset", help="the label array inside an OME-Zarr or HDF5 "
                       "(e.g. labels/phases)")
    train.add_argument("--per-class", type=int,
                       help="annotations are a dense label map: draw this many voxels per class")
    train.add_argument("--model", choices=("forest", "network"), default="forest",
                       help="random forests (default) or small neural networks, faster and better on "
                       "thin filaments such as dendrites (docs/segmentation.md)")
    train.add_argument("--out", required=True, help="the classifier file (joblib)")
    train.set_defaults(run=cmd_train)
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
