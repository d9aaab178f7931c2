"""Settings: where things live and the parameters of the metrics.

One place for every tunable. Defaults live in `defaults.yaml` beside this file (the friction
signals' in `sql/vocabulary.yaml`, with their definitions); a project
file (the one ``ESPRIT_CONFIG`` names, else ``esprit.yaml`` under ``ESPRIT_HOME``, else in the
working directory) overrides them key by key,
and ``ESPRIT_<KEY>`` environment variables override the paths. Tasks and the CLI call
`load_settings()` at run time, never at import time, so a DAG file parses without them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from pipelines.vocabulary import VOCABULARY

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
# the languages pages can be written in: pipelines/report/i18n.py holds a catalogue for each
LANGUAGES = ("en", "fr")
PATH_KEYS = ("landing", "warehouse", "out", "rejected")
OPEN_MAPPINGS = (
    ".sources",
    ".friction_signals",
    ".stages",
    ".pickup_sla",
    ".teams.names",
)  # a project may name any key
REACHED_BY = ("all", "engaged", "complained")  # a project may add entries here


class ConfigError(ValueError):
    """A configuration file or value is wrong; the message names the key."""


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    out: Path
    rejected: Path
    week_timezone: str
    metrics: dict[str, Any] = field(default_factory=dict)
    friction_signals: dict[str, dict[str, Any]] = field(default_factory=dict)
    headline: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    ingest: dict[str, Any] = field(default_factory=dict)
    scorecard: dict[str, Any] = field(default_factory=dict)
    orchestration: dict[str, Any] = field(default_factory=dict)
    teams: dict[str, Any] = field(default_factory=dict)
    pyramid: dict[str, dict[str, Any]] = field(default_factory=dict)
    pulse: dict[str, Any] = field(default_factory=dict)

    @property
    def scorecards_dir(self) -> Path:
        return self.out / "scorecards"

    @property
    def data_docs_dir(self) -> Path:
        return self.out / "data_docs"

    @property
    def temp_dir(self) -> Path:
        """Ingest's private work folders (decompressed and transcoded copies), beside the warehouse."""
        return self.warehouse.parent / "tmp"

    def with_paths(self, **paths: Path | str) -> Settings:
        """A copy with some paths replaced (tests and the CLI's --landing/--warehouse/--out)."""
        values = {k: Path(v) for k, v in paths.items() if v is not None}
        unknown = set(values) - set(PATH_KEYS)
        if unknown:
            raise ConfigError(f"unknown path setting(s): {sorted(unknown)}")
        current = {k: getattr(self, k) for k in self.__dataclass_fields__}
        current.update(values)
        return Settings(**current)


def _merge(base: dict, override: dict, where: str) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if key not in base and not where.endswith(OPEN_MAPPINGS):
            raise ConfigError(f"{where}: unknown key '{key}' (expected one of {sorted(base)})")
        if key in base and isinstance(base[key], dict) and base[key] and not isinstance(value, dict):
            raise ConfigError(f"{where}: key '{key}' must be a mapping, got {type(value).__name__}")
        if (
            key in base
            and isinstance(base[key], dict)
            and isinstance(value, dict)
            and key not in ("friction_signals", "stages", "sources")
        ):
            merged[key] = _merge(base[key], value, f"{where}.{key}")
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def _project_file() -> Path | None:
    """esprit.yaml under ESPRIT_HOME (a container's home, whatever its working directory), else in
    the working directory; None when neither has one."""
    for folder in (os.environ.get("ESPRIT_HOME"), "."):
        if folder and (Path(folder) / "esprit.yaml").is_file():
            return Path(folder) / "esprit.yaml"
    return None


