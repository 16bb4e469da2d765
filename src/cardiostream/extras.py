"""Optional parts of the package and the extras that bring them.

``pip install cardiostream`` is the core: reading, filtering, R peaks, HRV, quality, the rhythm
model on ONNX Runtime, the engine and the command line. The server and dashboard, plots, the
Holter report's HTML and PDF, the scale-out over Dask and Redis, and training come with
extras; a missing one is named with the command that installs it.
"""

from __future__ import annotations

#: The top-level module of each optional dependency, and the extra that installs it.
EXTRA_OF: dict[str, str] = {
    "fastapi": "serve",
    "starlette": "serve",
    "pydantic": "serve",
    "uvicorn": "serve",
    "websockets": "serve",
    "prometheus_client": "serve",
    "matplotlib": "plot",
    "weasyprint": "report",
    "jinja2": "report",
    "dask": "scale",
    "distributed": "scale",
    "redis": "scale",
    "torch": "train",
    "onnx": "train",
    "onnxscript": "train",
    "threadpoolctl": "train",
}


def install_hint(extra: str) -> str:
    """The command that installs ``extra``."""
    return f"pip install 'cardiostream[{extra}]'"


def missing_extra_message(exc: ModuleNotFoundError) -> str | None:
    """One line naming the extra that would have brought the missing module, or None when the
    module is not an optional dependency of the package."""
    root = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(root)
    if extra is None:
        return None
    return f"{root} is not installed: this needs the {extra} extra ({install_hint(extra)})"
