"""What Esprit shows people: file names as one line of text, progress bars on a terminal."""

from __future__ import annotations

import sys


def shown_name(name: str) -> str:
    """A file name as one line of plain text, for logs, tables and reports: line breaks, other
    control and format characters (a right-to-left override) and bytes that were not UTF-8
    (Python keeps them as lone surrogates) are written as escapes, the rest as it is."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in name)


def progress(
    total: int, desc: str, unit: str = "B", large: bool = True, file=None, enabled: bool | None = None, **tqdm_options
):
    """A tqdm progress bar for large work, shown only on a terminal (never in task logs) unless
    `enabled` says otherwise; a disabled bar stays silent."""
    from tqdm import tqdm

    file = file or sys.stderr
    if enabled is None:
        enabled = large and file.isatty()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        file=file,
        disable=not enabled,
        leave=False,
        dynamic_ncols=True,
        **tqdm_options,
    )
