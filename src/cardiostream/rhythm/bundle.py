"""The model bundle: a folder with ``model.json`` and the network's weights, read once.

``model.json`` holds the network's layout (``net``), its temperature and frame threshold,
and the record and window heads with their own temperatures and thresholds (the record
head's boosted trees beside it). The streaming
engine and :class:`~cardiostream.rhythm.RhythmModel` both read a folder through
:func:`read_bundle`, so they agree on every number in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from cardiostream.errors import InputError
from cardiostream.rhythm.beat_sequence import BeatSequence
from cardiostream.rhythm.record_head import FEATURES, RecordHead
from cardiostream.rhythm.record_trees import RecordTrees
from cardiostream.rhythm.rr_fusion import RRFusion
from cardiostream.rhythm.window_head import WindowHead

#: The bundle's description.
META_FILE = "model.json"


def weights_dir() -> Path:
    """Folder of the shipped model files."""
    return Path(str(resources.files("cardiostream.rhythm") / "weights"))


@dataclass(frozen=True)
class ModelBundle:
    """What a model folder says.

    Attributes
    ----------
    folder : Path
        Where the files are (``rhythm.npz``, ``rhythm.onnx``, ``rhythm.pt``, ``model.json``).
    meta : dict
        ``model.json`` as read.
    temperature, threshold : float
        The network's frames' temperature and confidence threshold.
    channels : int
        The network's input channels.
    record_head : RecordHead or None
        The record head, with ``record_temperature`` and ``record_threshold`` (the frames'
        threshold without a head).
    beat_sequence : BeatSequence or None
        The beat-sequence ensemble whose output the record head reads (always with one).
    record_trees : RecordTrees or None
        Boosted trees over the record head's inputs, blended into its verdict
        (:mod:`cardiostream.rhythm.record_trees`); only with a record head.
    window_head : WindowHead or None
        The window head, with its boosted trees where ``model.json`` has a ``window_trees``
        entry; ``window_threshold`` is its threshold (the frames' without it, the fusion's
        with one).
    window_fusion : RRFusion or None
        The RR AF detector's evidence fused into the window head's verdict
        (:mod:`cardiostream.rhythm.rr_fusion`); only with a window head.
    """

    folder: Path
    meta: dict[str, Any]
    temperature: float
    threshold: float
    channels: int
    record_head: RecordHead | None
    record_temperature: float
    record_threshold: float
    window_head: WindowHead | None
    window_threshold: float
    window_fusion: RRFusion | None = None
    beat_sequence: BeatSequence | None = None
    record_trees: RecordTrees | None = None

    def net_config(self) -> dict[str, Any]:
        """Keyword arguments of the torch network's configuration (tuples restored)."""
        return config_from_json(self.meta["net"])


def read_bundle(folder: str | Path | None = None) -> ModelBundle:
    """Read the model folder ``folder`` (the shipped model by default).

    Raises
    ------
    InputError
        If the folder has no ``model.json``.
    """
    path = Path(folder) if folder is not None else weights_dir()
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise InputError(f"{meta_path}: no rhythm model here (train one: cardiostream train)")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    threshold = float(meta["threshold"])
    record = meta.get("record_head")
    window_trees = meta.get("window_trees")
    if window_trees and not meta.get("window_head"):
        raise InputError(f"{meta_path}: a window_trees entry needs a window_head")
    try:
        window = WindowHead(meta["window_head"], window_trees) if meta.get("window_head") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{meta_path}: window_trees: {exc}") from exc
    fusion = RRFusion.from_dict(meta["window_fusion"]) if meta.get("window_fusion") else None
    if fusion is not None and window is None:
        raise InputError(f"{meta_path}: a window_fusion entry needs a window_head")
    window_threshold = window.threshold if window is not None else threshold
    sequence = BeatSequence.from_dict(meta["beat_sequence"]) if meta.get("beat_sequence") else None
    if record and sequence is None:
        raise InputError(f"{meta_path}: a record_head entry needs a beat_sequence")
    trees_entry = meta.get("record_trees")
    if trees_entry and not record:
        raise InputError(f"{meta_path}: a record_trees entry needs a record_head")
    try:
        trees = RecordTrees.from_dict(trees_entry, FEATURES) if trees_entry else None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{meta_path}: record_trees: {exc}") from exc
    return ModelBundle(
        folder=path,
        meta=meta,
        temperature=float(meta["temperature"]),
        threshold=threshold,
        channels=int(meta.get("net", {}).get("inputs", 2)),
        record_head=RecordHead.from_dict(record) if record else None,
        record_temperature=float(record.get("temperature", 1.0)) if record else 1.0,
        record_threshold=float(record["threshold"]) if record else threshold,
        window_head=window,
        window_threshold=fusion.threshold if fusion is not None else window_threshold,
        window_fusion=fusion,
        beat_sequence=sequence,
        record_trees=trees,
    )


@lru_cache(maxsize=8)
def cached_bundle(folder: str) -> ModelBundle:
    """:func:`read_bundle`, kept for the process: streams that share a model share its heads."""
    return read_bundle(folder)


def config_from_json(data: dict[str, Any]) -> dict[str, Any]:
    """The ``net`` entry of ``model.json`` with its lists made tuples again."""
    out = dict(data)
    for key in ("widths",):
        out[key] = tuple(out[key])
    out["layers"] = tuple(tuple(layer) for layer in out["layers"])
    return out
