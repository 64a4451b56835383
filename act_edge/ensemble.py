"""Temporal ensemble and chunk queue: how a stream of action chunks becomes one action per step.

Temporal ensemble (ACT, Zhao et al. 2023; LeRobot `ACTTemporalEnsembler`): the model is queried
every step; the action for step t is the weighted mean of every live prediction made for t, with
weights exp(-k*i), i = 0 the OLDEST live prediction, normalized over the live ones (at most
`chunk` of them; fewer in the first steps after `reset()`).

Implementation (also the asynchronous case, docs/async.md). A prediction made at tick t0 is used at
tick t through its row r = t - t0 with weight exp(k r); dividing exp(-k i) (i = 0 the oldest of n live
predictions) by its sum gives the same normalized weights, so a row's weight depends only on its row
index. Each chunk is folded, already weighted, into running per-tick sums: acc[j] holds the weighted
rows for tick now+j, wc[j] their weight sum and count. The action is acc[0] / wc[0]; then row 0 is
dropped (a shift: two buffers alternate, and on the synchronous path the shift is fused into the
add). Weight sums are kept, not derived, because with late or missing chunks (async inference) the
set of predictions per tick is arbitrary. Each row lives `chunk` ticks and is then dropped, so there
is no drift over long episodes; live predictions are counted, never inferred from zeros (the
original eval loop's `all(row != 0)` drops a real prediction that is exactly 0).

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
_div = np.divide
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
    """Weighted mean of every arrived prediction for the current tick; zero allocation per call.

    Tick-based and clock-free. `add(chunk, age)` folds in a (chunk, A) prediction made `age` ticks
    before the current tick (its row `age` is its action for the current tick; rows for past ticks
    are never used; age >= chunk adds nothing); `pop()` returns the current tick's (A,) float32 action
    and moves to the next tick. `update(chunk)` is `add(chunk, 0)` then `pop()`: the synchronous path
    (one prediction per tick, zero latency), the original ACT / LeRobot ensemble.

    Weights: a prediction's row r (made r ticks before the tick it is used for) weighs exp(k r),
    normalized by the sum of the weights of every arrived prediction covering that tick. Running sums
    per future tick are kept for the weighted rows AND for the weights: with late or missing chunks
    the set of weights per tick varies, so no closed-form normalizer applies.

    If nothing covers a tick, `pop()` repeats the last action and counts a starved tick (`starved`,
    `last_starved`); with no action since `reset()` it raises RuntimeError. The returned array is the
    ensemble's own (A,) buffer: valid until the next `pop()`/`update()`/`reset()`; copy it to keep it.
    A chunk with nan/inf raises ActionError and leaves the ensemble as it was.
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
        # Synchronous path: warm-up rescale for n live predictions, Z(chunk) / Z(n); index n (0 unused).
        self._rescale = [float(z[-1] / z[n - 1]) if n else 1.0 for n in range(chunk_size + 1)]
        w = w / z[-1]  # scaled so a full window sums to 1: sums stay in the range of the actions
        # Row weights as a full (chunk, A) array (no broadcasting per call).
        self._w = np.ascontiguousarray(np.broadcast_to(w[:, None], (chunk_size, action_dim)), dtype=self.dtype)
        # Per row: (weight, 1): one add keeps both the weight sum and the count of predictions per tick.
        self._wc_row = np.ascontiguousarray(np.stack([w, np.ones(chunk_size)], axis=1))
        C = chunk_size
        self._acc = np.zeros((2, C, action_dim), dtype=self.dtype)  # weighted sums, row j = tick now + j
        self._wc = np.zeros((2, C, 2))  # weight sums and counts, same rows
        self._tmp = np.zeros((C, action_dim), dtype=self.dtype)
        self._out = np.zeros(action_dim, dtype=np.float32)
        a, b, wa, wb = self._acc[0], self._acc[1], self._wc[0], self._wc[1]
        # Per parity p (the buffer holding the sums): (acc, acc[:-1], acc[1:], wc, wc[:-1], wc[1:], acc[0], wc[0])
        self._views = ((a, a[:-1], a[1:], wa, wa[:-1], wa[1:], a[0], wa[0]),
                       (b, b[:-1], b[1:], wb, wb[:-1], wb[1:], b[0], wb[0]))
        self._parity = 0
        self._lag = 0  # 1 after pop(): the buffers' row 0 is the tick just popped (shift pending)
        self._n = 0
        self._warm = False  # synchronous path: n == chunk
        self._sync = True  # only update() since reset(): weight sums implied by n, not stored
        self._has_action = False
        self.starved = 0  # ticks since reset() that no arrived prediction covered
        self.last_starved = False
        # float64 accumulation (large |k|), synchronous path: the action is cast into this float32 row.
        self._out32 = self._out if self.dtype != np.float32 else None

    @property
    def n_live(self) -> int:
        """Predictions that made the last returned action (0 right after reset or on a starved tick)."""
        return self._n

    def reset(self) -> None:
        self._acc.fill(0.0)
        self._wc.fill(0.0)
        self._parity = 0
        self._lag = 0
        self._n = 0
        self._warm = False
        self._sync = True
        self._has_action = False
        self.starved = 0
        self.last_starved = False

    def _leave_sync(self) -> None:
        """First add()/pop() since reset(): store the weight sums the update() path only implied.
        After n updates the live predictions are n, made 0..n-1 ticks before the tick just returned."""
        self._sync = False
        n = self._n
        if not n:
            return
        C = self.chunk_size
        wc = self._views[self._parity][3]
        wc.fill(0.0)
        for a in range(n):
            wc[:C - a] += self._wc_row[a:]
        self._lag = 1
        self._has_action = True

    def _shift(self) -> None:
        """Drop row 0 (the tick popped) into the other buffer; its last row starts empty."""
        p = self._parity
        q = p ^ 1
        src, dst = self._views[p], self._views[q]
        np.copyto(dst[1], src[2])
        dst[0][-1] = 0.0
        np.copyto(dst[4], src[5])
        dst[3][-1] = 0.0
        self._parity = q
        self._lag = 0

    def add(self, chunk: np.ndarray, age: int) -> None:
        """Fold in the (chunk, A) prediction made `age` (>= 0) ticks before the current tick."""
        check_finite(chunk)
        if age < 0:
            raise ValueError(f"age must be >= 0 ticks, got {age}")
        if self._sync:
            self._leave_sync()
        C = self.chunk_size
        if age >= C:
            return  # it covers no tick from now on
        if age == 0 and self._lag:  # the update() path: shift and add fused, two buffers alternate
            p = self._parity
            q = p ^ 1
            prev, cur = self._views[p], self._views[q]
            _mul(chunk, self._w, cur[0])  # positional `out`: keyword parsing costs ~0.3 us a call
            _add(cur[1], prev[2], cur[1])
            np.copyto(cur[3], self._wc_row)
            _add(cur[4], prev[5], cur[4])
            self._parity = q
            self._lag = 0
            return
        if self._lag:
            self._shift()
        v = self._views[self._parity]
        n = C - age
        tmp = self._tmp[:n]
        _mul(chunk[age:], self._w[age:], tmp)
        acc = v[0][:n]
        _add(acc, tmp, acc)
        wc = v[3][:n]
        _add(wc, self._wc_row[age:], wc)

    def pop(self) -> np.ndarray:
        """The current tick's (A,) float32 action; then move to the next tick."""
        if self._sync:
            self._leave_sync()
        if self._lag:
            self._shift()
        v = self._views[self._parity]
        wsum, count = v[7]
        out = self._out
        if count > 0:
            _div(v[6], wsum, out)  # float64 sums: cast into the float32 row (a weighted mean fits)
            self._n = int(count)
            self._has_action = True
            self.last_starved = False
        elif self._has_action:
            self._n = 0
            self.starved += 1
            self.last_starved = True
        else:
            raise RuntimeError("temporal ensemble: no prediction covers this tick and none came since reset()")
        self._lag = 1
        return out

    def update(self, chunk: np.ndarray) -> np.ndarray:
        """Fold in the (chunk, A) prediction made at this tick; return this tick's (A,) action.

        Same result as add(chunk, 0) then pop(). While only update() is used since reset(), the
        weight sums follow from the number of live predictions n (Z(n), closed form), so this path
        keeps no weight sums: two ufunc calls, as before async existed.
        """
        if not self._sync:
            self.add(chunk, 0)
            return self.pop()
        check_finite(chunk)
        p = self._parity ^ 1
        self._parity = p
        v = self._views[p]
        target, out = v[0], v[6]
        _mul(chunk, self._w, target)  # positional `out`: keyword parsing costs ~0.3 us a call
        _add(v[1], self._views[p ^ 1][2], v[1])
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
