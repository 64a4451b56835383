"""Policy: what runs in the robot's control loop. validate -> stage -> backend -> ensemble / queue.

Imports numpy only; the backend imports its engine (onnxruntime, tensorrt, torch) when opened.
"""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from typing import Any, Mapping

import numpy as np

from .async_worker import InferenceWorker, stop_worker
from .backends.base import Backend
from .backends.select import open_backend
from .bundle import Bundle, load_bundle
from .ensemble import _F64_SPAN, ChunkQueue, TemporalEnsemble, check_finite
from .errors import ActionError, ArgumentError, BundleError, ConcurrentUseError, PolicyClosedError, RecordingError
from .observation import ObservationValidator
from .post_steps import PostSteps
from .profiler import ChunkStats, NullProfiler, Stage, StageProfiler, format_report
from .recording import Recorder, episode_attributes
from .spec import ActSpec

INFERENCE_MODES = ("sync", "async")
_FROM_MANIFEST: Any = type("FromManifest", (), {"__repr__": lambda self: "<from manifest>"})()
# Plain ints on the control path: an IntEnum member lookup costs ~0.4 us, and a step marks up to 6 stages.
VALIDATE, STAGE, INFER, D2H, ENSEMBLE = (int(Stage.VALIDATE), int(Stage.STAGE_INPUTS), int(Stage.INFER),
                                        int(Stage.DEVICE_TO_HOST), int(Stage.ENSEMBLE))


