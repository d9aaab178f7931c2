"""PDF of a scorecard page, printed by headless Chromium (Debian's `chromium` package).

The page is self-contained, so Chromium prints it from disk with networking switched off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Without these, Chromium reaches for Google's hosts at start-up; a closed network refuses them.
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--mute-audio",
)


def find_chromium() -> str | None:
    explicit = os.environ.get("ESPRIT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html: Path, pdf: Path, chromium: str | None = None, timeout: int = 120) -> Path:
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError(
            "no Chromium to print the PDF with: install Debian's 'chromium' package "
            "or set ESPRIT_CHROMIUM, or set scorecard.pdf: false"
        )
    partial = pdf.with_name(f".{pdf.name}.partial")
    with tempfile.TemporaryDirectory(prefix="esprit-chromium-") as profile:
        done = subprocess.run(
            [
                chromium,
                *QUIET_FLAGS,
                f"--user-data-dir={profile}",
                "--no-pdf-header-footer",
                f"--print-to-pdf={partial}",
                html.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if done.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not print {html.name} (exit {done.returncode}): {done.stderr[-800:]}")
    os.replace(partial, pdf)
    return pdf
