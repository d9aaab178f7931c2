"""The `esprit` command: generate sample data, run the pipeline, render scorecards."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pipelines.generate import DEMO_PULSE_LINK
from pipelines.ingest.profiles import LOADABLE


def _settings(args):
    from pipelines.config import load_settings

    settings = load_settings(args.config)
    # resolved here: a relative --out given to a command must not be read against another folder later
    given = {k: getattr(args, k, None) for k in ("landing", "warehouse", "out")}
    return settings.with_paths(**{k: Path(v).resolve() for k, v in given.items() if v is not None})


def cmd_generate(args) -> int:
    from pipelines.generate import generate

    summary = generate(
        Path(args.out),
        weeks=args.weeks,
        seed=args.seed,
        start_week=args.start_week,
        journeys_per_week=args.journeys_per_week,
        pulse_link=args.pulse_link,
    )
    print(
        f"wrote {summary['files']} files for weeks {summary['weeks'][0]}..{summary['weeks'][-1]} "
        f"to {args.out} ({summary['journeys']} journeys, {summary['handoffs']} handoffs, "
        f"{summary['failed_handoffs']} failed); ground truth in {Path(args.out) / 'ground_truth'}"
    )
    return 0


def cmd_themes_evaluate(args) -> int:
    from pipelines.listening.evaluate import run_all, table

    for result in run_all(Path(args.realdata) if args.realdata else None):
        print(result if isinstance(result, str) else table(result), end="\n\n")
    return 0


def cmd_themes_emergent(args) -> int:
    from pipelines.listening.emergent import emergent_by_period, report
    from pipelines.warehouse import connect

    settings = _settings(args)
    con = connect(settings.warehouse, read_only=True)
    try:
        rows = con.execute(
            """SELECT week, language, verbatim FROM stg_survey_responses
               WHERE week IN (SELECT DISTINCT week FROM stg_survey_responses ORDER BY week DESC LIMIT ?)
               AND nullif(trim(verbatim), '') IS NOT NULL ORDER BY week, response_id""",
            [args.weeks],
        ).fetchall()
    finally:
        con.close()
    print(report(emergent_by_period(rows, topics=args.topics)) or "no verbatims in the warehouse")
    return 0


def cmd_run(args) -> int:

    from pipelines.orchestration.run import run_all

    result = run_all(_settings(args), _stepper())
    summary = result["summary"]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_run_summary(summary))
    return 1 if summary["rejected_files"] or summary["failed_files"] else 0


def _stepper():
    """step(message): a stage of a long command, on stderr with the time since it started."""
    import time

    started = time.monotonic()

    def step(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    return step


def warehouse_summary(settings) -> dict:
    """What the warehouse holds, as a run's summary (`_run_summary`): the files of its loads in
    force and their rows, the weeks, where the pages are. `esprit demo` ends with it."""
    from pipelines.report.scorecard import available_weeks
    from pipelines.warehouse import connect

    con = connect(settings.warehouse, read_only=True)
    try:
        counts = con.execute(
            "SELECT count(*) FILTER (WHERE status = 'loaded'), coalesce(sum(rows_read), 0), "
            "coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_duplicate), 0) "
            "FROM load_audit WHERE status IN ('loaded', 'rejected')"
        ).fetchone()
        rejected = [
            f
            for (f,) in con.execute("SELECT file_name FROM load_audit WHERE status = 'rejected' ORDER BY 1").fetchall()
        ]
        # failed and not set aside: still in its landing folder, for the next run
        failed = [
            f
            for (f,) in con.execute(
                "SELECT file_name FROM load_failures WHERE set_aside_as IS NULL ORDER BY 1"
            ).fetchall()
        ]
        weeks = available_weeks(con)
    finally:
        con.close()
    docs = settings.data_docs_dir / "index.html"
    return {
        "files_loaded": counts[0],
        "files_skipped": 0,
        "rejected_files": rejected,
        "failed_files": failed,
        "rows_read": counts[1],
        "rows_loaded": counts[2],
        "rows_quarantined": counts[3],
        "rows_duplicate": counts[4],
        "weeks": weeks,
        "scorecards": str(settings.scorecards_dir),
        "data_docs": str(docs) if docs.exists() else None,
    }


def _run_summary(summary: dict) -> str:
    """What a run did, for a person: files, rows, weeks, where to look, what went wrong."""
    weeks = summary["weeks"]
    lines = [
        f"files: {summary['files_loaded']} loaded, {summary['files_skipped']} skipped (already loaded), "
        f"{len(summary['rejected_files'])} rejected, {len(summary['failed_files'])} failed",
        f"rows: {summary['rows_read']:,} read, {summary['rows_loaded']:,} loaded, "
        f"{summary['rows_quarantined']:,} quarantined, {summary['rows_duplicate']:,} duplicates",
        f"weeks: {weeks[0]}..{weeks[-1]} ({len(weeks)})" if weeks else "weeks: none (no data)",
        f"scorecards: {Path(summary['scorecards']) / 'index.html'}",
    ]
    if summary.get("data_docs"):
        lines.append(f"validation results (Data Docs): {summary['data_docs']}")
    for kind in ("rejected", "failed"):
        if summary[f"{kind}_files"]:
            lines.append(f"{kind}: {', '.join(summary[f'{kind}_files'])} (reports in rejected/<source>/)")
    return "\n".join(lines)


def cmd_ingest(args) -> int:
    """Load files (or every file of a folder) with a profile; print a summary table."""
    from pipelines.console import shown_name
    from pipelines.ingest.load import ingest_paths
    from pipelines.ingest.profiles import load_profile

    settings = _settings(args)
    target = Path(args.path).resolve()  # `..` segments resolved: the default source is the real folder's name
    paths = sorted(p for p in target.iterdir() if p.is_file()) if target.is_dir() else [target]
    if not paths or not all(p.exists() for p in paths):
        raise FileNotFoundError(f"nothing to ingest at {shown_name(str(target))}")
    profile = load_profile(args.profile) if args.profile else None
    source = args.source or (target.name if target.is_dir() else target.parent.name)
    if source in ("", ".", "..") or "/" in source or os.sep in source:
        # the source names a folder below rejected/: it may not climb out of it
        raise ValueError(f"source {shown_name(source)!r} is not a plain name (pass --source NAME)")
    if profile is None and source not in settings.sources:
        raise ValueError(f"no profile for '{source}': pass --profile NAME or bind the folder in sources")
    if args.dry_run:
        from pipelines.ingest.dry_run import describe, dry_run

        runs = [dry_run(settings, source, path, profile, args.limit) for path in paths]
        print("\n\n".join(describe(run) for run in runs))
        return 1 if any(run.result.status == "rejected" for run in runs) else 0
    results = ingest_paths(settings, source, paths, profile)
    return max(_print_results(settings, results), _check_with_gx(settings))


def _check_with_gx(settings) -> int:
    """Great Expectations on the samples of the loads just made (`gx_check`): 1 if it disagrees
    with the compiled suite (the loads stay, but no build counts them)."""
    from pipelines.ingest.gx_check import GreatExpectationsDisagree, check_loads

    try:
        checked = check_loads(settings)
    except GreatExpectationsDisagree as exc:
        print(f"esprit: {exc}", file=sys.stderr)
        return 1
    if checked["checked"]:
        print(f"Great Expectations: {checked['checked']} load(s) checked, agreeing with the compiled suite")
    return 0


def cmd_reload(args) -> int:
    """Load files again in place of their earlier loads (same content), with their profile as it
    is now: for a profile corrected since. The weeks they touch are restated by the next build."""
    from pipelines.console import shown_name
    from pipelines.ingest.load import ingest_paths
    from pipelines.ingest.profiles import load_profile

    settings = _settings(args)
    if args.stale:
        from pipelines.ingest.load import stale_loads

        if args.path:
            raise ValueError("--stale finds its files: give no PATH with it")
        given = load_profile(args.profile) if args.profile else None
        stale, unable = stale_loads(settings, given)
        for line in unable:
            print(f"  cannot reload {shown_name(line)}")
        if not stale:
            print("no load in force was made with a profile that has changed since")
            return 1 if unable else 0
        results = [
            r
            for name, paths in sorted(stale.items())
            for r in ingest_paths(settings, None, paths, given or load_profile(name), reload=True)
        ]
        return max(_print_results(settings, results), 1 if unable else 0, _check_with_gx(settings))
    if not args.path:
        raise ValueError("reload what? give a PATH, or --stale")
    target = Path(args.path).resolve()
    paths = sorted(p for p in target.iterdir() if p.is_file()) if target.is_dir() else [target]
    if not paths or not all(p.exists() for p in paths):
        raise FileNotFoundError(f"nothing to reload at {shown_name(str(target))}")
    profile = load_profile(args.profile) if args.profile else None
    return max(
        _print_results(settings, ingest_paths(settings, None, paths, profile, reload=True)), _check_with_gx(settings)
    )


def cmd_rotate_key(args) -> int:
    """Re-make every pseudonym under the new key (ESPRIT_PSEUDONYM_KEY) from the retained landing
    files, the old key in ESPRIT_PSEUDONYM_KEY_OLD; then rebuild the models in full."""
    from pipelines.ingest.gx_check import check_loads
    from pipelines.ingest.rotation import describe, rotate_key
    from pipelines.model.build import build_models

    settings = _settings(args)
    outcome = rotate_key(settings, [Path(d) for d in args.search])
    print("\n".join(describe(outcome)))
    if args.build:
        check_loads(settings)
        built = build_models(settings, full=True)
        print(f"models rebuilt in full: {len(built['weeks'])} week(s)")
    print("the warehouse now takes the new key only: set it everywhere the tasks run, then destroy the old key")
    return 0


def cmd_pseudonym(args) -> int:
    """What the warehouse and the pages hold for a raw value, under the current key: for a key
    holder who must find a customer's rows or an agent on an investigation page."""
    from pipelines.ingest.privacy import pseudonym, resolve_key
    from pipelines.report.investigate import agent_ref

    value = sys.stdin.readline().rstrip("\n") if args.value == "-" else args.value
    stored = pseudonym(value, resolve_key())
    print(f"warehouse: {stored}")
    print(f"investigation pages (agent): {agent_ref(stored)}")
    return 0


