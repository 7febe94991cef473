"""Atomic outputs: write under a hidden temporary name, then rename into place.

A reader (or a resumed batch job) therefore never sees a half-written result
at the final path: either the complete output is there or nothing is.
"""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputExistsError, SsbImageError


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def check_not_input(output: Path, source: str | os.PathLike | None) -> None:
    """Refuse to write an output over (or inside) the file it was read from."""
    if source is None:
        return
    out, src = Path(output).resolve(), Path(source).resolve()
    if out == src or src in out.parents or out in src.parents:
        raise SsbImageError(
            f"refusing to write over the input {src}; choose another output path", output
        )


@contextmanager
def atomic_output(final: str | os.PathLike, *, overwrite: bool = False):
    """Yield a temporary path beside ``final``; move it to ``final`` on success.

    On any exception the temporary output is deleted and ``final`` is left as
    it was. With ``overwrite=True`` an existing ``final`` is replaced only
    after the new output is complete.
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise OutputExistsError("already exists; pass overwrite=True to replace it", final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if final.exists() or final.is_symlink():
        trash = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, trash)
        os.replace(tmp, final)
        _remove(trash)
    else:
        os.replace(tmp, final)
