"""Command-line flags that choose and configure a checkpoint family loader (export, inspect).

Defined here, not in act_edge.export.formats, so that building the parser needs neither torch nor
act_edge.export.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import argtypes as t
from ..errors import CheckpointError

# The keys of act_edge.export.formats.FORMATS, here so that the parser needs no torch (a test keeps them equal).
FORMAT_NAMES = ("act-edge", "original", "lerobot", "behavior", "simplified")


def add_loader_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags that choose and configure a family loader (forwarded by `act-edge export`)."""
    g = parser.add_argument_group("checkpoint family options (used where the checkpoint does not say)")
    if "--format" not in parser._option_string_actions:  # export_cmd may declare it itself
        g.add_argument("--format", choices=list(FORMAT_NAMES), default=None,
                       help=f"checkpoint family ({', '.join(FORMAT_NAMES)}); detected from the path when omitted")
    g.add_argument("--stats", metavar="PATH", default=None,
                   help="normalization stats: original ACT dataset_stats.pkl (default: next to the .ckpt); "
                        "BEHAVIOR il_lib joint ranges (.json/.npz with state_min, state_max, action_min, "
                        "action_max, optional gripper_indices; required); simplified ACT (optional, default none: "
                        ".json/.npz/.pkl with state_mean, state_std and/or action_mean, action_std, or *_min, *_max)")
    g.add_argument("--cameras", metavar="NAMES", default=None,
                   help="comma-separated camera names in input order. Original ACT: not stored in the weights, "
                        "default 'top' (the sim tasks; real ALOHA e.g. cam_high,cam_low,cam_left_wrist,"
                        "cam_right_wrist). BEHAVIOR: default left_wrist,right_wrist,head. LeRobot: renames the "
                        "config's cameras (count must match)")
    g.add_argument("--image-size", metavar="HxW", default=None,
                   help="camera resolution, one for all cameras or a comma-separated list, one per camera. "
                        "Original ACT default 480x640; BEHAVIOR default 240x240 (LeRobot: from config.json)")
    g.add_argument("--heads", type=int, default=None,
                   help="attention heads, not stored in original ACT or simplified ACT weights (original default 8, "
                        "simplified default 4); must divide d_model")
    g.add_argument("--dilation", action="store_true", default=None,
                   help="original ACT --dilation: last ResNet stage dilated, stride 16 (original default off)")
    g.add_argument("--decoder-output", choices=["last", "first"], default=None,
                   help="BEHAVIOR il_lib: 'last' = hs[-1], all decoder layers (current il_lib, default); "
                        "'first' = hs[0], decoder layer 0 only (il_lib before 2025-08-30)")


def loader_options(args: argparse.Namespace) -> dict[str, Any]:
    """Parsed flags -> keyword options for the loader (only those given). `--format` is not included:
    pass it as `load_checkpoint(path, format=args.format, **loader_options(args))`."""
    from ..export.formats._common import camera_list, parse_size  # checkpoint path only: needs torch

    opts: dict[str, Any] = {}
    if getattr(args, "stats", None):
        opts["stats"] = args.stats
    if getattr(args, "cameras", None):
        opts["cameras"] = camera_list(args.cameras, [])
    if getattr(args, "image_size", None):
        sizes = [parse_size(s) for s in str(args.image_size).split(",")]
        opts["image_size"] = sizes[0] if len(sizes) == 1 else sizes
    if getattr(args, "heads", None) is not None:
        if args.heads < 1:
            raise CheckpointError(f"--heads {args.heads}: must be >= 1")
        opts["heads"] = args.heads
    if getattr(args, "dilation", None):
        opts["dilation"] = True
    if getattr(args, "decoder_output", None):
        opts["decoder_output"] = args.decoder_output
    return opts


def retype_loader_flags(p: argparse.ArgumentParser) -> None:
    """Parse-time checks for the loader flags (shared by export and inspect)."""
    t.retype(p, {"--stats": t.existing_path, "--cameras": t.camera_names, "--image-size": t.image_size,
                 "--heads": t.integer(1, 1024)})
