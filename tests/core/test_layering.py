"""The structure holds: import-linter's contracts (.importlinter: layers, providers apart
from app, no cycle between packages or files) and no private name crosses a domain."""
from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_import_linter_contracts_hold(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True,
                        no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BROKEN" not in out and "KEPT" in out


def _domain(module: str) -> str:
    """``app.dispatch.service`` → ``app.dispatch``; ``providers.http`` → ``providers``."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "app" else parts[0]


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def private_imports(source: str, module: str) -> list[str]:
    """Private names (``_x``) this module takes from another domain, directly or through an
    imported module (``service._x``)."""
    own = _domain(module)
    found, foreign_modules = [], {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _domain(node.module) == own or node.module.split(".")[0] not in ("app", "providers"):
                continue
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"{module}: from {node.module} import {alias.name}")
                else:
                    foreign_modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("app", "providers") and \
                        _domain(alias.name) != own and alias.asname:
                    foreign_modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in foreign_modules and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"{module}: {foreign_modules[node.value.id]}.{node.attr}")
    return found


def test_the_private_name_check_sees_both_forms():
    source = ("from app.dispatch.service import _state_before_dispatch\n"
              "from app.billing import service as billing\n"
              "billing._charge_line(1)\n"
              "from app.trips.models import _helper\n")
    assert private_imports(source, "app.trips.service") == [
        "app.trips.service: from app.dispatch.service import _state_before_dispatch",
        "app.trips.service: app.billing.service._charge_line"]


def test_no_private_name_is_imported_across_domains():
    found = []
    for path in sorted([*ROOT.glob("app/**/*.py"), *ROOT.glob("providers/**/*.py")]):
        found += private_imports(path.read_text(encoding="utf-8"), _module_of(path))
    assert found == []


def import_cycles(package: str) -> list[list[str]]:
    """Groups of modules of ``package`` that import each other in a circle (Tarjan's SCCs
    over grimp's import graph, the one import-linter builds)."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_between_files(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    assert import_cycles("app") == []
    assert import_cycles("providers") == []


def test_the_cycle_finder_sees_a_cycle(tmp_path, monkeypatch):
    package = tmp_path / "circular_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circular_pkg import b\n")
    (package / "b.py").write_text("from circular_pkg import c\n")
    (package / "c.py").write_text("import circular_pkg.a\n")
    (package / "d.py").write_text("from circular_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circular_pkg") == [["circular_pkg.a", "circular_pkg.b",
                                              "circular_pkg.c"]]
