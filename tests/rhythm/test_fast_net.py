"""The numba rhythm network: equal to ONNX and torch, exact under any chunking, strict input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cardiostream.errors import InputError
from cardiostream.io import read
from cardiostream.rhythm.bundle import weights_dir
from cardiostream.rhythm.fast_net import FRAME, FastRhythmNet, load_weights
from cardiostream.rhythm.infer import RhythmModel, prepare_record
from cardiostream.samples import sample_path

Inputs = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def shipped() -> FastRhythmNet:
    return FastRhythmNet.from_file(weights_dir() / "rhythm.npz")


@pytest.fixture(scope="module")
def af_inputs() -> Inputs:
    """The network's 3-channel input for 40 s of MITDB 201 (atrial fibrillation)."""
    rec = read(sample_path("mitdb-201-af"))
    prep = prepare_record(rec.lead(0)[: round(40 * rec.fs)], rec.fs, 3, pad=False, quality=False)
    return prep.inputs


def test_the_inputs_are_realistic(af_inputs: Inputs) -> None:
    """Guard for the tests below: an ECG channel and non-trivial RR channels."""
    assert af_inputs.shape == (3, 40 * FRAME)
    assert af_inputs.dtype == np.float32
    assert np.ptp(af_inputs[0]) > 0.5  # mV
    rr = af_inputs[1][af_inputs[1] > 0]
    assert rr.size > 0 and rr.min() >= 0.2 and rr.max() <= 3.0
    assert np.unique(af_inputs[2]).size > 5  # AF: the RR change keeps moving


def test_shipped_weights_load(shipped: FastRhythmNet) -> None:
    weights = load_weights(weights_dir() / "rhythm.npz")
    strides = weights["strides"]
    assert int(np.prod(strides)) == FRAME
    assert strides[-1] == 1 and not weights["relu"][-1] and weights["relu"][:-1].all()
    assert shipped.channels == 3 and shipped.n_classes == 4
    assert len(shipped.layers) == strides.size
    state = shipped.initial_state()
    assert state["norm"].shape == (499,)
    for i, (w, _, s, _) in enumerate(shipped.layers):
        assert state[f"ctx{i}"].shape == (w.shape[0] - s, w.shape[1])


def test_shipped_weights_match_the_onnx_model(shipped: FastRhythmNet, af_inputs: Inputs) -> None:
    fast = shipped.logits(af_inputs)
    onnx = RhythmModel().frame_logits(af_inputs[None])[0].T
    assert fast.shape == onnx.shape == (40, 4)
    assert fast.dtype == np.float32
    assert np.abs(onnx).max() > 1.0  # real logits, not a network of zeros
    np.testing.assert_allclose(fast, onnx, rtol=0, atol=1e-5)


def test_logits_drops_a_trailing_partial_frame(shipped: FastRhythmNet, af_inputs: Inputs) -> None:
    whole = shipped.logits(af_inputs[:, : 12 * FRAME])
    ragged = shipped.logits(af_inputs[:, : 12 * FRAME + 137])
    np.testing.assert_array_equal(ragged, whole)


def _randomised_net(seed: int) -> object:
    torch = pytest.importorskip("torch", reason="torch is in the train extra")
    from cardiostream.rhythm.model import RhythmNet

    torch.manual_seed(seed)
    net = RhythmNet()
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm1d):
                assert mod.running_mean is not None and mod.running_var is not None
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.3, 3.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.3, 0.3)
    return net.eval()


def _torch_logits(net: object, x: Inputs) -> Inputs:
    import torch

    assert isinstance(net, torch.nn.Module)
    with torch.no_grad():
        out: Inputs = net(torch.from_numpy(x[None]))[0].T.numpy()
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_folded_weights_equal_the_torch_network(seed: int, af_inputs: Inputs) -> None:
    net = _randomised_net(seed)
    from cardiostream.training.export import fold_weights

    weights = fold_weights(net)  # type: ignore[arg-type]
    fast = FastRhythmNet(weights)
    reference = _torch_logits(net, af_inputs)
    assert np.abs(reference).max() > 0.05
    np.testing.assert_allclose(fast.logits(af_inputs), reference, rtol=0, atol=1e-5)
    strides = [s for _, s in net.config.layers]  # type: ignore[attr-defined]
    np.testing.assert_array_equal(weights["strides"], [*strides, 1])
    np.testing.assert_array_equal(weights["relu"], [True] * len(strides) + [False])


def test_folding_changes_with_the_running_statistics(af_inputs: Inputs) -> None:
    """Folding reads the running statistics: other statistics, other weights and logits."""
    from cardiostream.training.export import fold_weights

    a, b = _randomised_net(3), _randomised_net(4)
    fa, fb = fold_weights(a), fold_weights(b)  # type: ignore[arg-type]
    assert not np.array_equal(fa["w0"], fb["w0"])
    np.testing.assert_allclose(
        FastRhythmNet(fb).logits(af_inputs), _torch_logits(b, af_inputs), rtol=0, atol=1e-5
    )