def _print_results(settings, results) -> int:
    """One line per file (read, loaded, quarantined, duplicate, derived), then why files were
    skipped, which loads reloads replaced, and the problems; 1 if a file was rejected or failed."""
    from pipelines.console import shown_name

    header = f"{'file':<40} {'status':<9} {'read':>9} {'loaded':>9} {'quarant.':>9} {'dupl.':>7} {'derived':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{shown_name(r.file)[:40]:<40} {r.status:<9} {r.rows_read:>9,} {r.rows_loaded:>9,} {r.rows_quarantined:>9,} "
            f"{r.rows_duplicate:>7,} {r.derived_rows:>8,}"
        )
    print("-" * len(header))
    print(
        f"{'total':<40} {'':<9} {sum(r.rows_read for r in results):>9,} {sum(r.rows_loaded for r in results):>9,} "
        f"{sum(r.rows_quarantined for r in results):>9,} {sum(r.rows_duplicate for r in results):>7,} "
        f"{sum(r.derived_rows for r in results):>8,}"
    )
    rejected = [r for r in results if r.status == "rejected"]
    for r in results:
        if r.reason:
            print(f"  {shown_name(r.file)}: skipped: {r.reason}")
        if r.replaces and r.status == "loaded":
            print(
                f"  {shown_name(r.file)}: replaces load {', '.join(map(str, r.replaces))}; weeks to restate: "
                f"{', '.join(r.weeks) or 'none'}"
            )
        for problem in r.problems[:5]:
            print(f"  {shown_name(problem)[:300]}")
    failed = [r for r in results if r.status == "failed"]
    if rejected:
        print(f"{len(rejected)} file(s) rejected, moved to {settings.rejected}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} file(s) failed to load: left where they are, to be loaded again", file=sys.stderr)
    return 1 if rejected or failed else 0


