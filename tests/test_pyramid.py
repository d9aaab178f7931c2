"""The service-excellence pyramid: the status rule on hand-made figures, the settings' check, and
the page and scorecard.json showing each level with figures equal to weekly_scorecard."""

import dataclasses
import json
import re
import shutil
from datetime import UTC, datetime

import pytest

from pipelines.config import ConfigError, load_settings
from pipelines.report.i18n import translator
from pipelines.report.pyramid import build_pyramid, level_status, level_trend
from pipelines.report.scorecard import render_weeks
from pipelines.vocabulary import VOCABULARY
from pipelines.warehouse import connect


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["on_target", "on_target"], "on_target"),
        (["on_target", "watch", "on_target"], "watch"),
        (["watch", "off_target", "on_target"], "off_target"),
        # provisional and empty figures are not counted: the final ones decide
        (["on_target", "provisional", "no_data"], "on_target"),
        (["provisional", "off_target"], "off_target"),
        (["provisional", "no_data"], "provisional"),
        (["no_data", "no_data"], "no_data"),
        ([], "no_data"),  # a level with no figure configured is never on target
    ],
)
def test_a_level_takes_the_worst_final_status_of_its_figures(statuses, expected):
    assert level_status(statuses) == expected


def test_a_level_trend_compares_final_statuses_only():
    assert level_trend("on_target", "watch") == "better"
    assert level_trend("off_target", "watch") == "worse"
    assert level_trend("watch", "watch") == "same"
    assert level_trend("on_target", "provisional") == ""
    assert level_trend("no_data", "on_target") == ""
    assert level_trend("on_target", "") == ""


def _row(value, numerator, denominator, unit="pct", provisional=False, missing_feeds=None):
    return {
        "value": value,
        "numerator": numerator,
        "denominator": denominator,
        "unit": unit,
        "provisional": provisional,
        "final_at": datetime(2026, 10, 20, 12, tzinfo=UTC) if provisional else None,
        "missing_feeds": missing_feeds,
    }


def test_hand_made_weeks_give_each_level_its_status_and_trend(tmp_path):
    settings = load_settings(base_dir=tmp_path)
    history = {
        # core promise: all on target in W41, one off target in W42
        "abandonment_rate": {"2026-W41": _row(3.0, 3, 100), "2026-W42": _row(12.0, 12, 100)},
        "service_level": {"2026-W41": _row(85.0, 85, 100), "2026-W42": _row(90.0, 90, 100)},
        "first_contact_resolution": {
            "2026-W41": _row(80.0, 80, 100),
            "2026-W42": _row(50.0, 50, 100, provisional=True),
        },
        # complaints: on target, then watch
        "complaints_resolved_within_sla": {"2026-W41": _row(95.0, 19, 20), "2026-W42": _row(80.0, 16, 20)},
        # individual service: only a provisional figure in W42
        "handoff_failure_rate": {"2026-W42": _row(40.0, 4, 10, provisional=True)},
        # surprising service: a week without surveys (no denominator) and a site without them
        "nps_promoters": {"2026-W41": _row(None, 0, 0), "2026-W42": _row(None, None, None, missing_feeds="surveys")},
    }
    week41, week42 = (
        {level.key: level for level in build_pyramid(settings, history, w, ["2026-W41", "2026-W42"])}
        for w in ("2026-W41", "2026-W42")
    )
    assert week41["core_promise"].status == "on_target" and week41["core_promise"].trend == ""
    core = week42["core_promise"]
    assert (core.status, core.previous_status, core.trend) == ("off_target", "on_target", "worse")
    assert (core.counted, core.provisional) == (2, 1)
    assert (core.span, core.weeks) == (2, {"on_target": 1, "watch": 0, "off_target": 1})
    assert week42["individual_service"].weeks == {"on_target": 0, "watch": 0, "off_target": 0}
    fcr = core.figures[2]
    assert (
        fcr.status == "provisional" and fcr.provisional_until == "2026-10-20" and fcr.display == "50.0%"
    )  # Babel, en_GB
    assert core.figures[0].change == pytest.approx(9.0) and core.figures[0].trend == "worse"
    assert (week42["complaint_management"].status, week42["complaint_management"].trend) == ("watch", "worse")
    assert week42["individual_service"].status == "provisional"
    for week in (week41, week42):
        top = week["surprising_service"]
        assert top.status == "no_data" and top.figures[0].value is None and top.figures[0].display == ""
        assert top.figures[0].status == "no_data"
    assert week42["surprising_service"].figures[0].missing_feeds == "surveys"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "pyramid:\n  core_promise:\n    figures:\n      - {metric: service_level}\n      - {metric: servce_level}\n",
            r"pyramid\.core_promise\.figures\[1\]\.metric: unknown metric 'servce_level'",
        ),
        (
            "pyramid:\n  surprising_service:\n    figures:\n      - {metric: nps_passives, en: P, fr: P, better: up}\n",
            r"pyramid\.surprising_service\.figures\[0\]: target and watch",
        ),
        (
            "pyramid:\n  surprising_service:\n    figures:\n      - {metric: nps_passives, better: up, target: 5, watch: 2}\n",
            r"pyramid\.surprising_service\.figures\[0\]\.en",
        ),
        (
            "pyramid:\n  complaint_management:\n    figures:\n      - {metric: csat, colour: red}\n",
            r"pyramid\.complaint_management\.figures\[0\]: expected a mapping",
        ),
        ("pyramid:\n  delight:\n    en: Delight\n", r"pyramid: unknown key 'delight'"),
    ],
)
def test_pyramid_settings_are_checked_and_the_key_named(tmp_path, text, message):
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, base_dir=tmp_path)