def load_settings(config_file: str | Path | None = None, base_dir: str | Path | None = None) -> Settings:
    """Read defaults, then the project file, then environment overrides of the paths.

    Relative paths are resolved against ``base_dir`` (default: ``ESPRIT_HOME`` or the current
    directory), so the same config works from the CLI, the tests and an Airflow worker.
    """
    raw = _read_yaml(DEFAULTS_FILE)
    raw["friction_signals"] = VOCABULARY.default_friction_signals()  # each signal's defaults, with its definition
    config_file = config_file or os.environ.get("ESPRIT_CONFIG") or _project_file()
    if config_file is not None:
        raw = _merge(raw, _read_yaml(Path(config_file)), str(config_file))
    base = Path(base_dir or os.environ.get("ESPRIT_HOME") or Path.cwd())
    paths = {}
    for key in PATH_KEYS:
        value = os.environ.get(f"ESPRIT_{key.upper()}") or raw["paths"][key]
        path = Path(value)
        paths[key] = path if path.is_absolute() else base / path
    stages = raw["stages"]
    for name, spec in stages.items():
        if not isinstance(spec, dict) or spec.get("reached_by") not in REACHED_BY:
            raise ConfigError(f"stages.{name}.reached_by: expected one of {list(REACHED_BY)}")
    pickup = raw["metrics"]["pickup_sla"]
    for team, spec in pickup.items():
        if not isinstance(spec, dict) or not all(
            isinstance(spec.get(k), (int, float)) for k in ("call_seconds", "case_hours")
        ):
            raise ConfigError(f"metrics.pickup_sla.{team}: expected {{call_seconds: <number>, case_hours: <number>}}")
    if raw["metrics"]["journey_scope"] not in ("auto", "customer", "case"):
        raise ConfigError("metrics.journey_scope: expected auto, customer or case")
    changes = raw["metrics"]["ping_pong_min_changes"]
    if isinstance(changes, bool) or not isinstance(changes, int) or changes < 1:
        # 0 would call every transfer and reassignment ping-pong: the rule counts team changes
        raise ConfigError(f"metrics.ping_pong_min_changes: expected a whole number of at least 1, got {changes!r}")
    span = raw["metrics"]["journey_max_span_days"]
    if span is not None and (isinstance(span, bool) or not isinstance(span, (int, float)) or span <= 0):
        raise ConfigError(f"metrics.journey_max_span_days: expected a positive number of days or null, got {span!r}")
    for i, rule in enumerate(raw["metrics"]["complaint_sla_rules"] or []):
        where = f"metrics.complaint_sla_rules[{i}]"
        if not isinstance(rule, dict) or not set(rule) <= {"priority", "category", "sla_days", "ack_hours"}:
            raise ConfigError(f"{where}: expected a mapping of priority, category, sla_days, ack_hours")
        deadlines = [rule[k] for k in ("sla_days", "ack_hours") if k in rule]
        if not deadlines or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in deadlines
        ):
            raise ConfigError(f"{where}: expected sla_days and/or ack_hours as positive numbers")
    signals = raw["friction_signals"]
    for name, spec in signals.items():
        if not isinstance(spec, dict) or spec.get("stage") not in stages:
            raise ConfigError(f"friction_signals.{name}.stage: expected one of {list(stages)}")
        if not isinstance(spec.get("weight"), (int, float)):
            raise ConfigError(f"friction_signals.{name}.weight: expected a number")
    for source, rules in raw["sources"].items():
        if not isinstance(rules, list) or not all(
            isinstance(r, dict) and set(r) == {"match", "profile"} for r in rules
        ):
            raise ConfigError(f"sources.{source}: expected a list of {{match: <file pattern>, profile: <name>}}")
    gx_rows = raw["ingest"]["gx_rows"]
    if gx_rows != "all" and (not isinstance(gx_rows, int) or isinstance(gx_rows, bool) or gx_rows < 1):
        raise ConfigError(
            "ingest.gx_rows: expected a whole number of at least 1 (the lines of each file Great "
            "Expectations validates besides the flagged ones), or all"
        )
    try:
        date.fromisoformat(str(raw["ingest"]["plausible_from"]))
    except ValueError:
        raise ConfigError("ingest.plausible_from: expected a date such as 2000-01-01") from None
    future = raw["ingest"]["plausible_future_days"]
    if not isinstance(future, (int, float)) or isinstance(future, bool) or future < 0:
        raise ConfigError("ingest.plausible_future_days: expected a number of days of at least 0")
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", str(raw["ingest"]["memory_limit"])):
        raise ConfigError("ingest.memory_limit: expected a size such as 1GB or 512MB")
    _check_limits(raw["ingest"])
    _check_phone_regions(raw["ingest"]["phone_regions"])
    return Settings(
        week_timezone=raw["week_timezone"],
        sources=raw["sources"],
        ingest=raw["ingest"],
        metrics=raw["metrics"],
        friction_signals=signals,
        stages=stages,
        headline=_checked_headline(raw["headline"]),
        scorecard=_checked_scorecard(raw["scorecard"]),
        orchestration=raw["orchestration"],
        teams=_checked_teams(raw["teams"]),
        pyramid=_checked_pyramid(raw["pyramid"], raw["headline"], stages),
        pulse=_checked_pulse(raw["pulse"]),
        **paths,
    )


SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_bytes(value: Any, where: str) -> int:
    """A size setting as bytes: a whole number, or text such as 64MB (binary units: 1MB = 2**20)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT])i?B", str(value))
    if not found:
        raise ConfigError(f"{where}: expected a size such as 64MB or 4GB, or a number of bytes")
    return int(float(found.group(1)) * SIZE_UNITS[found.group(2)])


def _check_limits(ingest: dict) -> None:
    """The limits of hostile input and failed loads, sizes turned into bytes."""
    for key in ("max_line_bytes", "max_decompressed_bytes"):
        ingest[key] = size_bytes(ingest[key], f"ingest.{key}")
    if ingest["max_line_bytes"] < SIZE_UNITS["M"]:  # the scan finds long lines a 1 MB read at a time
        raise ConfigError("ingest.max_line_bytes: expected at least 1MB")
    for key in ("max_json_depth", "max_attempts"):
        value = ingest[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"ingest.{key}: expected a whole number of at least 1")
    days = ingest["rejected_retention_days"]
    if days is not None and (not isinstance(days, (int, float)) or isinstance(days, bool) or days < 0):
        raise ConfigError("ingest.rejected_retention_days: expected a number of days of at least 0, or null")


def _checked_teams(teams: dict) -> dict[str, Any]:
    if not isinstance(teams.get("unassigned"), str) or not teams["unassigned"].strip():
        raise ConfigError("teams.unassigned: expected the text that stands for no team, e.g. (unassigned)")
    for code, names in (teams.get("names") or {}).items():
        if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
            raise ConfigError(f"teams.names.{code}: expected names per language, e.g. {{en: Billing, fr: Facturation}}")
    return teams


def team_name(settings: Settings, code: str | None, lang: str) -> str:
    """The name a reader sees for a team code (the code itself when none is configured)."""
    if code is None:
        return ""
    names = (settings.teams.get("names") or {}).get(code) or {}
    return names.get(lang) or names.get("en") or code


def _checked_headline(tiles: list) -> list[dict[str, Any]]:
    """Each tile: metric, labels, unit, the good direction, and its target and watch thresholds."""
    for i, tile in enumerate(tiles):
        where = f"headline[{i}]"
        if not isinstance(tile, dict):
            raise ConfigError(f"{where}: expected a mapping")
        for key in ("metric", "en", "fr", "unit", "better"):
            if not isinstance(tile.get(key), str):
                raise ConfigError(f"{where}.{key}: expected text")
        _check_thresholds(tile, where)
    return tiles


def _check_thresholds(spec: dict, where: str) -> None:
    """The good direction, and target and watch (both or neither) with watch on the bad side."""
    if spec.get("better") not in ("up", "down"):
        raise ConfigError(f"{where}.better: expected 'up' or 'down'")
    target, watch = spec.get("target"), spec.get("watch")
    if target is None and watch is None:
        return
    if not isinstance(target, (int, float)) or not isinstance(watch, (int, float)):
        raise ConfigError(f"{where}: target and watch must both be numbers")
    if (spec["better"] == "up" and watch > target) or (spec["better"] == "down" and watch < target):
        raise ConfigError(f"{where}.watch: expected the watch threshold on the bad side of the target")


PYRAMID_FIGURE_KEYS = ("metric", "en", "fr", "better", "target", "watch")


def _checked_pyramid(levels: dict, headline: list, stages: dict) -> dict[str, dict[str, Any]]:
    """Each level's names and figures, each figure completed from the headline tile of its
    metric (labels, direction, thresholds) where it gives none. A metric no weekly_scorecard row
    can carry is an error naming its key: a typo would otherwise show as 'no data' for ever."""
    known = set(VOCABULARY.metrics) | {f"friction_{kind}_{stage}" for kind in ("share", "index") for stage in stages}
    # a default figure on a stage a project's stages: no longer has is left out, not an error: the
    # project never wrote it (its own figures are checked)
    defaults = _read_yaml(DEFAULTS_FILE)["pyramid"]
    tiles = {tile["metric"]: tile for tile in headline if isinstance(tile, dict)}
    checked = {}
    for level, spec in levels.items():
        where = f"pyramid.{level}"
        if not isinstance(spec, dict) or not all(isinstance(spec.get(k), str) for k in ("en", "fr")):
            raise ConfigError(f"{where}: expected {{en: <name>, fr: <name>, figures: [...]}}")
        figures = spec.get("figures") or []
        if not isinstance(figures, list):
            raise ConfigError(f"{where}.figures: expected a list of {{metric: <name>, ...}}")
        completed = []
        for i, figure in enumerate(figures):
            at = f"{where}.figures[{i}]"
            if not isinstance(figure, dict) or not set(figure) <= set(PYRAMID_FIGURE_KEYS):
                raise ConfigError(f"{at}: expected a mapping of {', '.join(PYRAMID_FIGURE_KEYS)}")
            metric = figure.get("metric")
            if metric not in known and figure in (defaults.get(level) or {}).get("figures", []):
                continue
            if metric not in known:
                raise ConfigError(f"{at}.metric: unknown metric {metric!r} (expected one of {sorted(known)})")
            tile = tiles.get(metric, {})
            full = {k: tile.get(k) for k in PYRAMID_FIGURE_KEYS} | {k: v for k, v in figure.items() if v is not None}
            for key in ("en", "fr"):
                if not isinstance(full.get(key), str):
                    raise ConfigError(f"{at}.{key}: expected text (no headline tile of {metric} names it)")
            _check_thresholds(full, at)
            if full["target"] is None:
                raise ConfigError(f"{at}: target and watch must both be numbers (no headline tile of {metric})")
            completed.append(full)
        checked[level] = {"en": spec["en"], "fr": spec["fr"], "figures": completed}
    return checked


def _checked_scorecard(section: dict) -> dict[str, Any]:
    languages = section.get("languages")
    if not isinstance(languages, list) or not languages or not set(languages) <= set(LANGUAGES):
        raise ConfigError(f"scorecard.languages: expected a non-empty list drawn from {list(LANGUAGES)}")
    for key in (
        "small_sample",
        "trend_weeks",
        "verbatims_per_stage",
        "top_pairs",
        "handoffs_per_page",
        "previous_week_max_gap",
        "investigation_pairs",
    ):
        if not isinstance(section.get(key), int) or section[key] < 1:
            raise ConfigError(f"scorecard.{key}: expected a whole number of at least 1")
    if section.get("pdf_weeks") not in ("latest", "all"):
        raise ConfigError("scorecard.pdf_weeks: expected latest or all")
    return section


# The least each pulse setting may be: a group of two would let each respondent read the other's
# answer; a correlation's Fisher interval needs four team-weeks (its standard error is 1/sqrt(n - 3)).
PULSE_MINIMUMS = {"min_group_size": 3, "min_team_weeks": 4, "link_weeks": 1}


def _checked_pulse(section: dict) -> dict[str, Any]:
    for key, least in PULSE_MINIMUMS.items():
        value = section.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"pulse.{key}: expected a whole number of at least {least}, got {value!r}")
    return section


def _check_phone_regions(regions) -> None:
    import phonenumbers

    known = phonenumbers.SUPPORTED_REGIONS
    if not isinstance(regions, list) or not regions or any(r not in known for r in regions):
        raise ConfigError(
            f"ingest.phone_regions: expected a list of country codes libphonenumber knows, such as [FR, US] "
            f"(got {regions!r})"
        )
