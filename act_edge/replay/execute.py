"""Executed actions: a sequence of per-frame chunks through the runtime's own temporal ensemble or
chunk queue (act_edge.ensemble) and the manifest's post-steps, as a synchronous `Policy.step()` does."""

from __future__ import annotations

import numpy as np

from ..ensemble import ChunkQueue, TemporalEnsemble
from ..post_steps import PostSteps


def execute(chunks: np.ndarray, coeff: float | None, n_action_steps: int, post_steps: PostSteps) -> np.ndarray:
    """chunks (T, chunk, A), the prediction made at each frame -> (T, A) float32 actions executed.

    coeff a float: the model runs every frame and the ensemble folds each chunk in; None: the chunk
    queue takes the frame's chunk whenever it is empty and executes its first n_action_steps rows.
    """
    T, C, A = chunks.shape
    out = np.empty((T, A), dtype=np.float32)
    if coeff is not None:
        ensemble = TemporalEnsemble(C, A, coeff)
        for t in range(T):
            out[t] = ensemble.update(chunks[t])
            post_steps.apply(out[t])
        return out
    queue = ChunkQueue(C, A, n_action_steps)
    for t in range(T):
        if queue.needs_chunk:
            queue.push(chunks[t])
        out[t] = queue.pop()
        post_steps.apply(out[t])
    return out
