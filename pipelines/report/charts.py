"""Scorecard charts, drawn with matplotlib and returned as inline SVG markup.

SVG keeps the page self-contained (no image files, no request to any host), scales for print
and PDF, and lets the heatmap's cells link to the investigation pages. Output is deterministic
(fixed hash salt, no date), so a page re-rendered from the same figures is byte-identical.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display; never pick an interactive backend on a worker

from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text: smaller, selectable, translated labels readable
        "svg.hashsalt": "esprit",  # stable element ids
        "font.family": "sans-serif",
        "font.size": 8,
    }
)

INK, MUTED = "#1d2430", "#8a94a6"
DOT_AREA = 140  # points², the dot of the pair with the most failed handoffs
FAILURE_COLOURS = LinearSegmentedColormap.from_list("failure", ["#e8f5e9", "#fff4d6", "#f6b6a8", "#b42318"])


def _svg(fig: Figure, title: str) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML
    # an accessible name for the chart; the title is plain text, escaped here
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"<svg ", f'<svg role="img" aria-label="{escaped}" ', text, count=1)


def _plain(label: str, width: int = 24) -> str:
    """Data-derived text shown literally ('$' would start matplotlib mathtext) and short enough
    to fit beside the chart; tables beside each chart give the full names."""
    text = str(label)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("$", r"\$")


def sparkline(
    values: Sequence[float | None],
    title: str,
    target: float | None = None,
    first: str = "",
    last: str = "",
) -> str:
    """A trend line over the last trend_weeks weeks; gaps where a week had no data; the last point
    marked; the target as a dashed line; the first and last week named under the line."""
    fig = Figure(figsize=(1.6, 0.5), dpi=100)
    ax = fig.add_axes((0.02, 0.26, 0.96, 0.7))
    ax.set_axis_off()
    xs = list(range(len(values)))
    ys = [math.nan if v is None else float(v) for v in values]
    if target is not None:
        ax.axhline(float(target), color=MUTED, linewidth=0.8, linestyle=(0, (3, 2)))
    ax.plot(xs, ys, color=INK, linewidth=1.1)
    known = [(x, y) for x, y in zip(xs, ys) if not math.isnan(y)]
    if known:
        x_last, y_last = known[-1]
        ax.plot([x_last], [y_last], "o", markersize=2.8, color=INK)
    ax.set_xlim(-0.5, max(len(values) - 0.5, 0.5))
    for text, x, align in ((first, 0.02, "left"), (last, 0.98, "right")):
        if text:
            fig.text(x, 0.02, _plain(text), ha=align, va="bottom", fontsize=6, color=MUTED)
    return _svg(fig, title)


def trend_lines(weeks: Sequence[str], series: dict[str, Sequence[float | None]], title: str, ylabel: str) -> str:
    """Several series over the same weeks (the friction index of each stage)."""
    fig = Figure(figsize=(6.4, 2.2), dpi=100)
    ax = fig.add_axes((0.08, 0.2, 0.7, 0.72))
    for label, values in series.items():
        ax.plot(
            range(len(weeks)),
            [math.nan if v is None else v for v in values],
            marker="o",
            markersize=2.5,
            linewidth=1.2,
            label=_plain(label),
        )
    ax.set_xticks(range(len(weeks)), [w[-3:] for w in weeks])
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e8ed", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _svg(fig, title)


def handoff_heatmap(
    teams_from: Sequence[str],
    teams_to: Sequence[str],
    cells: dict[tuple[str, str], tuple[int, int, str | None]],
    title: str,
    xlabel: str,
    ylabel: str,
    empty: str,
    names: dict[str, str] | None = None,
    percent=lambda share: f"{100 * share:.0f} %",
) -> str:
    """Failure rate per from-team (rows) x to-team (columns); each cell links to its page.
    `percent(share)` writes a cell's rate in the page's language.

    cells: (from, to) -> (handoffs, failed, link). Cells with no handoff stay blank. Colour is
    the rate; a dot whose area is the number of failed handoffs (the largest for the pair with
    the most) keeps a busy pair with a low rate from looking calm.
    """
    most = max((failed for _, failed, _ in cells.values()), default=0)
    width = 1.6 + 1.15 * max(len(teams_to), 1)
    height = 0.9 + 0.55 * max(len(teams_from), 1)
    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_axes((1.3 / width, 0.75 / height, 1 - 1.45 / width, 1 - 1.05 / height))
    ax.set_xlim(0, max(len(teams_to), 1))
    ax.set_ylim(max(len(teams_from), 1), 0)
    for row, source in enumerate(teams_from):
        for col, target in enumerate(teams_to):
            handoffs, failed, link = cells.get((source, target), (0, 0, None))
            if not handoffs:
                ax.add_patch(Rectangle((col, row), 1, 1, facecolor="#f6f7f9", edgecolor="white", linewidth=2))
                continue
            rate = failed / handoffs
            cell = Rectangle((col, row), 1, 1, facecolor=FAILURE_COLOURS(rate), edgecolor="white", linewidth=2)
            if link:
                cell.set_url(link)
            ax.add_patch(cell)
            label = ax.text(
                col + 0.5,
                row + 0.5,
                f"{percent(rate)}\n{failed}/{handoffs}",
                ha="center",
                va="center",
                color="white" if rate > 0.6 else INK,
                fontsize=8,
            )
            if link:
                label.set_url(link)
            if failed:
                dot = ax.scatter(
                    [col + 0.13], [row + 0.5], s=DOT_AREA * failed / most, color=INK, alpha=0.75, linewidths=0
                )
                dot.set_gid(f"failed-{failed}")
                if link:
                    dot.set_urls([link])
    if not teams_from:
        ax.text(0.5, 0.5, empty, ha="center", va="center", color=MUTED)
    names = names or {}
    ax.set_xticks(
        [i + 0.5 for i in range(len(teams_to))], [_plain(names.get(t, t)) for t in teams_to], rotation=20, ha="right"
    )
    ax.set_yticks([i + 0.5 for i in range(len(teams_from))], [_plain(names.get(t, t)) for t in teams_from])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_label_position("top")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return _svg(fig, title)


def quarter_view(values: Sequence[float | None], weeks: Sequence[str], target: float | None, title: str) -> str:
    """A headline figure over the year (52 weeks, light) with its last quarter (13 weeks, dark),
    the target dashed; the year's first week, the quarter's first and the last week labelled."""
    fig = Figure(figsize=(3.2, 1.1), dpi=100)
    ax = fig.add_axes((0.1, 0.24, 0.88, 0.7))
    ys = [math.nan if v is None else float(v) for v in values]
    quarter = max(len(ys) - 13, 0)
    ax.plot(range(quarter + 1), ys[: quarter + 1], color=MUTED, linewidth=0.9)
    ax.plot(range(quarter, len(ys)), ys[quarter:], color=INK, linewidth=1.3, marker="o", markersize=1.8)
    if target is not None:
        ax.axhline(float(target), color="#b42318", linewidth=0.8, linestyle=(0, (3, 2)))
    ax.set_xlim(-0.5, max(len(ys) - 0.5, 0.5))
    ticks = sorted({0, quarter, len(ys) - 1})
    ax.set_xticks(ticks, [weeks[i] for i in ticks], fontsize=6)
    labels = ax.get_xticklabels()
    labels[0].set_horizontalalignment("left")  # the year's first and last week stay inside the chart
    labels[-1].set_horizontalalignment("right")
    ax.tick_params(axis="y", labelsize=6, length=2)
    ax.tick_params(axis="x", length=2)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e8ed", linewidth=0.5)
    return _svg(fig, title)
