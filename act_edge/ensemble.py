"""Temporal ensemble and chunk queue: how a stream of action chunks becomes one action per step.

Temporal ensemble (ACT, Zhao et al. 2023; LeRobot `ACTTemporalEnsembler`): the model is queried
every step; the action for step t is the weighted mean of every live prediction made for t, with
weights exp(-k*i), i = 0 the OLDEST live prediction, normalized over the live ones (at most
`chunk` of them; fewer in the first steps after `reset()`).

Implementation. A prediction made at step t_p for step t has age a = t - t_p (its row a), and
among n live predictions its index is i = n-1-a, so its normalized weight is
exp(-k(n-1-a)) / sum_i exp(-k i) = exp(k a) / Z(n) with Z(n) = sum_{a<n} exp(k a): a row's
weight depends only on its row index, never on how many other predictions exist. So each new
chunk can be folded, already weighted, into running per-step sums: acc_t[j] holds the weighted
sum for step t+j of every prediction made so far. Per step

    acc_t = shift(acc_{t-1}) + W * chunk_t       (W[j] = exp(k j) / Z(chunk), broadcast over A)
    action_t = acc_t[0] * Z(chunk) / Z(n)          (the factor is 1 once n = chunk)

which is two ufunc calls into preallocated buffers (the shift is free: two buffers alternate and the
add reads the other one offset by a row). Each accumulator row lives for `chunk` steps and is then
dropped, so there is no drift over long episodes; live predictions are counted, never inferred from
zeros (the original eval loop's `all(row != 0)` drops a real prediction that is exactly 0).

This stores weighted running sums (2 x chunk x A) instead of the raw predictions
(chunk x chunk x A): the same results, 1/chunk of the memory, and no gather per step.

Both classes refuse a chunk holding nan/inf (ActionError) before it changes their state, and both
return float32 actions whatever precision the ensemble accumulates in.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ActionError

# exp(k * (chunk - 1)) beyond this range loses float32 (then float64) precision in warm-up rescaling.
_F32_SPAN = 60.0
_mul = np.multiply  # module-level names: one lookup less per call on the per-step path
_add = np.add
_F64_SPAN = 600.0
_max = np.maximum.reduce
_min = np.minimum.reduce


def check_finite(actions: np.ndarray) -> None:
    """Refuse model output with nan/inf before it reaches the ensemble, the queue or the caller.

    Two reductions (max propagates nan, keeps +-inf) and no allocation; about 1 us for 100 x 14.
    The message is the C++ runtime's (cpp_bindings/src/action_check.cpp).
    """
    flat = actions.reshape(-1)  # a view; reducing a 2-D array over all axes copies it in numpy < 2.4
    if not (math.isfinite(_max(flat)) and math.isfinite(_min(flat))):
        bad = np.argwhere(~np.isfinite(actions))[0]
        raise ActionError(f"model output: non-finite action {actions[tuple(bad)]} at {tuple(int(i) for i in bad)} "
                          "(the ensemble/queue was not updated); check the observation's scale and the bundle")


def ensemble_weights(coeff: float, chunk: int) -> np.ndarray:
    """Unnormalized weights by row (age) a: exp(k a), float64, shape (chunk,)."""
    return np.exp(float(coeff) * np.arange(chunk, dtype=np.float64))


class TemporalEnsemble:
    """Weighted mean of every live prediction for the current step; zero allocation per `update`.

    `update(chunk)` takes the (chunk, A) prediction made at this step and returns the (A,) float32
    action for this step. The returned array is a view into the ensemble's buffers: it is valid until
    the next `update()` or `reset()`; copy it to keep it. A chunk with nan/inf raises ActionError and
    leaves the ensemble as it was.
    """

    def __init__(self, chunk_size: int, action_dim: int, coeff: float) -> None:
        if chunk_size < 1 or action_dim < 1:
            raise ValueError(f"chunk_size and action_dim must be >= 1, got {chunk_size}, {action_dim}")
        coeff = float(coeff)
        if not math.isfinite(coeff):
            raise ValueError(f"temporal_ensemble_coeff must be finite, got {coeff}")
        span = abs(coeff) * (chunk_size - 1)
        if span > _F64_SPAN:
            raise ValueError(
                f"temporal_ensemble_coeff {coeff} with chunk {chunk_size}: weights span exp({span:.0f}), "
                f"beyond float64; use |coeff| <= {_F64_SPAN / max(chunk_size - 1, 1):.3g}"
            )
        self.chunk_size = chunk_size
        self.action_dim = action_dim
        self.coeff = coeff
        self.dtype = np.dtype(np.float32 if span <= _F32_SPAN else np.float64)
        w = ensemble_weights(coeff, chunk_size)
        z = np.cumsum(w)  # z[n-1] = Z(n)
        # Row weights normalized for a full window, as a full (chunk, A) array (no broadcasting per step).
        self._w = np.ascontiguousarray(
            np.broadcast_to((w / z[-1])[:, None], (chunk_size, action_dim)), dtype=self.dtype)
        # Warm-up rescale for n live predictions: Z(chunk) / Z(n); index n (0 unused).
        self._rescale = [float(z[-1] / z[n - 1]) if n else 1.0 for n in range(chunk_size + 1)]
        self._acc = np.zeros((2, chunk_size, action_dim), dtype=self.dtype)
        a, b = self._acc[0], self._acc[1]
        # For each parity: (target, target[:-1], other[1:], target[0])
        self._views = ((a, a[:-1], b[1:], a[0]), (b, b[:-1], a[1:], b[0]))
        self._parity = 0
        self._n = 0  # live predictions for the current step (<= chunk)
        self._warm = False  # n == chunk
        # float64 accumulation (large |k|): the action is cast into this float32 row before it is returned.
        self._out32 = np.zeros(action_dim, dtype=np.float32) if self.dtype != np.float32 else None

    @property
    def n_live(self) -> int:
        """Live predictions that made the last returned action (0 right after reset)."""
        return self._n

    def reset(self) -> None:
        self._acc.fill(0.0)
        self._parity = 0
        self._n = 0
        self._warm = False

    def update(self, chunk: np.ndarray) -> np.ndarray:
        """Fold in the (chunk, A) prediction made at this step; return this step's (A,) action."""
        check_finite(chunk)
        p = self._parity ^ 1
        self._parity = p
        target, head, prev_tail, out = self._views[p]
        _mul(chunk, self._w, target)  # positional `out`: keyword parsing costs ~0.3 us a call
        _add(head, prev_tail, head)
        if not self._warm:
            n = self._n + 1
            self._n = n
            if n < self.chunk_size:
                _mul(out, self._rescale[n], out)
            else:
                self._warm = True
        out32 = self._out32
        if out32 is None:
            return out
        np.copyto(out32, out, "same_kind")  # a weighted mean of float32 values fits float32
        return out32