def cmd_purge_rejected(args) -> int:
    """Delete the rejected files and reports older than ingest.rejected_retention_days (or --days)."""
    from dataclasses import replace

    from pipelines.console import shown_name
    from pipelines.ingest.files import purge_rejected

    settings = _settings(args)
    if args.days is not None:
        if args.days < 0:
            raise ValueError("--days: expected a number of days of at least 0")
        settings = replace(settings, ingest={**settings.ingest, "rejected_retention_days": args.days})
    days = settings.ingest["rejected_retention_days"]
    if days is None:
        print("ingest.rejected_retention_days is null: rejected files are kept; nothing removed")
        return 0
    removed = purge_rejected(settings)
    print(f"removed {len(removed)} file(s) set aside more than {days:g} day(s) ago from {settings.rejected}")
    for name in removed:
        print(f"  {shown_name(name)}")
    return 0


def cmd_scorecard(args) -> int:
    from pipelines.ingest.gx_check import require_checked
    from pipelines.report.scorecard import render_weeks

    settings = _settings(args)
    weeks = None if args.week == "all" else [args.week]
    languages = [args.lang] if args.lang else None
    require_checked(settings.warehouse, weeks)
    written = render_weeks(settings, weeks, languages=languages, pdf=args.pdf, force=args.force)
    for path in written:
        if path.suffix in (".html", ".pdf") and path.parent.name != "handoffs":
            print(path)
    if weeks and not any(p.name == "scorecard.json" for p in written):
        print(f"{args.week}: its figures have not changed since its pages were written; kept (--force renders again)")
    return 0


def cmd_targets(args) -> int:
    """Propose the tiles' targets and watch thresholds from a baseline period, as YAML."""
    from pipelines.report.targets import as_yaml, propose

    text = as_yaml(propose(_settings(args), args.from_weeks), args.from_weeks)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(args.output)
    else:
        print(text, end="")
    return 0


