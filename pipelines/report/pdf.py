"""PDF of a scorecard page, printed by headless Chromium (Debian's `chromium` package).

The page is self-contained, so Chromium prints it from disk with networking switched off. Its
print styles lay it out on A4 with page numbers (style.css.j2). Links to the other pages are
relative, which means nothing on paper and would print as file:// addresses of the machine that
rendered them, so the printed copy has them removed (absolute http(s) links stay).
"""

from __future__ import annotations

import os
import re
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
    printed = html.with_name(f".{html.stem}.print.html")
    printed.write_text(without_relative_links(html.read_text(encoding="utf-8")), encoding="utf-8")
    try:
        done = _print(chromium, printed, partial, timeout)
    finally:
        printed.unlink(missing_ok=True)
    if done.returncode != 0 or not partial.exists() or partial.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not print {html.name} (exit {done.returncode}): {done.stderr[-800:]}")
    os.replace(partial, pdf)
    return pdf


RELATIVE_LINK = re.compile(r"""\s(?:xlink:)?href=(["'])(?!https?:|mailto:|#)[^"']*\1""")


def without_relative_links(text: str) -> str:
    """The page with every link to a relative address (another page, another week) unlinked."""
    return RELATIVE_LINK.sub("", text)


def _print(chromium: str, html: Path, partial: Path, timeout: int) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="esprit-chromium-") as profile:
        return subprocess.run(
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