class ChunkQueue:
    """Execute the first `n_action_steps` actions of each chunk, then ask for a new one.

    `needs_chunk` says whether the next step must query the model; `push(chunk)` copies a
    (chunk, A) prediction into a preallocated buffer (refusing one with nan/inf, ActionError, queue
    unchanged); `pop()` returns the next (A,) float32 action as a view into that buffer (valid until
    the next `push`/`reset`).
    """

    def __init__(self, chunk_size: int, action_dim: int, n_action_steps: int) -> None:
        if not 1 <= n_action_steps <= chunk_size:
            raise ValueError(f"n_action_steps must be in 1..{chunk_size} (the chunk size), got {n_action_steps}")
        self.chunk_size = chunk_size
        self.action_dim = action_dim
        self.n_action_steps = n_action_steps
        self._buf = np.zeros((chunk_size, action_dim), dtype=np.float32)
        self._rows = [self._buf[i] for i in range(chunk_size)]  # views made once
        self._next = n_action_steps  # == n_action_steps: empty

    @property
    def needs_chunk(self) -> bool:
        return self._next >= self.n_action_steps

    @property
    def remaining(self) -> int:
        return self.n_action_steps - self._next

    def reset(self) -> None:
        self._next = self.n_action_steps

    def push(self, chunk: np.ndarray) -> None:
        check_finite(chunk)
        np.copyto(self._buf, chunk)
        self._next = 0

    def pop(self) -> np.ndarray:
        i = self._next
        if i >= self.n_action_steps:
            raise RuntimeError("chunk queue is empty: push a new chunk first")
        self._next = i + 1
        return self._rows[i]