def cmd_backfill(args) -> int:
    """Recompute and re-publish a range of weeks: load pending files, rebuild, render the range."""
    from pipelines.ingest.gx_check import check_loads
    from pipelines.ingest.load import ingest_source
    from pipelines.model.build import build_models
    from pipelines.report.scorecard import render_weeks
    from pipelines.weeks import parse_week, shift_week

    settings = _settings(args)
    if parse_week(args.from_week) > parse_week(args.to_week):
        raise ValueError(f"--from {args.from_week} is after --to {args.to_week}")
    wanted, week = [], args.from_week
    while parse_week(week) <= parse_week(args.to_week):
        wanted.append(week)
        week = shift_week(week, 1)
    for source in settings.sources:
        ingest_source(settings, source, fail_on_reject=False)
    check_loads(settings)  # Great Expectations must agree before a build counts the loads
    built = build_models(settings, full=args.full)
    weeks = [w for w in wanted if w in built["weeks"]]
    missing = [w for w in wanted if w not in built["weeks"]]
    if weeks:
        render_weeks(settings, weeks)
    print(
        f"recomputed {'every week' if built['full'] else ', '.join(built['recomputed_weeks']) or 'no week'}; "
        f"published {len(weeks)} week(s) of {args.from_week}..{args.to_week}"
        + (f"; no data for {', '.join(missing)}" if missing else "")
    )
    return 0


def _one_of(kind: str, given: str, valid: list[str], aliases: dict[str, list[str]] | None = None) -> str:
    """The valid value `given` names, matched without case (a team also by its display names);
    else an error listing the valid values."""
    folded = given.casefold()
    for value in valid:
        if folded in {v.casefold() for v in [value, *(aliases or {}).get(value, [])]}:
            return value
    shown = ", ".join(f"{v} ({', '.join(aliases[v])})" if aliases and aliases.get(v) else v for v in valid)
    raise ValueError(f"unknown {kind} {given!r}: the warehouse's handoffs have {shown or 'none'}")


def cmd_handoffs(args) -> int:
    """The failed handoffs of a week, for one team pair or all, with their reasons and journeys."""
    from pipelines.report.investigate import failed_handoffs
    from pipelines.warehouse import connect
    from pipelines.weeks import parse_week

    parse_week(args.week)
    settings = _settings(args)
    con = connect(settings.warehouse, read_only=True)
    try:
        weeks = [w for (w,) in con.execute("SELECT DISTINCT week FROM handoffs ORDER BY 1").fetchall()]
        week = _one_of("week", args.week, weeks)
        teams = [
            t for (t,) in con.execute("SELECT from_team FROM handoffs UNION SELECT to_team FROM handoffs").fetchall()
        ]
        names = settings.teams.get("names") or {}
        aliases = {code: [str(n) for n in (names.get(code) or {}).values()] for code in teams if code}
        from_team, to_team = (
            None if given is None else _one_of("team", given, sorted(aliases), aliases)
            for given in (args.from_team, args.to_team)
        )
        items = failed_handoffs(
            con,
            week,
            from_team,
            to_team,
            settings.week_timezone,
            with_timeline=args.timeline or args.json,
        )
    finally:
        con.close()
    if args.json:
        print(
            json.dumps(
                [{**vars(i), "timeline": [vars(e) for e in i.timeline]} for i in items],
                indent=2,
                default=str,
                ensure_ascii=False,
            )
        )
        return 0
    print(f"{'handoff':<34} {'kind':<13} {'from':<14} {'to':<14} {'at':<17} reasons")
    for i in items:
        print(
            f"{i.handoff_key[:34]:<34} {i.kind:<13} {i.from_team[:14]:<14} {i.to_team[:14]:<14} "
            f"{i.handoff_at:%Y-%m-%d %H:%M} {', '.join(i.reasons)}"
        )
        for e in i.timeline:
            print(f"    {e.at:%Y-%m-%d %H:%M:%S}  {e.kind:<10} {e.ref:<28} {e.team or '':<14} {e.detail}")
    print(f"{len(items)} failed handoff(s) in {week}")
    return 0


def cmd_demo(args) -> int:
    """Generate sample data if needed, run the real DAGs with dag.test(), print the headline."""
    import shutil

    from pipelines.config import load_settings
    from pipelines.generate import generate
    from pipelines.orchestration.local_airflow import run_dags
    from pipelines.report.scorecard import headline_summary

    home = Path(args.home).resolve()
    os.environ["ESPRIT_DEMO"] = "1"  # the public demo key is accepted for pseudonyms
    settings = load_settings(args.config, base_dir=home)
    if args.fresh:
        for path in (settings.landing, settings.warehouse.parent, settings.out, settings.rejected, home / ".airflow"):
            shutil.rmtree(path, ignore_errors=True)
    step = _stepper()
    if not settings.landing.exists():
        generated = generate(settings.landing, weeks=args.weeks, seed=args.seed, pulse_link=DEMO_PULSE_LINK)
        step(f"generated {generated['files']} landing files in {settings.landing}")
    states = run_dags(home / ".airflow", home, step=step)
    summary = warehouse_summary(settings)
    last = summary["weeks"][-1]
    if args.json:
        print(json.dumps({**summary, "dags": states, "headline": headline_summary(settings, last)}, indent=2))
        return 0
    for dag_id, state in states.items():
        print(f"  {dag_id:<28} {state}")
    print(_run_summary(summary))
    print(f"latest week: {settings.scorecards_dir / last / 'scorecard.html'}\n\nheadline {last}:")
    print("\n".join(headline_summary(settings, last)))
    return 0


