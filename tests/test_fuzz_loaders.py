"""Fuzzing the loaders (hypothesis): mutated LeRobot config.json files and random stats pickles.

Property: the loader returns a checkpoint whose numbers are all finite (std > 0, min < max), or raises
an act-edge error of one line; never another exception. Bounded: the whole file runs in well under 90 s.
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

pytest.importorskip("torch", reason="the loaders need torch (export side)")

import fixtures_families as ff  # noqa: E402
from act_edge.errors import ActEdgeError
from act_edge.export.checkpoint import load_checkpoint

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                derandomize=True)

# Values a careless or hostile config holds: wrong types, nulls, negative / huge / float / special numbers.
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.integers(-2**63, 2**63),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([8.7, 1e9, -3, 0, 1e300, 2.0**70]),
    st.text(max_size=6), st.sampled_from(["0.01", "8", "tiny", "NaN"]),
    st.lists(st.integers(-3, 10**6), max_size=4), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
KEEP = "<keep the valid value>"
value = st.one_of(junk, st.just(KEEP), st.integers(1, 8), st.floats(0, 0.1))  # some mutations keep it loadable
TOP_KEYS = ["chunk_size", "n_action_steps", "dim_model", "n_heads", "dim_feedforward", "n_encoder_layers",
            "n_decoder_layers", "pre_norm", "vision_backbone", "temporal_ensemble_coeff", "feedforward_activation",
            "replace_final_stride_with_dilation", "use_vae", "type", "normalization_mapping", "input_features",
            "output_features"]
FEATURE_PATHS = [("input_features", "observation.images.top", "shape"), ("input_features", "observation.state", "shape"),
                 ("output_features", "action", "shape"), ("input_features", "observation.state", "type"),
                 ("normalization_mapping", "STATE"), ("normalization_mapping", "ACTION")]


@pytest.fixture(scope="module")
def lerobot_dir(tmp_path_factory):
    fx = ff.write_lerobot(tmp_path_factory.mktemp("fuzz") / "run", ff.LeRobotConfig(cameras={"top": (64, 96)}), seed=9)
    return fx["dir"], json.loads((fx["dir"] / "config.json").read_text())


def _assert_sane(ckpt) -> None:
    spec = ckpt.spec
    for norm in (spec.state_norm, spec.action_norm, spec.env_state_norm):
        for name in ("mean", "std", "min", "max"):
            vals = getattr(norm, name)
            if vals is not None:
                assert all(math.isfinite(v) for v in vals), (name, vals)
        if norm.std is not None:  # 0 only where the normalization divides by std + eps (LeRobot)
            assert min(norm.std) > 0 or (norm.eps > 0 and min(norm.std) >= 0)
        if norm.min is not None:
            assert all(a < b or (norm.eps > 0 and a == b) for a, b in zip(norm.min, norm.max))
    for cam in spec.cameras:
        assert 1 <= cam.height <= 4096 and 1 <= cam.width <= 4096 and min(cam.std) > 0
    coeff = ckpt.runtime["temporal_ensemble_coeff"]
    assert coeff is None or (type(coeff) in (int, float) and math.isfinite(coeff))
    assert type(ckpt.runtime["n_action_steps"]) is int and 1 <= ckpt.runtime["n_action_steps"] <= spec.chunk_size


def _one_line_or_success(fn):
    try:
        return fn()
    except ActEdgeError as exc:
        text = str(exc)
        assert text and "\n" not in text, text
        return None


@settings(max_examples=120, **SETTINGS)
@given(mutations=st.lists(st.tuples(st.sampled_from(TOP_KEYS + FEATURE_PATHS), value), min_size=1, max_size=3))
def test_lerobot_config_mutations(lerobot_dir, mutations):
    d, valid = lerobot_dir
    cfg = json.loads(json.dumps(valid))
    for where, value in mutations:
        if value == KEEP:
            continue
        if isinstance(where, str):
            cfg[where] = value
            continue
        node = cfg
        for part in where[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[where[-1]] = value
    (d / "config.json").write_text(json.dumps(cfg))  # NaN / Infinity written as JSON's extensions
    ckpt = _one_line_or_success(lambda: load_checkpoint(d))
    if ckpt is not None:
        _assert_sane(ckpt)


# --- stats pickles ---------------------------------------------------------------------------------

special = st.sampled_from([0.0, -0.0, -1.0, math.nan, math.inf, -math.inf, 1e-300, 1e300])
element = st.one_of(st.floats(-10, 10), special)


def vector(n: int):
    return st.one_of(
        hnp.arrays(np.float64, n, elements=st.floats(0.01, 5)),  # mostly valid
        hnp.arrays(np.float64, n, elements=element),
        hnp.arrays(st.sampled_from([np.float32, np.int64, np.bool_, np.complex64]), st.integers(0, n + 2)),
        hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 3))),
        st.lists(element, min_size=n, max_size=n), st.lists(st.text(max_size=3), max_size=n),
        st.none(), st.text(max_size=5), st.dictionaries(st.text(max_size=3), element, max_size=2),
        st.lists(st.lists(element, max_size=3), max_size=3),
    )


@st.composite
def valid_then_spoiled(draw, keys: tuple[str, ...], dims: tuple[int, ...]):
    """Valid stats (centre/low, then std/high = positive spread), maybe one element replaced by a special."""
    out = {}
    for first, second, n in zip(keys[::2], keys[1::2], dims[::2]):
        lo = draw(hnp.arrays(np.float64, n, elements=st.floats(-5, 5)))
        out[first] = lo
        spread = draw(hnp.arrays(np.float64, n, elements=st.floats(0.01, 3)))
        out[second] = (lo + spread) if first.endswith("min") else spread
    if draw(st.booleans()):
        key = draw(st.sampled_from(keys))
        out[key][draw(st.integers(0, out[key].size - 1))] = draw(special)
    return out


def stats_dict(keys: tuple[str, ...], dims: tuple[int, ...]):
    entries = {k: vector(n) for k, n in zip(keys, dims)}
    return st.one_of(
        valid_then_spoiled(keys, dims), st.fixed_dictionaries(entries),
        st.fixed_dictionaries({}, optional={**entries, "extra": vector(2)}),
        st.lists(element, max_size=3), st.integers(), st.none(),
    )


def _pickle(tmp_path, name, obj, protocol) -> str:
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=protocol))  # the stock pickler writes data; it is read back safely
    return path


@settings(max_examples=200, **SETTINGS)
@given(stats=stats_dict(("qpos_mean", "qpos_std", "action_mean", "action_std"), (5, 5, 4, 4)),
       protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_original_stats_pickles(tmp_path, stats, protocol):
    from act_edge.export.formats.original import _read_stats

    path = _pickle(tmp_path, "dataset_stats.pkl", stats, protocol)
    got = _one_line_or_success(lambda: _read_stats(path, 5, 4, {}))
    if got is not None:
        for norm, dim in zip(got, (5, 4)):
            assert len(norm.mean) == len(norm.std) == dim
            assert all(math.isfinite(v) for v in norm.mean + norm.std) and min(norm.std) > 0
            assert all(np.isfinite(np.asarray(v, dtype=np.float32)).all() for v in norm.affine() + norm.inverse_affine())


@settings(max_examples=150, **SETTINGS)
@given(ranges=stats_dict(("state_min", "state_max", "action_min", "action_max"), (6, 6, 3, 3)),
       protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_behavior_range_pickles(tmp_path, ranges, protocol):
    from act_edge.export.formats.behavior import _read_ranges, range_norms

    path = _pickle(tmp_path, "ranges.pkl", ranges, protocol)
    got = _one_line_or_success(lambda: range_norms(_read_ranges(path, 6, 3)))
    if got is not None:
        for norm, dim in zip(got, (6, 3)):
            assert len(norm.min) == len(norm.max) == dim
            assert all(math.isfinite(v) for v in norm.min + norm.max) and all(a < b for a, b in zip(norm.min, norm.max))
            assert all(np.isfinite(np.asarray(v, dtype=np.float32)).all() for v in norm.affine() + norm.inverse_affine())
