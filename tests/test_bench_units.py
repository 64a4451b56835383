"""Bench helpers: synthetic observations, profiler-report normalization, device-fact parsers."""

from __future__ import annotations

import numpy as np

from act_edge.bench import device_info, synthetic
from act_edge.bench.policy_adapter import normalize_report
from act_edge.bundle import load_bundle


def test_synthetic_pool_is_seeded_realistic_and_never_zero(synthetic_bundle):
    b = load_bundle(synthetic_bundle.path)
    pool = synthetic.make_pool(b, 4, seed=5)
    again = synthetic.make_pool(b, 4, seed=5)
    other = synthetic.make_pool(b, 4, seed=6)
    spec = b.spec
    for obs, same in zip(pool, again):
        assert set(obs["images"]) == set(spec.camera_names)
        for cam in spec.cameras:
            img = obs["images"][cam.name]
            assert img.dtype == np.uint8 and img.shape == (cam.height, cam.width, 3) and img.min() >= 1
            np.testing.assert_array_equal(img, same["images"][cam.name])
        assert obs["state"].dtype == np.float32 and obs["state"].shape == (spec.state_dim,)
        z = (obs["state"] - np.array(spec.state_norm.mean)) / np.array(spec.state_norm.std)
        assert np.abs(z).max() < 6  # drawn from the manifest's stats
    assert not np.array_equal(pool[0]["state"], other[0]["state"])
    batch = synthetic.stack(pool[:3])
    assert batch["state"].shape == (3, spec.state_dim)
    assert batch["images"]["wrist"].shape == (3, 24, 32, 3)
    assert batch["env_state"].shape == (3, spec.env_state_dim)
    feeds = synthetic.graph_inputs(b, pool[0])
    assert feeds["images"].shape == (1, 2, 24, 32, 3) and feeds["state"].shape == (1, spec.state_dim)
    np.testing.assert_array_equal(feeds["images"][0, 1], pool[0]["images"]["wrist"])


def test_normalize_puts_units_in_keys_and_keeps_profiler_order():
    row = {"p50": 1.0, "p90": 2.0, "p99": 3.0, "max": 4.0, "mean": 1.5, "std": 0.5, "count": 9}
    rep = {"steps": 9, "unit": "us", "stages": {"total": row, "host_to_device": row, "stage_inputs": row},
           "jitter": {"std": 1.0}}
    out = normalize_report(rep)
    assert list(out) == ["stage_inputs", "host_to_device", "total"]
    assert out["stage_inputs"] == {"p50_us": 1.0, "p90_us": 2.0, "p99_us": 3.0, "max_us": 4.0,
                                   "mean_us": 1.5, "std_us": 0.5, "count": 9}


def test_device_fact_parsers():
    assert device_info.parse_l4t("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, "
                                 "EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025") == "36.4.3"
    assert device_info.parse_nvpmodel("NV Power Mode: MAXN\n0\n") == "MAXN (mode 0)"
    assert device_info.parse_nvpmodel("NV Power Mode: 15W\n1") == "15W (mode 1)"
    assert device_info.parse_nvpmodel("") is None
    assert device_info.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    facts = device_info.collect()  # best effort: never raises
    assert facts["cpu"]["cores"] >= 1 and "numpy" in facts["libraries"]