def cmd_airflow(args) -> int:
    """Start `airflow standalone` on this folder: SQLite metadata, LocalExecutor, Esprit's DAGs and pool."""
    from pipelines.config import load_settings
    from pipelines.orchestration.local_airflow import (
        airflow_processes,
        esprit_dag_ids,
        set_up_airflow,
        standalone_environment,
        start_standalone,
        stop_standalone,
    )

    home = Path(args.home).resolve()
    if args.stop:
        stopped = stop_standalone(home / ".airflow")
        left = airflow_processes(home / ".airflow", None)
        print(
            f"stopped Airflow of {home}: {stopped['terminated']} processes ended"
            + (f", {stopped['killed']} killed after the grace period" if stopped["killed"] else "")
            + (f"; {len(left)} still running" if left else "")
        )
        return 1 if left else 0
    env = standalone_environment(home, args.port)
    settings = load_settings(args.config, base_dir=home)
    for source in settings.sources:
        (settings.landing / source).mkdir(parents=True, exist_ok=True)
    set_up_airflow(env, settings.orchestration["warehouse_pool"])
    passwords = home / ".airflow" / "simple_auth_manager_passwords.json.generated"
    print(
        f"Airflow UI: http://localhost:{args.port}  login: admin, password: printed below by Airflow "
        f"and kept in {passwords}"
    )
    print(
        f"drop exports into {settings.landing}/<source>/ ({', '.join(settings.sources)}); "
        f"scorecards appear in {settings.scorecards_dir}"
    )
    print(f"stop it with: esprit airflow --stop --home {args.home} (or make airflow-stop)")
    start_standalone(env, esprit_dag_ids(settings.sources))
    return 0  # not reached


def cmd_announce(args) -> int:
    """Put a file in a source's landing folder (if it is not there) and announce it on the stream."""
    from pipelines.console import shown_name
    from pipelines.orchestration.announcements import announce, announcement_stream, place_in_landing, redis_url
    from pipelines.orchestration.tasks import orchestration_settings

    settings = _settings(args)
    found = orchestration_settings(settings)
    if args.source not in settings.sources:
        raise ValueError(f"unknown source {args.source!r}: configured sources are {', '.join(settings.sources)}")
    if not found["redis_channel"]:
        raise ValueError("orchestration.redis_channel is not set (nor ESPRIT_REDIS_CHANNEL): no stream to announce on")
    url = redis_url(found["redis_conn_id"], args.redis)
    name = place_in_landing(Path(args.file), settings.landing / args.source)
    stream = announcement_stream(found["redis_channel"], args.source)
    entry = announce(url, stream, name)
    print(f"announced {shown_name(name)} on {stream} (entry {entry})")
    return 0


def cmd_airflow_setup(args) -> int:
    """Migrate Airflow's metadata database and create the warehouse pool (the deployment's init)."""
    from pipelines.config import load_settings
    from pipelines.orchestration.local_airflow import set_up_airflow

    pool = load_settings(args.config).orchestration["warehouse_pool"]
    set_up_airflow({}, pool)
    print(f"metadata database migrated; pool {pool} has 1 slot")
    return 0


def cmd_deploy_check_env(args) -> int:
    """Check a deployment's .env (a file, or this process's environment) before anything starts."""
    from pipelines.orchestration.deployment import env_problems, read_env_file

    env = read_env_file(Path(args.env_file)) if args.env_file else dict(os.environ)
    problems = env_problems(env)
    for problem in problems:
        print(f"esprit: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.env_file or 'the environment'}: ready for a deployment")
    return 1 if problems else 0


def cmd_deploy_init(args) -> int:
    """The compose file's airflow-init: check .env, migrate, create the pool, hand the folders over."""
    from pipelines.config import load_settings
    from pipelines.orchestration.deployment import init_deployment

    try:
        init_deployment(os.environ, load_settings(args.config))
    except PermissionError as exc:  # run as a user who may not give the folders away
        print(f"esprit: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_profile_init(args) -> int:
    """Propose a profile for an export: printed, or written to --out (never over a file)."""
    from pipelines.ingest.onboarding import propose_profile

    proposal = propose_profile(Path(args.file), args.table, args.name)
    text = proposal.as_yaml()
    if args.out is None:
        print(text, end="")
    else:
        out = Path(args.out)
        if out.exists():
            raise ValueError(f"{out} exists: give another --out, or remove it first")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}")
    todo = [t for t in proposal.todo if not t.startswith("timezone:")]
    print(f"{len(todo)} thing(s) to decide before loading (the TODO lines at the top)", file=sys.stderr)
    return 0


