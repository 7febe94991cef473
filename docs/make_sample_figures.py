"""Regenerate the orthogonal-slice PNGs of the bundled sample phantoms.

Run from the repository root with the project venv::

    .venv/bin/python docs/make_sample_figures.py

Reads ``sample_volumes/{cathode,anode,cathode-series,sem-eds}`` (made by
``ssbimage sample``) and writes ``docs/samples/<name>.png``. Needs only
NumPy, Pillow, pandas, tifffile and ``ssbimage.io`` -- no matplotlib.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from PIL import Image, ImageDraw, ImageFont

from ssbimage.io import open_sem_eds, open_volume

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_volumes"
OUT = ROOT / "docs" / "samples"

# Phase codes (DESIGN.md): 0 outside, 1 SE, 2 AM, 3 void, 4 crack, 5 Li/dendrite.
PHASE_COLOURS = {
    1: ("solid electrolyte", (70, 130, 180)),  # steelblue
    2: ("active material", (255, 0, 0)),  # red
    3: ("void", (255, 215, 0)),  # gold
    4: ("crack", (50, 205, 50)),  # limegreen
    5: ("Li / dendrite", (218, 112, 214)),  # orchid
}
ALPHA = 0.45
SCALE = 3  # nearest-neighbour upscaling of 3D slices
GAP = 8  # pixels between panels
MARGIN = 10
BG = (255, 255, 255)
FG = (0, 0, 0)

# ---------------------------------------------------------------- text ----

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _font(size: int):
    """DejaVu Sans when installed (has µ, ³), else Pillow's bundled font."""
    try:
        return ImageFont.truetype(str(_DEJAVU), size), True
    except OSError:
        return ImageFont.load_default(size=size), False


FONT, UNICODE_OK = _font(13)
TITLE_FONT, _ = _font(15)


def t(text: str) -> str:
    """Make text safe for the bundled font, which lacks µ and superscripts."""
    if UNICODE_OK:
        return text
    for a, b in (("µ", "u"), ("³", "^3"), ("²", "^2"), ("⁻¹", "^-1"), ("—", "-"), ("×", "x")):
        text = text.replace(a, b)
    return text


def text_height(font) -> int:
    box = font.getbbox("Ag|µ")
    return box[3] - box[1] + 4


# ------------------------------------------------------------- imaging ----


def stretch(a: np.ndarray, lo: float = 0.5, hi: float = 99.5, ref: np.ndarray | None = None) -> np.ndarray:
    """Linear contrast stretch of ``a`` to uint8 between percentiles of ``ref``."""
    ref = a if ref is None else ref
    p0, p1 = np.percentile(ref, (lo, hi))
    if p1 <= p0:
        p1 = p0 + 1
    return (np.clip((a.astype(np.float64) - p0) / (p1 - p0), 0, 1) * 255).round().astype(np.uint8)


def grey_rgb(g8: np.ndarray) -> np.ndarray:
    return np.repeat(g8[..., None], 3, axis=-1)