class Policy:
    """An ACT policy loaded from a bundle.

    Modes: temporal ensemble (`temporal_ensemble_coeff` is a float: the model runs every step and
    the action is the weighted mean of every live prediction) or chunk queue (coefficient None: the
    model runs when the queue is empty and its first `n_action_steps` actions are executed in order).

    Every `step()` validates its observation, also on chunk-queue steps where the model does not
    run, so a bad observation is rejected consistently (and before anything changes). The array
    `step()` returns is owned by the policy and overwritten by the next `step()`/`reset()`: copy it
    to keep it. Every action returned is float32 and finite (else ActionError, nothing passed on).

    One thread at a time: a second thread entering `step`/`predict_chunk`/`reset`/`close` while
    another is inside one of them gets ConcurrentUseError (nothing touched) instead of a result
    computed from the other thread's buffers. After `close()` those calls raise PolicyClosedError.

    inference="async" (docs/async.md): a worker thread inside the Policy runs the model; `step()`
    hands it the observation when it is idle and a chunk is due, folds in the chunks that finished,
    and never waits for inference except for the first chunk after `reset()`. The one-caller-thread
    rule above is unchanged: the worker is not a caller.
    """

    def __init__(self, bundle: Bundle, backend: Backend, temporal_ensemble_coeff: float | None,
                 n_action_steps: int, profile: bool = True, profile_capacity: int = 4096,
                 skipped_backends: list[str] | None = None, inference: str = "sync",
                 refill_margin: int | None = None) -> None:
        if inference not in INFERENCE_MODES:
            raise ArgumentError(f"inference must be 'sync' or 'async', got {inference!r}")
        if refill_margin is not None and (not _is_int(refill_margin) or refill_margin < 0):
            raise ArgumentError(f"refill_margin must be an integer >= 0 (ticks) or None, got {refill_margin!r}")
        spec = bundle.spec
        self.bundle = bundle
        self.backend = backend
        self.skipped_backends = list(skipped_backends or [])
        self.temporal_ensemble_coeff = temporal_ensemble_coeff
        self.n_action_steps = n_action_steps
        self._validator = ObservationValidator(spec, bundle.manifest["io"]["inputs"], backend.max_batch)
        self._inputs = {n: backend.input_buffer(n) for n in backend.input_names}
        self._ensemble = TemporalEnsemble(spec.chunk_size, spec.action_dim, temporal_ensemble_coeff) \
            if temporal_ensemble_coeff is not None else None
        self._queue = ChunkQueue(spec.chunk_size, spec.action_dim, n_action_steps) \
            if temporal_ensemble_coeff is None else None
        self._prof: StageProfiler | NullProfiler = StageProfiler(profile_capacity) if profile else NullProfiler()
        self.post_steps = PostSteps(bundle.manifest.get("runtime", {}).get("post_steps"), spec.action_dim)
        self._chunk_shape = (spec.chunk_size, spec.action_dim)
        # Held by the thread inside step/predict_chunk/reset/close; never waited for (acquire(False)).
        self._busy = threading.Lock()
        self._closed = False
        self.inference = inference
        self._chunks = ChunkStats(profile_capacity)
        self._tick = 0  # ticks since reset() (sync mode: the queue's row for chunk ages)
        self._episode = 0
        self._newest_t0 = -1  # tick of the newest chunk folded in this episode (-1: none)
        self._refill_margin = None if refill_margin is None else int(refill_margin)
        self._latency_ticks = 0  # async: the largest submit -> fold delay seen (ticks)
        self._worker: InferenceWorker | None = None
        self._finalizer: Any = None
        self._recorder: Recorder | None = None  # start_recording() (docs/recording.md)
        self._recorder_finalizer: Any = None  # finishes the recording if the Policy is dropped unclosed
        if inference == "async":
            self._abuf = np.zeros(self._chunk_shape, dtype=np.float32)  # queue mode: the chunk executed
            self._arows = [self._abuf[i] for i in range(spec.chunk_size)]
            self._last = np.zeros(spec.action_dim, dtype=np.float32)  # queue mode: repeated when starved
            self._worker = InferenceWorker(backend, self._chunk_shape)
            self._finalizer = weakref.finalize(self, stop_worker, self._worker)

    # ---------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, bundle_dir: str | os.PathLike, backend: str = "auto", device: str | None = None,
             temporal_ensemble_coeff: float | None = _FROM_MANIFEST, n_action_steps: int = _FROM_MANIFEST,
             precision: str | None = None, max_batch: int | None = None, profile: bool = True,
             warmup: int = 3, inference: str = "sync", refill_margin: int | None = None,
             record: str | os.PathLike | None = None, **backend_options: Any) -> "Policy":
        """Load a bundle and open a backend.

        backend: "auto" (TensorRT engine built for this machine, else onnxruntime CUDA, else
            onnxruntime CPU), "tensorrt", "onnxruntime" or "torch".
        device: "cpu", "cuda", "cuda:N"; None lets the backend choice decide.
        temporal_ensemble_coeff: k of the weights exp(-k i); None selects the chunk queue; left out,
            the manifest's `runtime.temporal_ensemble_coeff`.
        n_action_steps: actions executed per chunk in chunk-queue mode, 1..chunk_size; left out, the
            manifest's `runtime.n_action_steps` (else chunk_size). With ensembling it must be 1.
        precision: "fp32" / "fp16" artifact (None: fp16 on CUDA when the bundle has it, else fp32).
        max_batch: largest batch `predict_chunk(batched=True)` accepts (default 1; buffers are
            allocated for it once); an int in 1..the bundle's `max_batch`.
        warmup: model runs at load (not profiled), so the first control step is not the slow one.
        inference: "sync" (step() runs the model) or "async" (a worker thread runs it; docs/async.md).
            In async mode the onnxruntime backend gets intra_op_threads = cores - 1 (at least 1) unless
            given, so the control thread keeps a core.
        refill_margin: async chunk queue only: request the next chunk when this many actions (or
            fewer) are left; None: the largest inference latency seen, in ticks, + 1.
        record: start recording at once, as `start_recording(record)` (docs/recording.md).
        backend_options: passed to the backend (e.g. intra_op_threads for onnxruntime, checkpoint
            for torch, engine for tensorrt).
        """
        if inference not in INFERENCE_MODES:
            raise ArgumentError(f"inference must be 'sync' or 'async', got {inference!r}")
        if inference == "async" and backend in ("auto", "onnxruntime") and "intra_op_threads" not in backend_options:
            backend_options["intra_op_threads"] = _control_core_left()
        bundle = load_bundle(bundle_dir)
        spec = bundle.spec
        runtime = bundle.manifest.get("runtime", {}) or {}
        coeff_given = temporal_ensemble_coeff is not _FROM_MANIFEST
        steps_given = n_action_steps is not _FROM_MANIFEST
        coeff = temporal_ensemble_coeff if coeff_given else runtime.get("temporal_ensemble_coeff")
        steps = n_action_steps if steps_given else runtime.get("n_action_steps", spec.chunk_size)
        # A bad value passed here is an ArgumentError; the same value read from the manifest a BundleError.
        steps_err = ArgumentError if steps_given else _manifest_error(bundle, "runtime.n_action_steps")
        coeff_err = ArgumentError if coeff_given else _manifest_error(bundle, "runtime.temporal_ensemble_coeff")
        if not _is_int(steps):
            raise steps_err(f"n_action_steps must be an integer in 1..{spec.chunk_size}, got {steps!r}")
        steps = int(steps)
        if coeff is not None:
            if isinstance(coeff, bool) or not isinstance(coeff, (int, float, np.floating, np.integer)):
                raise coeff_err(f"temporal_ensemble_coeff must be a float or None, got {coeff!r}")
            span = abs(float(coeff)) * (spec.chunk_size - 1)
            if not span <= _F64_SPAN:  # also nan and inf
                raise coeff_err(f"temporal_ensemble_coeff must be finite with |k| * (chunk - 1) <= {_F64_SPAN:g} "
                                f"(weights exp(k i) beyond float64), got {coeff!r} with chunk {spec.chunk_size}")
            if steps_given and steps != 1:
                raise ArgumentError(
                    f"temporal_ensemble_coeff={coeff} runs the model every step, so n_action_steps must be 1, "
                    f"got {steps}; pass temporal_ensemble_coeff=None for the chunk queue")
            steps = 1
        elif not 1 <= steps <= spec.chunk_size:
            raise steps_err(f"n_action_steps must be in 1..{spec.chunk_size} (the chunk size), got {steps}")
        if max_batch is None:
            max_batch = 1
        declared = bundle.manifest.get("max_batch")
        top = int(declared) if _is_int(declared) and declared >= 1 else None
        if not _is_int(max_batch) or max_batch < 1:
            raise ArgumentError(f"max_batch must be an integer >= 1, got {max_batch!r}")
        if top is not None and max_batch > top:
            raise ArgumentError(f"max_batch={max_batch} is larger than the bundle's max_batch {top} "
                                f"(the largest batch {bundle.path.name} was exported and checked for)")
        max_batch = int(max_batch)
        if not _is_int(warmup) or warmup < 0:
            raise ArgumentError(f"warmup must be an integer >= 0, got {warmup!r}")
        be, skipped = open_backend(bundle, backend, device=device, precision=precision,
                                   max_batch=max_batch, options=backend_options)
        try:
            for _ in range(int(warmup)):
                be.run(1, finite=False)  # zero inputs: their actions are not checked
            policy = cls(bundle, be, None if coeff is None else float(coeff), steps, profile=profile,
                         skipped_backends=skipped, inference=inference, refill_margin=refill_margin)
        except BaseException:
            be.close()
            raise
        if record is not None:
            try:
                policy.start_recording(record)
            except BaseException:
                policy.close()
                raise
        return policy

    # ---------------------------------------------------------------------------------------------
    @property
    def spec(self) -> ActSpec:
        return self.bundle.spec

    @property
    def mode(self) -> str:
        return "temporal_ensemble" if self._ensemble is not None else "chunk_queue"

    def describe(self) -> str:
        how = (f"temporal ensemble k={self.temporal_ensemble_coeff}" if self._ensemble is not None
               else f"chunk queue, {self.n_action_steps} of {self.spec.chunk_size} actions per chunk")
        return f"{self.bundle.path.name}: {self.backend.describe()}, {how}, {self.inference} inference"

    def reset(self) -> None:
        """Start a new episode: empty the ensemble / queue (profiler statistics are kept). Async: the
        chunk in flight, if any, is discarded when it finishes (it never enters the new episode)."""
        if not self._busy.acquire(False):
            raise _concurrent("reset")
        try:
            if self._closed:
                raise _closed("reset")
            if self._ensemble is not None:
                self._ensemble.reset()
            if self._queue is not None:
                self._queue.reset()
            self._tick = 0
            self._episode += 1
            self._newest_t0 = -1
            if self._worker is not None and self._worker.finished:
                self._worker.take()  # finished before the reset: dropped
            if self._recorder is not None:
                self._recorder.end_episode()  # the episode's file is finished; the next step starts a new one
        finally:
            self._busy.release()

    def step(self, obs: Mapping[str, Any]) -> np.ndarray:
        """One control step: returns this step's (A,) float32 action (owned by the policy; copy to keep)."""
        if not self._busy.acquire(False):
            raise _concurrent("step")
        try:
            if self._closed:
                raise _closed("step")
            prof = self._prof
            rec = self._recorder
            tick = _now_ns() if rec is not None else 0
            t0 = prof.start()
            self._validator.validate(obs)
            t = prof.mark(VALIDATE, t0)
            action = self._step(obs, t0, t) if self._worker is None else self._step_async(obs, t0, t)
            if rec is not None:
                rec.record(obs, action, tick)  # copies into a preallocated ring; never waits for the disk
            return action
        finally:
            self._busy.release()

    def _step(self, obs: Mapping[str, Any], t0: int, t: int) -> np.ndarray:
        """stage -> run the model (when the ensemble or an empty queue needs a chunk) -> action."""
        prof = self._prof
        queue = self._queue
        if queue is None or queue.needs_chunk:
            self._validator.stage(obs, self._inputs, 1)
            t = prof.mark(STAGE, t)
            # finite=False, first=True (positional: keyword parsing costs on this path): update() and
            # push() run the same check_finite (same message) before they change state.
            chunk, t = self.backend.run(1, prof, t, False, True)
            self._chunks.arrival()
            if queue is None:
                self._chunks.tick(0)
                action = self._ensemble.update(chunk)  # type: ignore[union-attr]
                return self._end_step(action, t0, t, True, True)  # always check: ensemble sums near float32's limit
            queue.push(chunk)
        self._chunks.tick(queue.n_action_steps - queue.remaining)  # the row executed = the chunk's age
        return self._end_step(queue.pop(), t0, t)  # a row of a checked chunk: only post-steps can break it

    def _step_async(self, obs: Mapping[str, Any], t0: int, t: int) -> np.ndarray:
        """take a finished chunk -> hand off the observation if idle and due -> action."""
        prof = self._prof
        w = self._worker
        err = w.take_error()  # type: ignore[union-attr]
        if err is not None:
            raise err
        tick = self._tick
        if w.finished:  # type: ignore[union-attr]
            self._fold(tick)
        if self._newest_t0 < 0:  # first tick of the episode: wait for its chunk (documented)
            if w.running:  # type: ignore[union-attr]
                w.wait()  # type: ignore[union-attr]  # a job from before reset(): dropped by _fold
                err = w.take_error()  # type: ignore[union-attr]
                if err is not None:
                    raise err
                if w.finished:  # type: ignore[union-attr]
                    self._fold(tick)
                t = prof.mark(INFER, t)
            self._validator.stage(obs, self._inputs, 1)
            t = prof.mark(STAGE, t)
            w.submit(tick, self._episode)  # type: ignore[union-attr]
            w.wait()  # type: ignore[union-attr]
            t = prof.mark(INFER, t)
            err = w.take_error()  # type: ignore[union-attr]
            if err is not None:
                raise err
            self._fold(tick)
        elif not (w.running or w.finished or w.error is not None) and self._due(tick):  # type: ignore[union-attr]
            self._validator.stage(obs, self._inputs, 1)
            w.submit(tick, self._episode)  # type: ignore[union-attr]
            t = prof.mark(STAGE, t)
        action, starved = self._pop_async(tick)
        self._chunks.tick(tick - self._newest_t0, starved)
        self._tick = tick + 1
        return self._end_step(action, t0, t, post_steps=not starved)  # a repeated action had its post-steps

    def _end_step(self, action: np.ndarray, t0: int, t: int, post_steps: bool = True,
                  always_check: bool = False) -> np.ndarray:
        """The end of every step (sync and async): post-steps, the final finite check (after post-steps;
        always with `always_check`), the ensemble stage and the step's profile row."""
        if post_steps and self.post_steps:
            self.post_steps.apply(action)
            _check_action(action)
        elif always_check:
            _check_action(action)
        t = self._prof.mark(ENSEMBLE, t)
        self._prof.end(t0, t)
        return action

    def _fold(self, tick: int) -> None:
        """Take the worker's finished chunk into this tick (dropped if requested before reset())."""
        w = self._worker
        chunk = w.take()  # type: ignore[union-attr]
        if w.job_episode != self._episode:  # type: ignore[union-attr]
            return
        t0 = w.job_tick  # type: ignore[union-attr]
        age = tick - t0
        if age > self._latency_ticks:
            self._latency_ticks = age
        self._chunks.arrival()
        if self._ensemble is not None:
            self._ensemble.add(chunk, age)
        elif age < self.spec.chunk_size:
            np.copyto(self._abuf, chunk)
        else:
            return  # covers no tick from now on
        if t0 > self._newest_t0:
            self._newest_t0 = t0

    def _due(self, tick: int) -> bool:
        """Is a new chunk due at this tick (the worker being idle)?"""
        if self._ensemble is not None:
            return True  # one prediction per tick, as many as the worker delivers
        margin = self._refill_margin if self._refill_margin is not None else self._latency_ticks + 1
        return self.n_action_steps - (tick - self._newest_t0) <= margin

    def _pop_async(self, tick: int) -> tuple[np.ndarray, bool]:
        if self._ensemble is not None:
            action = self._ensemble.pop()
            return action, self._ensemble.last_starved
        row = tick - self._newest_t0
        if row < self.spec.chunk_size:
            np.copyto(self._last, self._arows[row])
            return self._last, False
        return self._last, True

    def predict_chunk(self, obs: Mapping[str, Any], batched: bool = False,
                      out: np.ndarray | None = None) -> np.ndarray:
        """Run the model once: (chunk, A), or (batch, chunk, A) with batched=True. Leaves the ensemble
        and queue alone. Writes into `out` when given (no allocation), else returns a new array.
        The manifest's post-steps (e.g. gripper snapping) are NOT applied to this raw chunk: they act
        on executed actions (step()); `policy.post_steps.apply(arr)` applies them to any array.
        `out` must be a writable C-contiguous float32 array of the result's shape (else ArgumentError,
        nothing ran)."""
        if not self._busy.acquire(False):
            raise _concurrent("predict_chunk")
        try:
            if self._closed:
                raise _closed("predict_chunk")
            if self._worker is not None and self._worker.running:
                self._worker.wait()  # the backend's buffers are the worker's until its job is done
            return self._predict_chunk(obs, batched, out)
        finally:
            self._busy.release()

    def _predict_chunk(self, obs: Mapping[str, Any], batched: bool, out: np.ndarray | None) -> np.ndarray:
        prof = self._prof
        t0 = prof.start()
        batch = self._validator.validate(obs, batched=batched)
        if out is not None:
            _check_out(out, ((batch,) if batched else ()) + self._chunk_shape)
        t = prof.mark(VALIDATE, t0)
        self._validator.stage(obs, self._inputs, batch, batched=batched)
        t = prof.mark(STAGE, t)
        result, t = self.backend.run(batch, prof, t)
        if not batched:
            result = result[0]
        if out is None:
            out = result.copy()
        else:
            np.copyto(out, result)
        t = prof.mark(D2H, t)  # the copy out counts with the download
        prof.end(t0, t)
        return out

    def start_recording(self, path: str | os.PathLike, buffer_frames: int = 100) -> None:
        """Record every step()'s observation, action and timing (docs/recording.md): `path` a directory
        (episode_<N>.hdf5 per episode, N the first free number) or a file ending .hdf5 (one episode).
        step() copies into a ring of `buffer_frames` slots (default 2 s of 50 Hz) that a writer thread
        drains; when it is full the frame is dropped and counted, step() never waits. Needs h5py
        (`pip install 'act-edge[replay]'`)."""
        if not self._busy.acquire(False):
            raise _concurrent("start_recording")
        try:
            if self._closed:
                raise _closed("start_recording")
            if self._recorder is not None:
                raise ArgumentError(f"Policy.start_recording: already recording to {self._recorder.target}; "
                                    "call stop_recording() first")
            self._recorder = Recorder(path, self._validator, self.spec.action_dim, episode_attributes(self),
                                      buffer_frames)
            self._recorder_finalizer = weakref.finalize(self, self._recorder.close_quietly)
        finally:
            self._busy.release()

    def stop_recording(self) -> list:
        """Finish the current episode file (renamed to its final name) and stop recording; returns the
        paths of the files written since start_recording(). RecordingError if the writer failed."""
        if not self._busy.acquire(False):
            raise _concurrent("stop_recording")
        try:
            return self._end_recording()
        finally:
            self._busy.release()

    def _end_recording(self) -> list:
        rec, self._recorder = self._recorder, None
        if rec is None:
            return []
        self._recorder_finalizer.detach()
        return rec.close()

    def recording_stats(self) -> dict[str, Any] | None:
        """The recording's target, files written, frames recorded/dropped and error; None when not recording."""
        rec = self._recorder
        return None if rec is None else rec.stats()

    def reset_profile(self) -> None:
        """Forget the profiler's samples and chunk statistics (e.g. between a warm-up phase and a
        measured one)."""
        self._prof.reset()
        self._chunks.reset()

    def chunk_ages(self) -> np.ndarray:
        """Per tick in the window, oldest first: the age (ticks) of the newest chunk used."""
        return self._chunks.ages()

    def profile_samples(self) -> dict[str, np.ndarray]:
        """Per-stage durations (us) of the steps in the profiler's window, oldest first; a stage
        skipped in a step (chunk-queue steps run no model) is left out of that stage's array."""
        if isinstance(self._prof, NullProfiler):
            return {}
        data = self._prof.samples()
        return {name: data[:, j] if name == "total" else data[:, j][data[:, j] > 0]
                for j, name in enumerate(self._prof.stages)}

    # ---------------------------------------------------------------------------------------------
    def latency_report(self, table: bool = False) -> dict[str, Any] | str:
        """Per-stage p50/p90/p99/max/mean/std (us) and jitter over the profiler's window;
        `table=True` gives the formatted text instead of the dict."""
        rep = self._prof.report()
        rep["backend"] = self.backend.describe()
        rep["mode"] = self.mode
        rep["inference"] = self.inference
        rep["chunks"] = self._chunks.report()
        return format_report(rep) if table else rep

    def close(self) -> None:
        """Stop the async worker (joined) and release the backend; idempotent. Later
        step/predict_chunk/reset raise PolicyClosedError."""
        if not self._busy.acquire(False):
            raise _concurrent("close")
        try:
            if self._closed:
                return
            self._closed = True
            try:
                self._end_recording()  # the current episode's file is finished and renamed
            except RecordingError:
                pass  # logged by the recorder when it happened; close() still releases everything
            if self._finalizer is not None:
                self._finalizer()  # stops and joins the worker (after its job in flight) before the backend goes
            self.backend.close()
        finally:
            self._busy.release()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Policy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_action(action: np.ndarray) -> None:
    """The last line of defence: the (A,) action handed to the caller, after post-steps, is finite.

    Chunks are checked before the ensemble/queue; this catches what comes after them (post-step
    values, an ensemble sum at the edge of float32). The ensemble/queue state stays as updated.
    max/min, not a sum or a dot product: they raise no floating-point warnings (overflow, inf * 0),
    which a caller running with warnings as errors would get instead of this ActionError.
    """
    if not (math.isfinite(_max(action)) and math.isfinite(_min(action))):
        i = int(np.flatnonzero(~np.isfinite(action))[0])
        raise ActionError(f"action: non-finite value {action[i]} at index {i} after the ensemble/queue and "
                          "post-steps (check the manifest's runtime.post_steps); nothing was passed on")