def cmd_contracts(args) -> int:
    from pipelines.contracts import write_generated_files

    for path in write_generated_files():
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="esprit", description=__doc__)
    parser.add_argument("--config", help="project config file (default: esprit.yaml or $ESPRIT_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write seeded sample exports and their ground truth")
    g.add_argument("--weeks", type=int, default=8)
    g.add_argument("--seed", type=int, default=7)
    g.add_argument("--out", default="landing")
    g.add_argument("--start-week", default="2026-W40", help="first ISO week, e.g. 2026-W40")
    g.add_argument("--journeys-per-week", type=int, default=300)
    g.add_argument(
        "--pulse-link",
        type=float,
        default=DEMO_PULSE_LINK,
        help="NPS points (0-10) a survey moves per unit of how well its journey's teams were served (0: none)",
    )
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("run", help="ingest, validate, build the warehouse and render every week, without Airflow")
    r.add_argument("--landing")
    r.add_argument("--warehouse")
    r.add_argument("--out")
    r.add_argument("--json", action="store_true", help="print the run's summary as JSON instead of text")
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("ingest", help="load a file or a folder of exports with a source profile")
    i.add_argument("path", help="a file, or a folder whose files are all loaded")
    i.add_argument("--profile", help="profile name (profiles/NAME.yaml) or path; default: the folder's binding")
    i.add_argument("--source", help="source label for the audit (default: the folder's name)")
    i.add_argument("--warehouse")
    i.add_argument(
        "--dry-run",
        action="store_true",
        help="load into a throw-away home and show the first rows and the quarantine's rules; write nothing",
    )
    i.add_argument("--limit", type=int, default=10, help="rows a dry run shows (default: 10)")
    i.set_defaults(func=cmd_ingest)

    rl = sub.add_parser("reload", help="load files again in place of their earlier loads, e.g. after a profile fix")
    rl.add_argument(
        "path", nargs="?", help="a file, or a folder whose files are all reloaded (each must have been loaded)"
    )
    rl.add_argument(
        "--stale", action="store_true", help="reload every landing file whose profile has changed since its load"
    )
    rl.add_argument("--profile", help="profile name or path; default: the binding of the source it was loaded for")
    rl.add_argument("--warehouse")
    rl.set_defaults(func=cmd_reload)

    rk = sub.add_parser(
        "rotate-key",
        help="re-pseudonymise the warehouse under a new key (ESPRIT_PSEUDONYM_KEY_OLD -> ESPRIT_PSEUDONYM_KEY)",
    )
    rk.add_argument("--landing")
    rk.add_argument("--warehouse")
    rk.add_argument("--out")
    rk.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder holding files loaded from outside the landing folder (repeatable)",
    )
    rk.add_argument(
        "--build",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="rebuild the models in full afterwards (default); else the next build does",
    )
    rk.set_defaults(func=cmd_rotate_key)

    ps = sub.add_parser(
        "pseudonym",
        help="the pseudonym of a customer reference or agent code under the current key, as tables and pages show it",
    )
    ps.add_argument("value", help="the raw value as the export holds it; - reads it from standard input")
    ps.set_defaults(func=cmd_pseudonym)

    pr = sub.add_parser(
        "purge-rejected",
        help="delete rejected files and reports older than ingest.rejected_retention_days (they hold personal data)",
    )
    pr.add_argument("--days", type=float, help="this retention in days instead of the setting's")
    pr.set_defaults(func=cmd_purge_rejected)

    s = sub.add_parser("scorecard", help="render the scorecard of one ISO week (or 'all')")
    s.add_argument("--week", required=True, help="YYYY-Www, or 'all'")
    s.add_argument("--warehouse")
    s.add_argument("--out")
    s.add_argument("--lang", choices=("en", "fr"), help="render one language (default: scorecard.languages)")
    s.add_argument(
        "--pdf",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="print a PDF with Chromium (default: scorecard.pdf, for the weeks of scorecard.pdf_weeks)",
    )
    s.add_argument("--force", action="store_true", help="render weeks whose figures have not changed, too")
    s.set_defaults(func=cmd_scorecard)

    tg = sub.add_parser("targets", help="propose the tiles' targets and watch thresholds from baseline weeks")
    tg.add_argument("--from-weeks", required=True, help="baseline weeks, YYYY-Www..YYYY-Www")
    tg.add_argument("--output", help="write the proposed headline: block here (default: print it)")
    tg.add_argument("--warehouse")
    tg.set_defaults(func=cmd_targets)

    b = sub.add_parser("backfill", help="recompute and re-publish a range of ISO weeks, without Airflow")
    b.add_argument("--from", dest="from_week", required=True, help="first week, YYYY-Www")
    b.add_argument("--to", dest="to_week", required=True, help="last week, YYYY-Www")
    b.add_argument("--full", action="store_true", help="recompute every week, not only those new files touched")
    b.add_argument("--landing")
    b.add_argument("--warehouse")
    b.add_argument("--out")
    b.set_defaults(func=cmd_backfill)

    h = sub.add_parser("handoffs", help="list a week's failed handoffs, for one team pair or all")
    h.add_argument("--week", required=True, help="YYYY-Www")
    h.add_argument("--from", dest="from_team", help="team handing the work over")
    h.add_argument("--to", dest="to_team", help="team receiving it")
    h.add_argument("--timeline", action="store_true", help="show each journey's timeline")
    h.add_argument("--json", action="store_true", help="print JSON (timelines included)")
    h.add_argument("--warehouse")
    h.set_defaults(func=cmd_handoffs)

    d = sub.add_parser("demo", help="sample data through the real Airflow DAGs (dag.test), then the headline")
    d.add_argument("--home", default=".", help="folder for landing/, warehouse/, out/ and .airflow/")
    d.add_argument("--weeks", type=int, default=8)
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--fresh", action="store_true", help="start from empty landing, warehouse and outputs")
    d.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    d.set_defaults(func=cmd_demo)

    a = sub.add_parser("airflow", help="start airflow standalone with Esprit's DAGs, pool and settings")
    a.add_argument("--home", default=".", help="folder for landing/, warehouse/, out/ and .airflow/")
    a.add_argument("--port", type=int, default=8080)
    a.add_argument("--stop", action="store_true", help="stop the Airflow this --home runs, every process of it")
    a.set_defaults(func=cmd_airflow)

    an = sub.add_parser("announce", help="land a file and announce it on the source's Redis stream")
    an.add_argument("source", help="the source whose landing folder receives the file")
    an.add_argument("file", help="the export; copied into the landing folder unless it is there already")
    an.add_argument("--redis", help="Redis URL (default: $ESPRIT_REDIS_URL, else $AIRFLOW_CONN_ESPRIT_REDIS)")
    an.set_defaults(func=cmd_announce)

    su = sub.add_parser("airflow-setup", help="migrate Airflow's metadata DB and create the warehouse pool")
    su.set_defaults(func=cmd_airflow_setup)

    dp = sub.add_parser("deploy", help="the compose deployment: check .env, or run its init")
    dps = dp.add_subparsers(dest="deploy_command", required=True)
    dc = dps.add_parser(
        "check-env", help="check a deployment's .env: secrets set, pseudonymisation key, Fernet key, AIRFLOW_UID"
    )
    dc.add_argument("--env-file", help="the .env file to check (default: this process's environment)")
    dc.set_defaults(func=cmd_deploy_check_env)
    di = dps.add_parser(
        "init",
        help="as root: check the environment's .env, migrate the metadata DB, create the pool, "
        "create the folders and hand them to AIRFLOW_UID:0",
    )
    di.set_defaults(func=cmd_deploy_init)

    pf = sub.add_parser("profile", help="describe a new export: esprit profile init FILE --table TABLE")
    prs = pf.add_subparsers(dest="profile_command", required=True)
    pi = prs.add_parser(
        "init",
        help="propose a profile for an export (dialect, column matches, timestamp formats, value_maps stubs, TODOs)",
        description="Reads a sample of FILE (nothing is loaded) and prints a proposed profile whose "
        "header lists what is left to decide. Example: esprit profile init exports/cases.csv --table cases "
        "--out profiles/my_cases.yaml",
    )
    pi.add_argument("file", help="the export: CSV (any delimiter), JSON lines or Parquet")
    pi.add_argument("--table", required=True, choices=LOADABLE, help="canonical table it loads into")
    pi.add_argument("--name", help="the profile's name (default: from the file name)")
    pi.add_argument("--out", help="write the profile there instead of printing it (never over an existing file)")
    pi.set_defaults(func=cmd_profile_init)

    c = sub.add_parser("contracts", help="regenerate expectations/*.json and docs/data-contracts.md")
    c.set_defaults(func=cmd_contracts)

    th = sub.add_parser("themes", help="themes of service in verbatims: evaluate the matcher, find emergent topics")
    ths = th.add_subparsers(dest="themes_command", required=True)
    te = ths.add_parser(
        "evaluate",
        help="precision and recall of the theme matcher against the hand labels, per theme and language",
        description="Reads the French verbatims of tests/fixtures/verbatims and, when the real NPS export is "
        "found (ESPRIT_REALDATA), the labelled English rows, in place; prints one table per set "
        "(docs/labelling-guide.md, docs/metrics.md).",
    )
    te.add_argument("--realdata", help="folder of the real exports (default: ESPRIT_REALDATA or ../shared/realdata)")
    te.set_defaults(func=cmd_themes_evaluate)
    tm = ths.add_parser(
        "emergent",
        help="topics the taxonomy does not name, per week: TF-IDF and NMF over the warehouse's verbatims",
        description="Reads the scrubbed verbatims of the warehouse (stg_survey_responses) of the last WEEKS weeks "
        "and prints, per week and language, each emergent topic's top terms, its verbatims and those in which "
        "no theme of the taxonomy is found.",
    )
    tm.add_argument("--weeks", type=int, default=4, help="how many of the latest weeks")
    tm.add_argument("--topics", type=int, default=6, help="topics per week and language, at most")
    tm.add_argument("--warehouse")
    tm.set_defaults(func=cmd_themes_emergent)
    nested = [("profile", prs), ("deploy", dps), ("themes", ths)]
    for name, command in [
        *sub.choices.items(),
        *((f"{parent} {n}", p) for parent, group in nested for n, p in group.choices.items()),
    ]:
        command.formatter_class = HelpFormatter
        for action in command._actions:  # an option with a default but no help still shows its default
            if action.help is None and action.default not in (None, False, argparse.SUPPRESS):
                action.help = "(default: %(default)s)"
        group = dict(nested).get(name.split()[0], sub)
        command.description = command.description or _help_of(sub, name) or _help_of(group, name.split()[-1])
        command.epilog = "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name])
    return parser


