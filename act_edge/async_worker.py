"""The inference worker of async mode: one thread that runs the backend on a single-slot hand-off.

The control thread stages an observation into the backend's input buffers (only while the worker
is idle, so the buffers are free), then `submit(tick, episode)`. The worker runs the backend
(Backend.run: upload, execute, download, finite check) and copies the chunk into its own
preallocated `result`, then marks it finished. A job is in flight exactly while the `_done` lock is held: the worker sets `finished`
or `error` and then releases it, one transition, so whoever sees `running` false also sees the
outcome. The control thread takes the result before the next submit. Wake-ups use two raw locks,
so neither thread allocates per job.

The thread holds the worker, never the Policy: `weakref.finalize` on the Policy stops and joins it
when the Policy is closed, garbage-collected or the interpreter exits.
"""

from __future__ import annotations

import _thread
import threading
from typing import Any

import numpy as np



class InferenceWorker:
    """One inference thread for one backend (batch 1)."""

    def __init__(self, backend: Any, chunk_shape: tuple[int, int], name: str = "act-edge-inference") -> None:
        self._backend = backend
        self.result = np.zeros(chunk_shape, dtype=np.float32)  # the last finished chunk
        self.job_tick = -1  # tick whose observation the current/last job predicts from
        self.job_episode = -1
        self.finished = False  # `result` holds a finished job nobody has taken yet
        self.error: BaseException | None = None  # a failed job's exception, until taken
        self._go = _thread.allocate_lock()  # held while no job is pending; released to hand one off
        self._go.acquire()
        self._done = _thread.allocate_lock()  # held while a job is in flight
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, tick: int, episode: int) -> None:
        """Hand off the staged observation (control thread; the worker must be idle)."""
        if self.finished or self.error is not None:
            raise RuntimeError("inference worker: submit before the last job's outcome was taken")
        if not self._done.acquire(False):
            raise RuntimeError("inference worker: submit while a job is in flight")
        self.job_tick = tick
        self.job_episode = episode
        self._go.release()

    @property
    def running(self) -> bool:
        """A job was handed off and its outcome is not set yet."""
        return self._done.locked()

    def wait(self) -> None:
        """Block until no job is in flight."""
        self._done.acquire()
        self._done.release()

    def take(self) -> np.ndarray:
        """The finished chunk (valid until the next submit); marks it taken."""
        self.finished = False
        return self.result

    def take_error(self) -> BaseException | None:
        err, self.error = self.error, None
        return err

    def _run(self) -> None:
        be = self._backend
        result = self.result
        while True:
            self._go.acquire()
            if self._stop:
                break
            try:
                chunk, _ = be.run(1, first=True)  # upload, execute, download, finite check
                np.copyto(result, chunk)
            except BaseException as exc:  # surfaced by the next step() with its own message
                self.error = exc
            else:
                self.finished = True
            self._done.release()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop and join the thread (after the job in flight, if any, finishes); idempotent."""
        self._stop = True
        try:
            self._go.release()
        except RuntimeError:  # a job is pending: the thread takes `go`, sees the flag and exits
            pass
        if self._thread is not threading.current_thread():
            self._thread.join()


def stop_worker(worker: InferenceWorker) -> None:
    """The Policy's finalizer (holds no reference to the Policy)."""
    worker.stop()
