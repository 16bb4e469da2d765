"""The package's layout: imports point upstream only, no module imports itself round a cycle,
and the runtime imports nothing heavy (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cardiostream"

#: Each stage's place in the data flow: a module may import its own stage and those ranked
#: below it. The top-level package re-exports the runtime, so only stages after it import it.
RANK: dict[str, float] = {
    "errors": 0,
    "record": 0,
    "extras": 0,
    "wire": 0,
    "progress": 0,
    "packing": 0,
    "io": 1,
    "samples": 1,
    "dsp": 2,
    "beats": 3,
    "rhythm": 4,
    "stream": 5,
    "": 5.5,  # cardiostream/__init__.py
    "sim": 6,
    "report": 6,
    "cluster": 6,  # the engine over many machines; used by evaluate and cli only
    "evaluate": 7,
    "training": 8,
    "serve": 9,
    "cli": 10,
    "__main__": 11,
}

#: What neither ``import cardiostream`` nor ``import cardiostream.stream`` may load.
HEAVY = ("torch", "pyarrow", "rich", "fastapi", "matplotlib", "uvicorn", "pandas")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str:
    """The module a dotted import name lands in (``a.b.func`` → ``a.b``)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every import of the package in a module, function-level ones included, as the modules
    they load (a name imported from a package is the submodule when there is one)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cardiostream":
                    yield node.lineno, _owner(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "cardiostream":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                yield node.lineno, sub if sub in MODULES else _owner(node.module)


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _graph() -> dict[str, set[str]]:
    return {
        name: {target for _, target in _imports(path) if target != name}
        for name, path in MODULES.items()
    }


def test_every_stage_has_a_rank() -> None:
    assert {_stage(m) for m in MODULES} <= set(RANK)


def test_imports_point_upstream_only() -> None:
    wrong = []
    for name, path in MODULES.items():
        for line, target in _imports(path):
            if RANK[_stage(target)] > RANK[_stage(name)]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not wrong, "imports that run up the stages:\n" + "\n".join(wrong)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_round_a_cycle() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", ["cardiostream", "cardiostream.stream"])
def test_the_runtime_imports_nothing_heavy(module: str) -> None:
    code = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "", f"import {module} loads: {run.stdout.strip()}"
