"""The rhythm network: a small causal, fully convolutional CNN (needs torch).

One lead at 250 Hz in, one frame of four logits (normal, af, other, noise) per second out.
Every layer is causal and strided so that frame ``j`` depends only on input samples up to
``250 * (j + 1) - 1``; its receptive field is about 9.9 s. Run over a whole record, the
network therefore gives every second's verdict on the preceding ~10 s at the cost of one
pass, and the same layers run on 1 s chunks with a cached left context give exactly the same
frames (:class:`StreamingRhythmNet`), which is what the streaming engine needs.

Amplitude is normalised inside the network, causally: the input is divided by its RMS over
the preceding 2 s, so the model does not depend on gain or units, and the normalisation
streams like every other layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from cardiostream.rhythm.preprocess import FRAME
from cardiostream.rhythm.verdict import CLASSES

NORM_WINDOW = 500  # samples of the causal RMS normalisation (2 s)
NORM_EPS = 0.01  # mV: a flat line stays (near) zero instead of being blown up


@dataclass(frozen=True)
class NetConfig:
    """Widths and kernel sizes. ``(kernel, stride)`` per layer; the strides multiply to 250."""

    inputs: int = 3  # the ECG, the RR and RR-change channels of rhythm.features
    widths: tuple[int, ...] = (16, 24, 32, 40, 48, 56, 56, 56)
    layers: tuple[tuple[int, int], ...] = (
        (10, 5),
        (10, 5),
        (5, 1),
        (5, 1),
        (10, 10),
        (4, 1),
        (4, 1),
        (3, 1),
    )
    dropout: float = 0.1

    def to_dict(self) -> dict[str, object]:
        """Plain data, for the model card and the checkpoint."""
        return asdict(self)


class CausalConv(nn.Module):
    """A strided 1-D convolution padded on the left: output ``j`` ends at input ``s*(j+1)-1``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        if kernel < stride:
            raise ValueError("kernel must be at least the stride")
        self.kernel, self.stride = kernel, stride
        self.context = kernel - stride
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(F.pad(x, (self.context, 0)))
        return out


class RhythmNet(nn.Module):
    """The causal rhythm CNN.

    ``forward(x)`` takes ``[batch, inputs, samples]`` at 250 Hz (samples a multiple of 250;
    channel 0 the ECG, channel 1 the RR channel) and returns logits ``[batch, 4, samples // 250]``.
    """

    def __init__(self, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetConfig()
        cfg = self.config
        stride = 1
        for _, s in cfg.layers:
            stride *= s
        if stride != FRAME or len(cfg.widths) != len(cfg.layers):
            raise ValueError("the layers' strides must multiply to 250, one width per layer")
        blocks: list[nn.Module] = []
        c_in = cfg.inputs
        for width, (kernel, s) in zip(cfg.widths, cfg.layers, strict=True):
            blocks.append(CausalConv(c_in, width, kernel, s))
            blocks.append(nn.BatchNorm1d(width))
            blocks.append(nn.ReLU())
            c_in = width
        self.body = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Conv1d(c_in, len(CLASSES), 1)

    @staticmethod
    def normalise(x: torch.Tensor) -> torch.Tensor:
        """Divide the ECG (channel 0) by its causal RMS of the last 2 s (zero before the start)."""
        ecg = x[:, :1]
        power = F.avg_pool1d(F.pad(ecg * ecg, (NORM_WINDOW - 1, 0)), NORM_WINDOW, stride=1)
        return torch.cat([ecg / torch.sqrt(power + NORM_EPS**2), x[:, 1:]], dim=1)

    @staticmethod
    def normalise_by_sums(x: torch.Tensor) -> torch.Tensor:
        """:meth:`normalise` through running sums in float64, equal to float32 rounding.

        The 500-sample average pool costs about 70 % of a training step's forward pass on
        24 s crops; the difference of two running sums costs a twentieth of it. Inference and
        the exported graph keep the pool, which is what the streaming layers mirror.
        """
        ecg = x[:, :1]
        sums = torch.cumsum(F.pad(ecg.double() ** 2, (NORM_WINDOW, 0)), dim=-1)
        power = ((sums[..., NORM_WINDOW:] - sums[..., :-NORM_WINDOW]) / NORM_WINDOW).float()
        return torch.cat([ecg / torch.sqrt(power + NORM_EPS**2), x[:, 1:]], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(self.normalise_by_sums(x) if self.training else self.normalise(x))
        out: torch.Tensor = self.head(self.dropout(h))
        return out

    @property
    def receptive_field(self) -> int:
        """Input samples that one output frame sees (the normalisation's 2 s not included)."""
        rf, jump = 1, 1
        for kernel, s in self.config.layers:
            rf += (kernel - 1) * jump
            jump *= s
        return rf


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class StreamingRhythmNet(nn.Module):
    """The same network, fed in chunks: each layer keeps its left context between calls.

    ``forward(chunk)`` takes ``[batch, inputs, 250 * m]`` and returns the ``m`` new frames; the
    frames equal those of :class:`RhythmNet` run over the concatenated input (to float
    rounding). ``reset()`` starts a new stream. The wrapped model must be in eval mode.
    """

    def __init__(self, model: RhythmNet) -> None:
        super().__init__()
        self.model = model.eval()
        self.reset()

    def reset(self) -> None:
        """Forget the context: the next chunk starts a stream, as zeros before it would."""
        self._norm_ctx: torch.Tensor | None = None
        self._ctx: dict[int, torch.Tensor] = {}

    def forward(self, chunk: torch.Tensor) -> torch.Tensor:
        if chunk.shape[-1] % FRAME:
            raise ValueError(f"chunks must hold a multiple of {FRAME} samples")
        batch = chunk.shape[0]
        ecg = chunk[:, :1]
        if self._norm_ctx is None:
            self._norm_ctx = chunk.new_zeros(batch, 1, NORM_WINDOW - 1)
        x = torch.cat([self._norm_ctx, ecg], dim=-1)
        self._norm_ctx = x[..., -(NORM_WINDOW - 1) :]
        power = F.avg_pool1d(x * x, NORM_WINDOW, stride=1)
        h = torch.cat([ecg / torch.sqrt(power + NORM_EPS**2), chunk[:, 1:]], dim=1)
        for i, layer in enumerate(self.model.body):
            if isinstance(layer, CausalConv):
                ctx = self._ctx.get(i)
                if ctx is None:
                    ctx = h.new_zeros(batch, h.shape[1], layer.context)
                joined = torch.cat([ctx, h], dim=-1)
                self._ctx[i] = joined[..., joined.shape[-1] - layer.context :]
                h = layer.conv(joined)
            else:
                h = layer(h)
        out: torch.Tensor = self.model.head(h)
        return out
