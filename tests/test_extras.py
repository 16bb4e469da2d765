"""The core install and its extras: pyproject and :mod:`cardiostream.extras` agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from cardiostream.extras import EXTRA_OF, install_hint, missing_extra_message

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
#: Import names whose distribution is spelled differently.
DISTRIBUTION = {
    "prometheus_client": "prometheus-client",
    "starlette": "fastapi",
    "pydantic": "fastapi",
}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_core_has_none_of_the_optional_parts() -> None:
    core = _names(PYPROJECT["project"]["dependencies"])
    assert not {DISTRIBUTION.get(m, m) for m in EXTRA_OF} & core
    assert {"numpy", "scipy", "numba", "onnxruntime", "typer"} <= core


def test_each_optional_module_comes_with_the_extra_that_names_it() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    for module, extra in EXTRA_OF.items():
        assert DISTRIBUTION.get(module, module) in _names(extras[extra]), (module, extra)


def test_the_message_names_the_extra_and_ignores_other_modules() -> None:
    message = missing_extra_message(ModuleNotFoundError("no", name="matplotlib.pyplot"))
    assert message is not None and install_hint("plot") in message
    assert missing_extra_message(ModuleNotFoundError("no", name="numpy")) is None
