"""The record head's boosted trees: exported from scikit-learn, evaluated without it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cardiostream.errors import InputError
from cardiostream.rhythm.bundle import read_bundle, weights_dir
from cardiostream.rhythm.record_trees import TREE_WEIGHT, RecordTrees, blend

NAMES = ("a", "b", "c", "d", "e")


def _data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(NAMES)))
    # Classes that need thresholds on two features, as the record evidence does.
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] + 0.3 * x[:, 2] > 0.5).astype(int)
    return x, y


def test_exported_trees_give_scikit_learns_scores_and_probabilities() -> None:
    sklearn = pytest.importorskip("sklearn.ensemble")
    from cardiostream.training.record_trees_fit import PARAMS, _export

    x, y = _data()
    model = sklearn.HistGradientBoostingClassifier(**PARAMS, random_state=0).fit(x, y)
    trees = _export(model, NAMES)
    test, _ = _data(200, seed=1)
    np.testing.assert_allclose(trees.scores(test), model._raw_predict(test), atol=1e-12)
    np.testing.assert_allclose(
        np.exp(trees.log_probabilities(test)), model.predict_proba(test), atol=1e-12
    )
    assert trees.depth >= 2 and (trees.feature >= 0).any()


def test_fit_trees_round_trips_through_json_and_refuses_a_missing_class() -> None:
    pytest.importorskip("sklearn")
    from cardiostream.training.record_trees_fit import fit_trees

    x, y = _data()
    trees = fit_trees(x, y, names=NAMES)
    again = RecordTrees.from_dict(json.loads(json.dumps(trees.to_dict())), NAMES)
    np.testing.assert_array_equal(again.scores(x), trees.scores(x))
    accuracy = (trees.scores(x).argmax(1) == y).mean()
    assert accuracy > 0.9, accuracy
    with pytest.raises(ValueError, match="every class"):
        fit_trees(x[y < 3], y[y < 3], names=NAMES)
    with pytest.raises(ValueError, match="non-finite"):
        fit_trees(np.where(x > 2, np.nan, x), y, names=NAMES)


def test_from_dict_refuses_other_features_and_broken_nodes() -> None:
    pytest.importorskip("sklearn")
    from cardiostream.training.record_trees_fit import fit_trees

    x, y = _data()
    data = fit_trees(x, y, names=NAMES).to_dict()
    with pytest.raises(ValueError, match="features differ"):
        RecordTrees.from_dict(data, NAMES[:-1])
    broken = dict(data, left=[len(data["left"])] * len(data["left"]))
    with pytest.raises(ValueError, match="inconsistent"):
        RecordTrees.from_dict(broken, NAMES)
    with pytest.raises(ValueError, match="expected 5 features"):
        RecordTrees.from_dict(data, NAMES).scores(x[:, :4])


def test_a_nan_input_goes_right_and_a_stump_gives_its_leaves() -> None:
    # One split on feature 1 at 0.5: left leaf +1, right leaf -1, for class 0 of two.
    trees = RecordTrees(
        feature=np.array([1, -1, -1]),
        number=np.array([0.5, 1.0, -1.0]),
        left=np.array([1, -1, -1]),
        roots=np.array([0]),
        tree_class=np.array([0]),
        baseline=np.array([0.25, 0.0]),
        depth=1,
        features=("p", "q"),
    )
    x = np.array([[9.0, 0.5], [9.0, 0.6], [0.0, np.nan]])
    np.testing.assert_array_equal(trees.scores(x), [[1.25, 0.0], [-0.75, 0.0], [-0.75, 0.0]])


def test_blend_weighs_the_log_probabilities() -> None:
    head = np.log([[0.7, 0.1, 0.1, 0.1]]) + 3.0  # logits: any offset
    trees = np.log([[0.1, 0.7, 0.1, 0.1]])
    out = blend(head, trees)
    expected = (1 - TREE_WEIGHT) * np.log([0.7, 0.1, 0.1, 0.1]) + TREE_WEIGHT * trees[0]
    np.testing.assert_allclose(out[0], expected)


def test_the_shipped_model_has_trees_and_a_bundle_checks_them(tmp_path: Path) -> None:
    bundle = read_bundle()
    assert bundle.record_trees is not None and bundle.record_head is not None
    assert bundle.record_trees.features == bundle.record_head.features
    folder = tmp_path / "model"
    shutil.copytree(weights_dir(), folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["record_trees"]["roots"] = [10**9]
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="record_trees: trees: inconsistent"):
        read_bundle(folder)
    meta["record_head"] = None
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="needs a record_head"):
        read_bundle(folder)


def test_the_shipped_window_head_has_trees_and_a_bundle_checks_them(tmp_path: Path) -> None:
    bundle = read_bundle()
    assert bundle.window_head is not None and bundle.window_head.trees is not None
    assert bundle.window_head.trees.features == bundle.window_head.head.features
    folder = tmp_path / "model"
    shutil.copytree(weights_dir(), folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["window_trees"]["left"] = meta["window_trees"]["left"][:-1]
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="window_trees: trees: inconsistent"):
        read_bundle(folder)
    meta["window_head"] = meta["window_fusion"] = None
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="window_trees entry needs a window_head"):
        read_bundle(folder)