def test_a_project_replaces_a_levels_figures_and_keeps_the_rest(tmp_path):
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text(
        "pyramid:\n  surprising_service:\n    fr: Enchantement\n    figures:\n"
        "      - {metric: csat}\n      - {metric: friction_share_resolve, en: R, fr: R, better: down, target: 10, watch: 20}\n"
    )
    settings = load_settings(cfg, base_dir=tmp_path)
    top = settings.pyramid["surprising_service"]
    assert top["fr"] == "Enchantement" and top["en"] == "Surprising service"
    # csat's labels and thresholds are its headline tile's
    assert [(f["metric"], f["target"], f["better"]) for f in top["figures"]] == [
        ("csat", 80, "up"),
        ("friction_share_resolve", 10, "down"),
    ]
    assert [f["metric"] for f in settings.pyramid["core_promise"]["figures"]][0] == "abandonment_rate"


def test_a_project_without_the_default_figures_stage_keeps_a_valid_pyramid(tmp_path):
    """A site's own stages replace the defaults: the default figure on Understand is left out,
    while a figure the project writes on a stage it lacks is an error."""
    stages = "stages:\n  contact: {en: Contact, fr: Contact, reached_by: all}\n"
    signals = "".join(f"  {name}: {{stage: contact, weight: 1.0}}\n" for name in VOCABULARY.signals)
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text(stages + "friction_signals:\n" + signals)
    figures = load_settings(cfg, base_dir=tmp_path).pyramid["individual_service"]["figures"]
    assert [f["metric"] for f in figures] == [
        "agent_continuity",
        "team_continuity",
        "transfer_rate",
        "handoff_failure_rate",
    ]
    cfg.write_text(
        stages + "friction_signals:\n" + signals + "pyramid:\n  individual_service:\n    figures:\n"
        "      - {metric: friction_share_understand, en: U, fr: U, better: down, target: 1, watch: 2}\n"
    )
    with pytest.raises(ConfigError, match=r"pyramid\.individual_service\.figures\[0\]\.metric"):
        load_settings(cfg, base_dir=tmp_path)


def t(lang):
    return translator(lang)[0]


def _levels_in(html: str) -> dict[str, dict]:
    """data-level blocks of a page: their status and each figure's value and status."""
    levels = {}
    section = html.split('<div class="pyramid">', 1)[1].split("\n</div>", 1)[0]
    for key, status, body in re.findall(
        r'<div class="level [^"]*" data-level="([^"]+)" data-status="([^"]+)"[^>]*>(.*?)(?=<div class="level |$)',
        section,
        re.S,
    ):
        figures = {
            m: (float(v) if v else None, s)
            for m, v, s in re.findall(r'<tr data-metric="([^"]+)" data-value="([^"]*)" data-status="([^"]+)">', body)
        }
        levels[key] = {"status": status, "figures": figures, "body": body}
    return levels


