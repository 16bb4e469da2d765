"""The rhythm network: shape, causality, streaming equals offline, parameter budget."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is in the train extra")

from cardiostream.rhythm.model import (  # noqa: E402
    FRAME,
    NetConfig,
    RhythmNet,
    StreamingRhythmNet,
    count_parameters,
)

C = NetConfig().inputs


@pytest.fixture(scope="module")
def model() -> RhythmNet:
    torch.manual_seed(0)
    net = RhythmNet()
    with torch.no_grad():  # non-trivial batch-norm statistics, as after training
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def test_one_frame_per_second_and_small(model: RhythmNet) -> None:
    x = torch.randn(2, C, 37 * FRAME)
    assert model(x).shape == (2, 4, 37)
    assert count_parameters(model) < 100_000
    assert 9 * FRAME <= model.receptive_field <= 10 * FRAME


def test_frames_never_see_the_future(model: RhythmNet) -> None:
    x = torch.randn(1, C, 30 * FRAME)
    y = x.clone()
    y[..., 12 * FRAME :] = torch.randn(1, C, 18 * FRAME)
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[..., :12], b[..., :12], rtol=0, atol=0)
    assert not torch.allclose(a[..., 12:], b[..., 12:])


def test_gain_does_not_matter(model: RhythmNet) -> None:
    x = torch.randn(1, C, 20 * FRAME)
    louder = x.clone()
    louder[:, 0] *= 50.0
    with torch.no_grad():
        a, b = model(x), model(louder)
    torch.testing.assert_close(a[..., 3:], b[..., 3:], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("chunks", [[1] * 25, [3, 1, 7, 14], [25]])
def test_streaming_equals_offline(model: RhythmNet, chunks: list[int]) -> None:
    x = torch.randn(2, C, sum(chunks) * FRAME)
    with torch.no_grad():
        whole = model(x)
        stream = StreamingRhythmNet(model)
        parts, pos = [], 0
        for n in chunks:
            parts.append(stream(x[..., pos : pos + n * FRAME]))
            pos += n * FRAME
    torch.testing.assert_close(torch.cat(parts, dim=-1), whole, rtol=1e-5, atol=1e-5)


def test_strides_must_make_one_second() -> None:
    with pytest.raises(ValueError, match="250"):
        RhythmNet(NetConfig(layers=((10, 5), (10, 5), (5, 1), (10, 5), (4, 1), (6, 1))))


def test_chunks_must_be_whole_frames(model: RhythmNet) -> None:
    with pytest.raises(ValueError, match="multiple"):
        StreamingRhythmNet(model)(torch.zeros(1, C, 300))


def test_flat_input_stays_finite(model: RhythmNet) -> None:
    with torch.no_grad():
        out = model(torch.zeros(1, C, 12 * FRAME))
    assert np.isfinite(out.numpy()).all()


def test_training_normalisation_equals_inference() -> None:
    # Training divides by running sums instead of the pool the graph and the stream use.
    x = torch.randn(3, C, 30 * FRAME) * torch.tensor([0.01, 1.0, 20.0])[:, None, None]
    x[1, 0, 5 * FRAME : 9 * FRAME] = 0.0  # a flat stretch, where the floor takes over
    torch.testing.assert_close(
        RhythmNet.normalise_by_sums(x), RhythmNet.normalise(x), rtol=1e-5, atol=1e-6
    )
