"""The code's layout: pipelines/ grouped by stage, imports one way (docs/where-things-live.md)."""

import ast

from tests.conftest import REPO_ROOT

PIPELINES = REPO_ROOT / "pipelines"
# Each group may import itself and the groups after it in this list, never one before it.
ORDER = ["cli", "orchestration", "report", "model", "listening", "ingest", "shared"]
STAGES = {"ingest", "model", "report", "orchestration", "listening"}


def _group(parts: list[str]) -> str:
    """The group of pipelines.<parts>: a stage package, the command line, or a shared module."""
    if parts and parts[0] in STAGES:
        return parts[0]
    return "cli" if parts[:1] == ["cli"] else "shared"


def _imports(path):
    """Every pipelines module `path` imports, at the top or inside a function, as name parts."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pipelines":
            yield node.module.split(".")[1:] or [node.names[0].name]
        elif isinstance(node, ast.Import):
            yield from (a.name.split(".")[1:] for a in node.names if a.name.split(".")[0] == "pipelines")


def test_imports_go_one_way_from_orchestration_down_to_the_shared_modules():
    wrong = []
    for path in sorted(PIPELINES.rglob("*.py")):
        parts = list(path.relative_to(PIPELINES).with_suffix("").parts)
        source = _group(parts)
        for target in map(_group, _imports(path)):
            if ORDER.index(target) < ORDER.index(source):
                wrong.append(f"{path.relative_to(REPO_ROOT)} ({source}) imports from {target}")
    assert not wrong, "\n".join(wrong)
    assert {p.name for p in PIPELINES.iterdir() if p.is_dir() and p.name != "__pycache__"} == STAGES


def test_the_layering_test_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipelines.report.i18n import TEXT\n")
    assert [_group(p) for p in _imports(module)] == ["report"]
    assert ORDER.index("report") < ORDER.index("shared")
