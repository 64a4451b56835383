"""Manifest post-steps (gripper snapping) applied by the Policy to executed actions."""

import numpy as np
import pytest

from act_edge import BundleError, Policy
from act_edge.post_steps import PostSteps
from bundles import build_synthetic_bundle, random_obs, synthetic_spec

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _snap(idx, thr, lo, hi):
    return {"op": "snap_gripper", "indices": idx, "threshold": thr, "low": lo, "high": hi}


@pytest.mark.parametrize("coeff, n_steps", [(0.01, 1), (None, 4)])
def test_grippers_are_snapped_and_other_joints_untouched(tmp_path, coeff, n_steps):
    spec = synthetic_spec(chunk=8, dof=5)
    rng = np.random.default_rng(0)
    obs = [random_obs(spec, rng) for _ in range(12)]
    plain = build_synthetic_bundle(tmp_path / "plain.actedge", spec=spec, seed=1)
    raw = Policy.load(plain.path, backend="onnxruntime", temporal_ensemble_coeff=coeff, n_action_steps=n_steps)
    want = np.array([raw.step(o).copy() for o in obs])
    thr = [float(np.median(want[:, 1])), float(np.median(want[:, 3]))]  # both branches get exercised
    steps = [_snap([1, 3], thr, [-2.0, 0.0], [2.0, 0.08])]
    snapped = build_synthetic_bundle(tmp_path / "snap.actedge", spec=spec, seed=1,
                                     runtime={"temporal_ensemble_coeff": 0.01, "n_action_steps": 1, "post_steps": steps})
    p = Policy.load(snapped.path, backend="onnxruntime", temporal_ensemble_coeff=coeff, n_action_steps=n_steps)
    got = np.array([p.step(o).copy() for o in obs])
    np.testing.assert_array_equal(got[:, [0, 2, 4]], want[:, [0, 2, 4]])
    np.testing.assert_array_equal(got[:, 1], np.where(want[:, 1] > thr[0], 2.0, -2.0))
    np.testing.assert_array_equal(got[:, 3], np.where(want[:, 3] > thr[1], 0.08, 0.0).astype(np.float32))
    assert set(got[:, 1]) == {2.0, -2.0}
    # predict_chunk returns the raw model chunk; post_steps.apply snaps any array the same way
    chunk = p.predict_chunk(obs[0])
    assert not set(np.unique(chunk[:, 1])) <= {2.0, -2.0}
    snapped_chunk = p.post_steps.apply(chunk.copy())
    np.testing.assert_array_equal(snapped_chunk[:, 1], np.where(chunk[:, 1] > thr[0], 2.0, -2.0))


@pytest.mark.parametrize("steps, match", [
    ([{"op": "clip"}], "unknown op 'clip'"),
    ([_snap([9], [0.0], [-1.0], [1.0])], "index 9 is outside"),
    ([_snap([1, 2], [0.0], [-1.0], [1.0])], "different lengths"),
    ([{"op": "snap_gripper", "indices": [1]}], "needs indices, threshold, low, high"),
])
def test_bad_post_steps_are_refused_at_load(steps, match):
    with pytest.raises(BundleError, match=match):
        PostSteps(steps, action_dim=5)


@pytest.mark.parametrize("thr", [0.1, 0.3, 0.7, -0.25, 1.1])
def test_tie_at_threshold_snaps_low_on_step_and_batched_paths(thr):
    """A float32 action exactly at the float32 threshold snaps low (as C++ does), one ulp above snaps
    high, on the 1-D step path and the batched path alike, whatever numpy's scalar promotion rules
    (numpy 1.x compares a float32 scalar with a Python float in float64)."""
    rng = np.random.default_rng(int(abs(thr) * 100))
    steps = PostSteps([_snap([2, 4], [thr, -thr], [-1.5, 0.0], [1.5, 0.09])], 6)
    t = np.float32(thr)
    rows = rng.uniform(-2, 2, (9, 6)).astype(np.float32)
    rows[:, 2] = np.repeat([t, np.nextafter(t, np.float32(9)), np.nextafter(t, np.float32(-9))], 3)
    rows[:, 4] = np.tile([-t, np.nextafter(-t, np.float32(9)), np.nextafter(-t, np.float32(-9))], 3)
    want = rows.copy()
    want[:, 2] = np.repeat(np.array([-1.5, 1.5, -1.5], np.float32), 3)
    want[:, 4] = np.tile(np.array([0.0, 0.09, 0.0], np.float32), 3)
    stepped = np.array([steps.apply(r.copy()) for r in rows])
    batched = steps.apply(rows.copy())
    batched3 = steps.apply(rows.reshape(3, 3, 6).copy()).reshape(9, 6)
    np.testing.assert_array_equal(stepped, want)
    np.testing.assert_array_equal(batched, want)
    np.testing.assert_array_equal(batched3, want)
    assert stepped.dtype == batched.dtype == np.float32
