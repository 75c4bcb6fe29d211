"""The house holds its shape: what the light functions ship, no import cycles, rooms of a
readable size, docs that live in the repository, and a README that lists the registry.

The direction of imports between layers is held by `lint-imports` (pyproject.toml).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import grimp
import pytest

from rag_eval.cli.scoring import metrics_markdown

ROOT = Path(__file__).resolve().parents[1]
LAYER_MODULES = ROOT / "layers" / "common" / "rag_eval_modules.txt"
LIGHT_HANDLERS = ("functions/api/app.py", "functions/list/app.py")
MAX_MODULE_LINES = 400
# A module longer than that says why at its top, with these words.
LONG_ON_PURPOSE = "Long on purpose:"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("rag_eval")


def _module_file(module: str) -> str:
    path = Path(*module.split("."))
    return str(path / "__init__.py") if (ROOT / path).is_dir() else f"{path}.py"


def test_common_layer_ships_exactly_what_the_light_handlers_import(graph) -> None:
    # GIVEN the rag_eval modules the API and list handlers import
    roots = {
        node.module
        for handler in LIGHT_HANDLERS
        for node in ast.walk(ast.parse((ROOT / handler).read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rag_eval")
    }
    # WHEN their closure is taken (imports inside functions count: they run on a request)
    closure = set(roots).union(*(graph.find_upstream_modules(root) for root in roots))
    packages = {".".join(m.split(".")[:i]) for m in closure for i in range(1, m.count(".") + 1)}
    needed = sorted(_module_file(m) for m in closure | packages)

    # THEN the layer's list is that closure, and none of the scoring path is in it
    listed = [
        line
        for line in LAYER_MODULES.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert listed == needed
    assert not [m for m in listed if re.match(r"rag_eval/(scoring|advice|cli|local)/", m)]


def test_no_module_imports_itself_through_others(graph) -> None:
    cycles = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    ]
    assert cycles == []


def test_every_module_fits_on_a_screen_or_two_or_says_why() -> None:
    long = [
        f"{path.relative_to(ROOT)} ({lines} lines)"
        for path in sorted((ROOT / "rag_eval").rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
        and LONG_ON_PURPOSE not in (ast.get_docstring(ast.parse(path.read_text())) or "")
    ]
    assert long == []


def test_nothing_points_at_documents_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    outside = re.compile(r"DESIGN\.md|PLATFORM-NOTES|STYLE\.md|\.\./shared|score_job_manager")
    hits = [
        name
        for name in tracked
        if (ROOT / name).is_file()
        and name != "tests/test_architecture.py"
        and outside.search((ROOT / name).read_text(encoding="utf-8", errors="replace"))
    ]
    assert hits == []


def test_the_readme_lists_the_registrys_metrics() -> None:
    assert metrics_markdown() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_architecture_doc_names_every_package() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    packages = sorted(
        path.parent.relative_to(ROOT).as_posix() + "/"
        for path in (ROOT / "rag_eval").rglob("__init__.py")
        if path.parent != ROOT / "rag_eval"
    )
    assert [p for p in packages if f"`{p}`" not in doc] == []


def test_the_architecture_doc_lists_every_setting() -> None:
    from rag_eval.domain.settings import Settings

    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    aliases = [field.alias for field in Settings.model_fields.values()]
    assert [name for name in aliases if f"`{name}`" not in doc] == []
