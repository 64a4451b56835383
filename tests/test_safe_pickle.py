"""The allow-list unpicklers: what they admit, what they refuse (by name, one line, nothing run)."""

from __future__ import annotations

import builtins
import collections
import os
import pickle
import sys

import numpy as np
import pytest

from act_edge.errors import CheckpointError
from act_edge.export.safe_pickle import load_plain_pickle, load_torch_checkpoint, to_plain


@pytest.fixture
def torch():
    """torch for the tests of the torch.load allow-list; they skip where torch is absent."""
    return pytest.importorskip("torch")


class _Reduce:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def test_plain_pickle_admits_numpy_and_containers(tmp_path):
    data = {"a": np.arange(3.0), "b": [1, (2, 3.5), {"c": "x"}], "s": np.float32(2), "i": np.int64(7),
            "o": collections.OrderedDict(k=np.ones((2, 2), np.float32)), "set": {1, 2}, "by": b"xy"}
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        p = tmp_path / f"ok{protocol}.pkl"
        p.write_bytes(pickle.dumps(data, protocol=protocol))
        got = load_plain_pickle(p)
        assert np.array_equal(got["a"], data["a"]) and got["b"] == data["b"] and got["set"] == {1, 2}
        assert got["o"]["k"].dtype == np.float32 and got["s"] == 2 and got["by"] == b"xy"


@pytest.mark.parametrize("func,name", [(os.system, "system"), (builtins.eval, "builtins.eval"),
                                       (builtins.exec, "builtins.exec"), (os.remove, "remove")])
def test_plain_pickle_refuses_code_by_name(tmp_path, func, name):
    marker = tmp_path / "marker"
    arg = f"touch {marker}" if func is os.system else (f"open({str(marker)!r}, 'w')" if func in (eval, exec) else str(marker))
    marker_keep = tmp_path / "keep"
    marker_keep.write_text("x")
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"x": _Reduce(func, arg if func is not os.remove else str(marker_keep))}))
    with pytest.raises(CheckpointError) as e:
        load_plain_pickle(p)
    msg = str(e.value)
    assert "\n" not in msg and "refused to unpickle global" in msg and name in msg
    assert not marker.exists() and marker_keep.exists()


def test_torch_loader_refuses_by_name_and_runs_nothing(tmp_path, torch):
    marker = tmp_path / "marker"
    torch.save({"w": torch.ones(2), "x": _Reduce(os.system, f"touch {marker}")}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError) as e:
        load_torch_checkpoint(tmp_path / "evil.pt", lightning=True)
    assert "\n" not in str(e.value) and "system" in str(e.value) and not marker.exists()


def test_omegaconf_stand_ins_to_plain(tmp_path, torch):
    import fixtures_families as ff

    value = {"a": 1, "b": [1, 2, {"c": None}], "d": {"e": "x", "f": 2.5, "g": True}}
    with ff.fake_omegaconf() as classes:
        torch.save({"hyper_parameters": {"cfg": ff._omegaconf(value, classes)}, "w": torch.zeros(1)}, tmp_path / "hp.pth")
    assert "omegaconf" not in sys.modules
    obj = load_torch_checkpoint(tmp_path / "hp.pth", lightning=True)
    assert to_plain(obj["hyper_parameters"]) == {"cfg": value}
    assert "omegaconf" not in sys.modules
    # without lightning=True the omegaconf names are not admitted
    with pytest.raises(CheckpointError) as e:
        load_torch_checkpoint(tmp_path / "hp.pth")
    assert "omegaconf" in str(e.value) and "\n" not in str(e.value)


def test_truncated_and_garbage(tmp_path, torch):
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps({"a": np.ones(100)})[:40])
    with pytest.raises(CheckpointError) as e:
        load_plain_pickle(p)
    assert "not a readable pickle" in str(e.value)
    with pytest.raises(CheckpointError):
        load_torch_checkpoint(p)


@pytest.mark.parametrize("version", ["2.3.0", "2.4.0"])
def test_real_omegaconf_pickles_load_without_omegaconf(version, torch):
    """Files written by the real omegaconf (see tests/data/omegaconf/make.py) load and convert."""
    from pathlib import Path

    from act_edge.export.safe_pickle import resolve_interpolations

    path = Path(__file__).parent / "data" / "omegaconf" / f"hparams_omegaconf-{version}.torch"
    obj = load_torch_checkpoint(path, lightning=True)
    hp = to_plain(obj["hyper_parameters"])
    backbone = {"_target_": "il_lib.nn.features.MultiviewResNet18", "views": ["left_wrist", "right_wrist", "head"],
                "include_depth": True, "resnet_output_dim": 512, "x": None, "f": 1.5,
                "interp": "${obs_backbone.resnet_output_dim}"}
    keys = ["base", "torso", "left_arm", "left_gripper", "right_arm", "right_gripper"]
    assert hp == {"obs_backbone": backbone, "action_keys": keys, "n_heads": 8,
                  "whole": {"obs_backbone": backbone, "action_keys": keys}}
    assert resolve_interpolations(hp["whole"])["obs_backbone"]["interp"] == 512
    assert obj["hparams_type"].__qualname__ == "DictConfig" and "omegaconf" not in sys.modules


def test_real_lightning_checkpoint_loads_without_lightning_or_omegaconf(torch):
    """A checkpoint written by the real lightning 2.6.6 Trainer (see tests/data/lightning/make.py)."""
    from pathlib import Path

    path = Path(__file__).parent / "data" / "lightning" / "last_lightning-2.6.6_omegaconf-2.3.0.torch"
    obj = load_torch_checkpoint(path, lightning=True)
    assert {"state_dict", "hyper_parameters", "optimizer_states", "lr_schedulers", "callbacks", "loops"} <= set(obj)
    assert to_plain(obj["hyper_parameters"]) == {
        "prop_dim": 7, "obs_backbone": {"_target_": "x.Y", "views": ["a", "b"], "include_depth": True},
        "action_keys": ["base", "left_gripper"], "n_heads": 8, "lr": 0.001}
    assert "obs_backbone.1.num_batches_tracked" in obj["state_dict"]
    assert "omegaconf" not in sys.modules and "lightning" not in sys.modules