def overlay(g8: np.ndarray, phases: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """Blend a phase colour map over a grey uint8 image (code 0 left grey)."""
    rgb = grey_rgb(g8).astype(np.float64)
    for code, (_, colour) in PHASE_COLOURS.items():
        m = phases == code
        rgb[m] = (1 - alpha) * rgb[m] + alpha * np.asarray(colour, np.float64)
    return rgb.round().astype(np.uint8)


def phase_rgb(phases: np.ndarray) -> np.ndarray:
    """Solid colour phase map (code 0 black)."""
    rgb = np.zeros(phases.shape + (3,), np.uint8)
    for code, (_, colour) in PHASE_COLOURS.items():
        rgb[phases == code] = colour
    return rgb


def tint(g8: np.ndarray, colour) -> np.ndarray:
    """Black-to-colour ramp for an element map."""
    return (g8[..., None].astype(np.float64) / 255 * np.asarray(colour, np.float64)).round().astype(np.uint8)


def upscale(rgb: np.ndarray, k: int) -> Image.Image:
    im = Image.fromarray(rgb)
    return im.resize((im.width * k, im.height * k), Image.NEAREST) if k != 1 else im


def block_mean(a: np.ndarray, k: int) -> np.ndarray:
    y, x = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    return a[:y, :x].astype(np.float64).reshape(y // k, k, x // k, k).mean(axis=(1, 3))


def block_phase(phases: np.ndarray, k: int) -> np.ndarray:
    """Downsample a phase map by ``k``: crack > void > AM > SE within each block."""
    y, x = (phases.shape[0] // k) * k, (phases.shape[1] // k) * k
    blocks = phases[:y, :x].reshape(y // k, k, x // k, k)
    out = np.zeros((y // k, x // k), phases.dtype)
    for code in (1, 2, 5, 3, 4):  # later codes overwrite earlier ones
        out[(blocks == code).any(axis=(1, 3))] = code
    return out


def slices(vol: np.ndarray, z: int, y: int, x: int) -> list[tuple[str, np.ndarray]]:
    """Orthogonal slices; the xz and yz ones are flipped so +z points up."""
    return [
        (f"xy  (z = {z})", vol[z]),
        (f"xz  (y = {y}, z up)", vol[:, y, :][::-1]),
        (f"yz  (x = {x}, z up)", vol[:, :, x][::-1]),
    ]


# -------------------------------------------------------------- layout ----


def scale_bar(im: Image.Image, um: float, px_per_um: float) -> None:
    """White bar with a black outline in the lower-left corner of a panel."""
    d = ImageDraw.Draw(im)
    length = int(round(um * px_per_um))
    x0, y1 = 8, im.height - 8
    d.rectangle([x0 - 1, y1 - 6, x0 + length + 1, y1 + 1], fill=FG)
    d.rectangle([x0, y1 - 5, x0 + length, y1], fill=(255, 255, 255))
    label = t(f"{um:g} µm")
    tw = d.textlength(label, font=FONT)
    lx, ly = x0 + (length - tw) / 2, y1 - 8 - text_height(FONT)
    d.rectangle([lx - 2, ly, lx + tw + 2, ly + text_height(FONT) - 1], fill=(255, 255, 255))
    d.text((lx, ly), label, font=FONT, fill=FG)


def grid(
    panels: list[list[tuple[str, Image.Image] | None]],
    title_lines: list[str],
    legend: list[tuple[str, tuple[int, int, int]]] | None = None,
) -> Image.Image:
    """Panels in rows, each with a caption above it, under a title and legend."""
    th, ch = text_height(TITLE_FONT), text_height(FONT)
    ncol = max(len(r) for r in panels)
    col_w = [max((r[c][1].width for r in panels if c < len(r) and r[c]), default=0) for c in range(ncol)]
    row_h = [max(p[1].height for p in r if p) for r in panels]
    cap_h = [ch * max(p[0].count("\n") + 1 for p in r if p) for r in panels]  # multi-line captions
    width = 2 * MARGIN + sum(col_w) + GAP * (ncol - 1)
    head = MARGIN + th * len(title_lines) + (ch + 4 if legend else 0) + 4
    height = head + sum(row_h) + sum(cap_h) + GAP * (len(panels) - 1) + MARGIN
    # widen for long titles
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    need = max(probe.textlength(t(s), font=TITLE_FONT) for s in title_lines) + 2 * MARGIN
    width = max(width, int(need) + 1)
    fig = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(fig)
    y = MARGIN
    for s in title_lines:
        d.text((MARGIN, y), t(s), font=TITLE_FONT, fill=FG)
        y += th
    if legend:
        x = MARGIN
        for name, colour in legend:
            d.rectangle([x, y + 2, x + 14, y + ch - 4], fill=colour, outline=FG)
            x += 18
            d.text((x, y), t(name), font=FONT, fill=FG)
            x += int(d.textlength(t(name), font=FONT)) + 16
        y += ch + 4
    y += 4
    for r, row in enumerate(panels):
        x = MARGIN
        for c in range(ncol):
            if c < len(row) and row[c]:
                caption, im = row[c]
                for i, line in enumerate(caption.split("\n")):
                    d.text((x, y + i * ch), t(line), font=FONT, fill=FG)
                fig.paste(im, (x, y + cap_h[r]))
            x += col_w[c] + GAP
        y += row_h[r] + cap_h[r] + GAP
    return fig


def save(fig: Image.Image, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    fig.save(path, optimize=True)
    if path.stat().st_size > 400_000:  # fall back to a 256-colour palette
        fig.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}  {fig.width}x{fig.height}  {path.stat().st_size / 1024:.0f} KiB")
    return path


# ------------------------------------------------------------- samples ----


def truth_value(csv: Path, metric: str) -> float:
    df = pd.read_csv(csv)
    return float(df.loc[df["metric"] == metric, "value"].iloc[0])


def fmt_metric(csv: Path, metric: str, digits: int = 3) -> str:
    df = pd.read_csv(csv)
    row = df.loc[df["metric"] == metric].iloc[0]
    unit = "" if row["unit"] == "1" else f" {row['unit']}"
    return f"{metric} = {row['value']:.{digits}g}{unit}"


def load(folder: Path):
    vol = open_volume(folder / "image.ome.zarr")
    phases = open_volume(folder / "image.ome.zarr" / "labels" / "phases").data.compute()
    return vol, vol.data.compute(), phases


def phase_legend(*arrays: np.ndarray) -> list[tuple[str, tuple[int, int, int]]]:
    present = set().union(*(np.unique(a).tolist() for a in arrays))
    return [(n, c) for code, (n, c) in PHASE_COLOURS.items() if code in present]


def volume_figure(
    name: str, metrics: list[str], centre: tuple[int, int, int] | None = None, note: str = ""
) -> Path:
    folder = SAMPLES / name
    vol, img, phases = load(folder)
    z, y, x = centre if centre is not None else tuple(s // 2 for s in img.shape)
    g8 = stretch(img)  # one 0.5–99.5 % stretch for the whole volume, so the three planes match
    grey = slices(g8, z, y, x)
    ph = slices(phases, z, y, x)
    row1 = [(cap, upscale(grey_rgb(s), SCALE)) for cap, s in grey]
    row2 = [(cap + " + phases", upscale(overlay(s, p), SCALE)) for (cap, s), (_, p) in zip(grey, ph)]
    scale_bar(row1[0][1], 10, SCALE / vol.spacing[2])
    dz, dy, dx = vol.spacing
    title = [
        f"{name}  —  {vol.name}, shape {' × '.join(map(str, img.shape))} (z, y, x), "
        f"spacing {dz:g} × {dy:g} × {dx:g} {vol.unit}, {img.dtype}",
        "truth: " + ";  ".join(fmt_metric(folder / "truth.csv", m) for m in metrics) + note,
    ]
    return save(grid([row1, row2], title, phase_legend(*(p for _, p in ph))), name)


def anode_figure() -> Path:
    folder = SAMPLES / "anode"
    dend = open_volume(folder / "image.ome.zarr" / "labels" / "dendrites").data.compute() > 0
    column = dend.sum(axis=0)  # dendrite voxels per (y, x) column
    y, x = np.unravel_index(np.argmax(column), column.shape)
    z = dend.shape[0] // 2
    note = f";  y/x slices through the column with most dendrite voxels ({column[y, x]})"
    return volume_figure("anode", ["dendrite_count", "dendrite_max_penetration"], (z, int(y), int(x)), note)


def series_figure() -> Path:
    folder = SAMPLES / "cathode-series"
    meta = json.loads((folder / "series.json").read_text())
    rows, legend_src, imgs = [], [], []
    for tp in meta["timepoints"]:
        vol, img, phases = load(folder / tp)
        z = img.shape[0] // 2
        imgs.append((tp, vol, img[z], phases[z], z))
    first = imgs[0][1]
    # one grey stretch for all timepoints, so brightness drift stays visible
    ref = np.concatenate([im.ravel() for _, _, im, _, _ in imgs])
    for (tp, _, sl, ph, z), cycle in zip(imgs, meta["cycles"]):
        g8 = stretch(sl, ref=ref)
        cf = truth_value(folder / tp / "truth.csv", "contact_fraction")
        rows.append([
            (f"{tp}: cycle {cycle},  xy (z = {z})\ncontact_fraction = {cf:.3f}", upscale(grey_rgb(g8), SCALE)),
            (f"{tp}: cycle {cycle}\n+ phases", upscale(overlay(g8, ph), SCALE)),
        ])
        legend_src.append(ph)
    scale_bar(rows[0][0][1], 10, SCALE / first.spacing[2])
    dz, dy, dx = first.spacing
    title = [
        f"cathode-series  —  {len(imgs)} timepoints, shape {' × '.join(map(str, first.shape))}, "
        f"spacing {dz:g} × {dy:g} × {dx:g} {first.unit}",
        "central xy slice per timepoint (grey stretched over all timepoints together)",
    ]
    return save(grid(rows, title, phase_legend(*legend_src)), "cathode-series")


ELEMENT_COLOURS = {
    "Ni": (80, 255, 80), "Co": (80, 160, 255), "Mn": (255, 120, 255), "O": (255, 80, 80),
    "S": (255, 230, 40), "P": (255, 150, 40), "Cl": (40, 230, 230),
}


def sem_eds_figure() -> Path:
    folder = SAMPLES / "sem-eds"
    maps = open_sem_eds(folder / "maps")
    phases = tifffile.imread(folder / "phases.tif")
    # 512² maps shown at 256²: 2×2 block mean for images and counts; for
    # phases the rarest code in each block wins, so thin cracks survive.
    k = 2
    wanted = [e for e in ("Ni", "Co", "Mn", "O", "S", "P", "Cl") if e in maps.channels][:8]
    ph = block_phase(phases, k)
    sem8 = stretch(block_mean(maps["SEM"], k)) if "SEM" in maps.channels else None
    panels = []
    if sem8 is not None:
        panels.append(("SEM (BSE-like)", Image.fromarray(grey_rgb(sem8))))
    for e in wanted:
        counts = stretch(block_mean(maps[e], k))
        colour = ELEMENT_COLOURS.get(e, (255, 255, 255))
        panels.append((f"{e} counts (max {maps[e].max()})", Image.fromarray(tint(counts, colour))))
    panels.append(("phase map", Image.fromarray(phase_rgb(ph))))
    if sem8 is not None:
        panels.append(("SEM + phases", Image.fromarray(overlay(sem8, ph))))
    scale_bar(panels[0][1], 5, 1 / (maps.spacing[1] * k))
    ncol = 3 if len(panels) <= 6 else (len(panels) + 1) // 2
    rows = [panels[i : i + ncol] for i in range(0, len(panels), ncol)]
    dy, dx = maps.spacing
    csv = folder / "truth.csv"
    title = [
        f"sem-eds  —  {phases.shape[0]} × {phases.shape[1]} px, {dy:g} × {dx:g} {maps.unit}/px "
        f"(shown 2× binned); element maps stretched 0.5–99.5 %",
        "truth: " + ";  ".join(
            fmt_metric(csv, m) for m in ("interdiffusion_width", "particle_count", "active_area_fraction")
        ),
    ]
    return save(grid(rows, title, phase_legend(ph)), "sem-eds")


FIGURES = {
    "cathode": lambda: volume_figure("cathode", ["contact_fraction", "crack_density", "void_fraction"]),
    "anode": anode_figure,
    "cathode-series": series_figure,
    "sem-eds": sem_eds_figure,
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "names", nargs="*", metavar="NAME", help=f"figures to make: {', '.join(FIGURES)} (default: all)"
    )
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in FIGURES]
    if unknown:
        ap.error(f"unknown figure(s) {unknown}; choose from {list(FIGURES)}")
    for name in args.names or FIGURES:
        FIGURES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