def _control_core_left() -> int:
    """onnxruntime intra-op threads in async mode: every core but one (the control thread's)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def _check_out(out: Any, shape: tuple[int, ...]) -> None:
    if not isinstance(out, np.ndarray):
        raise ArgumentError(f"predict_chunk(out=): expected a numpy array, got {type(out).__name__}")
    if out.dtype != np.float32:
        raise ArgumentError(f"predict_chunk(out=): expected dtype float32, got {out.dtype}")
    if out.shape != shape:
        raise ArgumentError(f"predict_chunk(out=): expected shape {shape}, got {out.shape}")
    if not out.flags.c_contiguous:
        raise ArgumentError("predict_chunk(out=): expected a C-contiguous array, got a strided view")
    if not out.flags.writeable:
        raise ArgumentError("predict_chunk(out=): the array is read-only")


def _is_int(value: Any) -> bool:
    """An int or numpy integer, not a bool (True is not a batch size)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _manifest_error(bundle: Bundle, field: str) -> Any:
    """An error class whose messages start with the manifest field they came from."""
    def error(msg: str) -> BundleError:
        return BundleError(f"{bundle.path / 'manifest.json'}: {field}: {msg}")
    return error


def _concurrent(method: str) -> ConcurrentUseError:
    return ConcurrentUseError(f"Policy.{method}: another thread is inside this Policy; a Policy is for one "
                              "thread at a time (one Policy per control thread, or serialise the calls)")


def _closed(method: str) -> PolicyClosedError:
    return PolicyClosedError(f"Policy.{method}: policy is closed (close() released its backend); load a new one")


_now_ns = time.perf_counter_ns
_check_finite = check_finite  # its old name here; tests/test_cpp_bindings.py compares the C++ message with it
_max = np.maximum.reduce
_min = np.minimum.reduce