def _help_of(subparsers, name: str) -> str | None:
    return next((a.help for a in subparsers._choices_actions if a.dest == name), None)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; an option's default shown when it has one."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, [], argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


# `esprit COMMAND --help` ends with these
EXAMPLES = {
    "generate": ["esprit generate --weeks 8 --seed 7 --out landing/"],
    "run": ["esprit run", "esprit run --landing exports/ --out out/", "esprit run --json > run.json"],
    "ingest": [
        "esprit ingest landing/calls/                      # every file, with the folder's profile binding",
        "esprit ingest export.csv --profile profiles/my_cases.yaml --source complaints",
        "esprit ingest export.csv --profile my_cases --dry-run --limit 5",
    ],
    "reload": ["esprit reload landing/calls/calls_2026-W40.csv", "esprit reload --stale"],
    "rotate-key": ["ESPRIT_PSEUDONYM_KEY_OLD=<old> ESPRIT_PSEUDONYM_KEY=<new> esprit rotate-key"],
    "pseudonym": ["esprit pseudonym A1042", 'read -s CODE; echo "$CODE" | esprit pseudonym -'],
    "purge-rejected": ["esprit purge-rejected", "esprit purge-rejected --days 7"],
    "scorecard": ["esprit scorecard --week 2026-W46", "esprit scorecard --week all --lang fr"],
    "backfill": ["esprit backfill --from 2026-W01 --to 2026-W10"],
    "targets": [
        "esprit targets --from-weeks 2026-W01..2026-W13",
        "esprit targets --from-weeks 2026-W01..2026-W13 --output targets.yaml",
    ],
    "handoffs": [
        "esprit handoffs --week 2026-W46",
        "esprit handoffs --week 2026-W46 --from accueil --to reclamations --timeline",
    ],
    "demo": ["esprit demo --fresh", "esprit demo --home /srv/esprit-demo --weeks 12"],
    "airflow": ["esprit airflow --home . --port 8080", "esprit airflow --stop --home ."],
    "airflow-setup": ["esprit airflow-setup"],
    "announce": [
        "esprit announce calls landing/calls/calls_2026-W47.csv",
        "ESPRIT_REDIS_URL=redis://redis:6379/1 esprit announce calls /exports/calls_2026-W47.csv",
    ],
    "deploy": ["esprit deploy check-env --env-file .env", "esprit deploy init"],
    "deploy check-env": ["esprit deploy check-env --env-file .env"],
    "deploy init": ["esprit deploy init   # as root: what docker compose up airflow-init runs"],
    "profile": ["esprit profile init export.csv --table cases"],
    "profile init": [
        "esprit profile init export.csv --table cases",
        "esprit profile init export.csv --table cases --name my_cases --out profiles/my_cases.yaml",
    ],
    "contracts": ["esprit contracts"],
    "themes": ["esprit themes evaluate"],
    "themes evaluate": ["esprit themes evaluate", "ESPRIT_REALDATA=../shared/realdata esprit themes evaluate"],
    "themes emergent": ["esprit themes emergent", "esprit themes emergent --weeks 8 --topics 4"],
}


EXIT_BUSY = 3  # the warehouse is in use by another process (1: a file was rejected or failed; 2: bad usage or input)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipelines.warehouse import WarehouseBusy

    try:
        return args.func(args)
    except BrokenPipeError:  # `esprit ... | head`: the reader has gone, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except WarehouseBusy as exc:  # its own exit status: nothing is wrong with the files, try later
        print(f"esprit: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"esprit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
