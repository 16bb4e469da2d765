"""The rhythm network on numpy and numba: exact streaming without torch or ONNX Runtime.

The layers of :class:`~cardiostream.rhythm.model.RhythmNet`, batch normalisation folded into
the convolutions, run by one compiled loop per layer. Every output value is computed by the
same operations in the same order however the input is cut into chunks, so a stream fed one
second at a time gives frames *bit-identical* to one call over a whole recording; that is
what lets the streaming engine promise that live and offline results are the same. Against
the torch network the logits agree to float32 rounding (about 1e-6).

Why not ONNX Runtime here: a per-call cost of ~55 us and results that depend on the input
length (its kernels block differently), so live and offline would only agree to rounding.

The weights are ``rhythm.npz`` beside the other model files, written from ``rhythm.pt`` by
:func:`cardiostream.training.export.export_fast`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from cardiostream.errors import InputError
from cardiostream.rhythm.preprocess import FRAME

NORM_WINDOW = 500  # the causal RMS normalisation of the ECG channel, as in RhythmNet
NORM_EPS = 0.01

Float32Array = npt.NDArray[np.float32]
U = np.uint64


@numba.njit(cache=True, fastmath=True)
def _conv(
    x: Float32Array,
    ctx: Float32Array,
    w: Float32Array,
    b: Float32Array,
    stride: int,
    relu: bool,
    out: Float32Array,
) -> None:  # pragma: no cover - compiled
    """One causal strided convolution over ``x`` ``[L, Ci]`` with left context ``ctx``
    ``[K - S, Ci]`` (updated in place); ``w`` is ``[K, Ci, Co]``, ``out`` ``[L // S, Co]``.

    Four outputs at a time share each weight load and keep four independent accumulations in
    flight; the count is padded to a multiple of four (the extra outputs are dropped) so that
    every output goes through the same instructions, whatever its position in the chunk.
    Unsigned indices spare numba's negative-index checks, which stop vectorisation.
    """
    k_size, c_in, c_out = w.shape
    pad = ctx.shape[0]
    n = x.shape[0]
    n_out = n // stride
    n4 = (n_out + 3) // 4 * 4
    joined = np.zeros((pad + n4 * stride + k_size, c_in), np.float32)
    joined[:pad] = ctx
    joined[pad : pad + n] = x
    acc = np.empty((4, c_out), np.float32)
    u_s, u_k, u_ci, u_co = U(stride), U(k_size), U(c_in), U(c_out)
    for t in range(U(0), U(n4), U(4)):
        s0 = t * u_s
        s1 = s0 + u_s
        s2 = s1 + u_s
        s3 = s2 + u_s
        for co in range(U(0), u_co):
            acc[0, co] = b[co]
            acc[1, co] = b[co]
            acc[2, co] = b[co]
            acc[3, co] = b[co]
        for k in range(U(0), u_k):
            for ci in range(U(0), u_ci):
                v0 = joined[s0 + k, ci]
                v1 = joined[s1 + k, ci]
                v2 = joined[s2 + k, ci]
                v3 = joined[s3 + k, ci]
                for co in range(U(0), u_co):
                    wv = w[k, ci, co]
                    acc[0, co] += wv * v0
                    acc[1, co] += wv * v1
                    acc[2, co] += wv * v2
                    acc[3, co] += wv * v3
        for j in range(U(0), U(4)):
            tt = t + j
            if tt < U(n_out):
                for co in range(U(0), u_co):
                    a = acc[j, co]
                    out[tt, co] = a if (a > 0.0 or not relu) else np.float32(0.0)
    ctx[:] = joined[n : n + pad]


@numba.njit(cache=True)
def _normalise(x: Float32Array, hist: Float32Array, out: Float32Array) -> None:  # pragma: no cover
    """Divide the ECG (row 0 of ``x`` ``[C, L]``) by its RMS over the last 500 samples (zeros
    before the start), writing time-first ``out`` ``[L, C]``.

    The sum of squares is rebuilt at every frame boundary and carried sample by sample within
    the frame, in float64: calls come in whole frames, so the order of operations is fixed.
    """
    n = x.shape[1]
    h = hist.shape[0]
    joined = np.empty(h + n, np.float32)
    joined[:h] = hist
    joined[h:] = x[0]
    power = 0.0
    eps2 = NORM_EPS * NORM_EPS
    for t in range(n):
        if t % FRAME == 0:
            power = 0.0
            for i in range(t, t + h):
                u = np.float64(joined[i])
                power += u * u
        v = np.float64(joined[h + t])
        power += v * v
        out[t, 0] = np.float32(v / np.sqrt(power / NORM_WINDOW + eps2))
        old = np.float64(joined[t])
        power -= old * old
        for c in range(1, x.shape[0]):
            out[t, c] = x[c, t]
    hist[:] = joined[n:]


@numba.njit(cache=True)
def _network(
    x: Float32Array,
    norm: Float32Array,
    weights: tuple[Float32Array, ...],
    biases: tuple[Float32Array, ...],
    strides: npt.NDArray[np.int64],
    relu: npt.NDArray[np.bool_],
    contexts: tuple[Float32Array, ...],
) -> Float32Array:  # pragma: no cover - compiled
    """Every layer in one compiled call (a stream pays one dispatch per second, not ten)."""
    h = np.empty((x.shape[1], x.shape[0]), np.float32)
    _normalise(x, norm, h)
    for i in range(len(weights)):
        out = np.empty((h.shape[0] // strides[i], weights[i].shape[2]), np.float32)
        _conv(h, contexts[i], weights[i], biases[i], strides[i], relu[i], out)
        h = out
    return h


class FastRhythmNet:
    """The rhythm CNN, streaming, from folded weights.

    Parameters
    ----------
    weights : dict of str to ndarray
        ``w<i>`` ``[K, Ci, Co]`` and ``b<i>`` ``[Co]`` float32 for every layer, ``strides`` and
        ``relu`` (one entry per layer, the 1x1 head last), as :func:`load_weights` reads them.

    Notes
    -----
    :meth:`run` takes ``[channels, 250 * m]`` samples (the torch network's layout without the
    batch) and returns the ``m`` new frames' logits ``[m, 4]``; the state it carries is
    :meth:`initial_state`'s dict of arrays.
    """

    def __init__(self, weights: dict[str, npt.NDArray[Any]]) -> None:
        strides = np.asarray(weights["strides"], np.int64)
        relu = np.asarray(weights["relu"], np.bool_)
        self.layers: list[tuple[Float32Array, Float32Array, int, bool]] = []
        for i in range(strides.size):
            w = np.ascontiguousarray(weights[f"w{i}"], np.float32)
            b = np.ascontiguousarray(weights[f"b{i}"], np.float32)
            if w.ndim != 3 or b.shape != (w.shape[2],) or w.shape[0] < strides[i]:
                raise InputError(f"weights: layer {i} has malformed shapes {w.shape}, {b.shape}")
            self.layers.append((w, b, int(strides[i]), bool(relu[i])))
        if int(np.prod(strides)) != FRAME:
            raise InputError(f"weights: strides multiply to {int(np.prod(strides))}, not {FRAME}")
        self.channels = self.layers[0][0].shape[1]
        self.n_classes = self.layers[-1][0].shape[2]
        self._weights = tuple(w for w, _, _, _ in self.layers)
        self._biases = tuple(b for _, b, _, _ in self.layers)
        self._strides = strides.copy()
        self._relu = relu.copy()
        self._contexts = tuple(f"ctx{i}" for i in range(strides.size))

    @classmethod
    def from_file(cls, path: str | Path) -> FastRhythmNet:
        """Load ``rhythm.npz``."""
        return cls(load_weights(path))

    def initial_state(self) -> dict[str, Float32Array]:
        """The state of a new stream: zeros before the first sample, as in the torch network."""
        state = {"norm": np.zeros(NORM_WINDOW - 1, np.float32)}
        for i, (w, _, s, _) in enumerate(self.layers):
            state[f"ctx{i}"] = np.zeros((w.shape[0] - s, w.shape[1]), np.float32)
        return state

    def run(self, inputs: npt.ArrayLike, state: dict[str, Float32Array]) -> Float32Array:
        """The logits of the frames that ``inputs`` completes; ``state`` is updated in place.

        Parameters
        ----------
        inputs : array_like, shape (channels, 250 * m)
            Whole frames of the network's input.
        state : dict
            From :meth:`initial_state` or an earlier call.
        """
        x = np.ascontiguousarray(inputs, np.float32)
        if x.ndim != 2 or x.shape[0] != self.channels or x.shape[1] % FRAME:
            raise InputError(
                f"inputs: expected [{self.channels}, 250 * m] samples, got shape {x.shape}"
            )
        contexts = tuple(state[k] for k in self._contexts)
        out: Float32Array = _network(
            x, state["norm"], self._weights, self._biases, self._strides, self._relu, contexts
        )
        return out

    def logits(self, inputs: npt.ArrayLike) -> Float32Array:
        """Frames of a whole input from a fresh state (``[channels, n]`` in, ``[n // 250, 4]``
        out; a trailing partial frame is dropped)."""
        x = np.asarray(inputs, np.float32)
        n = x.shape[1] - x.shape[1] % FRAME
        return self.run(x[:, :n], self.initial_state())


def load_weights(path: str | Path) -> dict[str, npt.NDArray[Any]]:
    """Read ``rhythm.npz``; an :class:`InputError` names the file when it is missing or bad."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: missing (export it: cardiostream.training.export.export_fast)")
    try:
        data = np.load(p, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{p}: not a weights file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise InputError(f"{p}: not a weights file (a single array, not an .npz archive)")
    try:
        with data:
            weights = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{p}: not a weights file ({exc})") from None
    missing = [k for k in ("strides", "relu", "w0", "b0") if k not in weights]
    if missing:
        raise InputError(f"{p}: not a weights file (no {', '.join(missing)})")
    n = np.asarray(weights["strides"]).size
    absent = [k for i in range(n) for k in (f"w{i}", f"b{i}") if k not in weights]
    if absent:
        raise InputError(f"{p}: incomplete weights (no {', '.join(absent)})")
    return weights
