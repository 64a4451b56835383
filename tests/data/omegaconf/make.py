"""How hparams_omegaconf-<version>.torch (torch.save zip; not .pth, which .gitignore hides) were made, with the real omegaconf (not needed by the tests):

    python -m venv /tmp/oc && /tmp/oc/bin/pip install omegaconf==2.3.0 torch
    /tmp/oc/bin/python tests/data/omegaconf/make.py tests/data/omegaconf/hparams_omegaconf-2.3.0.torch

A Lightning-style dict: hyper_parameters = dict(model.hparams) holding DictConfig/ListConfig values
(and hparams_type = DictConfig, as Lightning writes for Container hparams).
"""
import sys, torch, collections
from omegaconf import OmegaConf, DictConfig, ListConfig
import omegaconf
hp_plain = {"obs_backbone": {"_target_": "il_lib.nn.features.MultiviewResNet18", "views": ["left_wrist", "right_wrist", "head"],
            "include_depth": True, "resnet_output_dim": 512, "x": None, "f": 1.5, "interp": "${obs_backbone.resnet_output_dim}"},
            "action_keys": ["base", "torso", "left_arm", "left_gripper", "right_arm", "right_gripper"]}
cfg = OmegaConf.create(hp_plain)
hp = {"obs_backbone": cfg.obs_backbone, "action_keys": cfg.action_keys, "n_heads": 8, "whole": cfg}
ck = {"state_dict": collections.OrderedDict(w=torch.ones(2)), "hyper_parameters": hp, "hparams_name": "kwargs",
      "hparams_type": DictConfig, "epoch": 1}
torch.save(ck, sys.argv[1])
print(omegaconf.__version__)