def test_the_page_and_json_show_each_level_with_the_figures_of_the_metric_tables(pipeline_run):
    settings, result = pipeline_run
    page = next(p for p in result["pages"] if p.endswith("scorecard.en.html"))
    week = page.split("/")[-2]
    folder = settings.scorecards_dir / week
    con = connect(settings.warehouse, read_only=True)
    rows = dict(con.execute("SELECT metric, value FROM weekly_scorecard WHERE week = ?", [week]).fetchall())
    known = [w for (w,) in con.execute("SELECT DISTINCT week FROM weekly_scorecard WHERE week <= ?", [week]).fetchall()]
    con.close()
    saved = json.loads((folder / "scorecard.json").read_text(encoding="utf-8"))["pyramid"]
    assert list(saved) == list(settings.pyramid)
    for lang, title in (("en", "Service-excellence pyramid"), ("fr", "Pyramide de l'excellence de service")):
        html = (folder / f"scorecard.{lang}.html").read_text(encoding="utf-8")
        assert title in html.replace("&#39;", "'")
        levels = _levels_in(html)
        assert list(levels) == list(reversed(settings.pyramid))  # the top of the pyramid first
        for key, level in levels.items():
            assert level["status"] == saved[key]["status"]
            assert level_status([s for _, s in level["figures"].values()]) == level["status"]
            weeks = saved[key]["weeks"]
            assert sum(weeks.values()) <= saved[key]["span"] == min(len(known), settings.scorecard["trend_weeks"])
            if sum(weeks.values()):
                shown = re.search(r'data-weeks="(\d+)\|(\d+)\|(\d+)"', level["body"]).groups()
                assert tuple(map(int, shown)) == (weeks["on_target"], weeks["watch"], weeks["off_target"])
            assert settings.pyramid[key][lang] in level["body"].replace("&#39;", "'")
            for figure in saved[key]["figures"]:
                value, status = level["figures"][figure["metric"]]
                assert value == pytest.approx(rows[figure["metric"]]) == pytest.approx(figure["value"])
                assert status == figure["status"]
        # beside agent continuity, the follow-ups it leaves out for want of an agent recorded
        left = rows["followups_without_agent"]
        shown = re.search(r'data-unrecorded="(\d+)">([^<]*)<', levels["individual_service"]["body"])
        assert left > 0 and int(shown.group(1)) == left
        assert shown.group(2) == t(lang)("unrecorded_followups_without_agent", n=int(left))
        assert saved["individual_service"]["unrecorded"] == {
            "agent_continuity": ["followups_without_agent", pytest.approx(left)]
        }


def test_a_level_without_data_says_no_data_on_the_page(pipeline_run, tmp_path):
    """A week without surveys: the top of the pyramid has no figure with a value, so it says no
    data in both languages, never 0 % or on target; a level with no figure configured too."""
    settings, result = pipeline_run
    week = next(p for p in result["pages"] if p.endswith("scorecard.en.html")).split("/")[-2]
    warehouse = tmp_path / "esprit.duckdb"
    shutil.copy(settings.warehouse, warehouse)  # the session's warehouse is shared: change a copy
    con = connect(warehouse)
    con.execute(
        "UPDATE weekly_scorecard SET value = NULL, numerator = 0, denominator = 0 "
        "WHERE week = ? AND metric IN ('nps_promoters', 'verbatim_praise')",
        [week],
    )
    con.close()
    pyramid = dict(settings.pyramid) | {"individual_service": settings.pyramid["individual_service"] | {"figures": []}}
    mine = dataclasses.replace(settings.with_paths(warehouse=warehouse, out=tmp_path / "out"), pyramid=pyramid)
    render_weeks(mine, [week], pdf=False, exports=False)
    folder = mine.scorecards_dir / week
    for lang, no_data in (("en", "no data"), ("fr", "pas de données")):
        levels = _levels_in((folder / f"scorecard.{lang}.html").read_text(encoding="utf-8"))
        for key in ("surprising_service", "individual_service"):
            assert levels[key]["status"] == "no_data"
            assert no_data in levels[key]["body"] and "badge on_target" not in levels[key]["body"]
        assert levels["surprising_service"]["figures"]["nps_promoters"] == (None, "no_data")
        # the figure's cell says no data where its value would be
        assert re.search(
            r'data-metric="nps_promoters"[^>]*>\s*<td>[^<]*</td>\s*<td class="num">' + no_data,
            levels["surprising_service"]["body"],
        )
    saved = json.loads((folder / "scorecard.json").read_text(encoding="utf-8"))["pyramid"]
    assert saved["surprising_service"]["status"] == saved["individual_service"]["status"] == "no_data"
    assert saved["surprising_service"]["figures"][0]["value"] is None