def test_export_fast_round_trips(tmp_path: Path, af_inputs: Inputs) -> None:
    net = _randomised_net(5)
    from cardiostream.training.export import export_fast, fold_weights

    path = export_fast(net, tmp_path / "sub" / "rhythm.npz")  # type: ignore[arg-type]
    assert path == tmp_path / "sub" / "rhythm.npz" and path.is_file()
    folded = fold_weights(net)  # type: ignore[arg-type]
    loaded = load_weights(path)
    assert set(loaded) == set(folded)
    for key, value in folded.items():
        np.testing.assert_array_equal(loaded[key], value)
        assert loaded[key].dtype == value.dtype
    from_file = FastRhythmNet.from_file(path).logits(af_inputs)
    np.testing.assert_array_equal(from_file, FastRhythmNet(folded).logits(af_inputs))
    np.testing.assert_allclose(from_file, _torch_logits(net, af_inputs), rtol=0, atol=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_any_chunking_of_whole_frames_is_bit_identical(
    seed: int, shipped: FastRhythmNet, af_inputs: Inputs
) -> None:
    whole = shipped.run(af_inputs, shipped.initial_state())
    rng = np.random.default_rng(seed)
    state = shipped.initial_state()
    parts, pos = [], 0
    n_frames = af_inputs.shape[1] // FRAME
    while pos < n_frames:
        m = int(rng.integers(0, 9))  # empty chunks included
        chunk = af_inputs[:, pos * FRAME : (pos + m) * FRAME]
        out = shipped.run(chunk, state)
        assert out.shape == (chunk.shape[1] // FRAME, 4)
        parts.append(out)
        pos += m
    streamed = np.concatenate(parts)
    assert streamed.shape == whole.shape == (n_frames, 4)
    assert np.array_equal(streamed, whole)


def test_one_frame_at_a_time_is_bit_identical(shipped: FastRhythmNet, af_inputs: Inputs) -> None:
    whole = shipped.logits(af_inputs)
    state = shipped.initial_state()
    frames = [
        shipped.run(af_inputs[:, i : i + FRAME], state) for i in range(0, af_inputs.shape[1], FRAME)
    ]
    assert np.array_equal(np.concatenate(frames), whole)


def test_the_state_is_what_carries_the_stream(shipped: FastRhythmNet, af_inputs: Inputs) -> None:
    """A fresh state restarts the stream: the second half alone differs from its streamed
    frames, and a copied state continues the stream exactly."""
    half = 20 * FRAME
    state = shipped.initial_state()
    shipped.run(af_inputs[:, :half], state)
    saved = {k: v.copy() for k, v in state.items()}
    continued = shipped.run(af_inputs[:, half:], state)
    again = shipped.run(af_inputs[:, half:], saved)
    assert np.array_equal(continued, again)
    restarted = shipped.run(af_inputs[:, half:], shipped.initial_state())
    assert not np.allclose(restarted[:5], continued[:5], atol=1e-3)


@pytest.mark.parametrize("shape", [(2, 250), (4, 500), (3, 300), (3, 249), (250,), (3, 250, 1)])
def test_run_refuses_malformed_inputs(shipped: FastRhythmNet, shape: tuple[int, ...]) -> None:
    state = shipped.initial_state()
    before = {k: v.copy() for k, v in state.items()}
    with pytest.raises(InputError, match="inputs"):
        shipped.run(np.ones(shape, np.float32), state)
    for key, value in before.items():
        assert np.array_equal(state[key], value)


def test_load_weights_of_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing"):
        load_weights(tmp_path / "nothing.npz")
    with pytest.raises(InputError, match="missing"):
        FastRhythmNet.from_file(tmp_path / "nothing.npz")
    with pytest.raises(InputError, match="missing"):
        load_weights(tmp_path)  # a folder is not a weights file


def test_load_weights_of_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "rhythm.npz"
    path.write_text("not a weights file\n")
    with pytest.raises(InputError, match="not a weights file"):
        load_weights(path)


@pytest.mark.parametrize("kind", ["npy", "bad_zip"])
def test_load_weights_of_other_non_npz_files(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "rhythm.npz"
    if kind == "npy":
        with path.open("wb") as fh:
            np.save(fh, np.zeros(3, np.float32))
    else:
        path.write_bytes(b"PK\x03\x04 truncated zip archive")
    with pytest.raises(InputError):
        load_weights(path)


def test_malformed_weights_are_input_errors() -> None:
    good = load_weights(weights_dir() / "rhythm.npz")
    bad_strides = dict(good, strides=np.array([5, 5, 1, 1, 5, 1, 1, 1, 1]))
    with pytest.raises(InputError, match="strides"):
        FastRhythmNet(bad_strides)
    bad_bias = dict(good, b3=np.zeros(7, np.float32))
    with pytest.raises(InputError, match="layer 3"):
        FastRhythmNet(bad_bias)


def test_an_archive_without_the_weights_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rhythm.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(InputError, match="strides"):
        FastRhythmNet.from_file(path)
    good = load_weights(weights_dir() / "rhythm.npz")
    np.savez(path, **{k: v for k, v in good.items() if k != "w5"})
    with pytest.raises(InputError, match="w5"):
        load_weights(path)
