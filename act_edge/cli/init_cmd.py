"""Write a seeded random-weight act-edge checkpoint for a preset (for trying the tools)."""

from __future__ import annotations

import argparse

from . import argtypes as t

# The names of act_edge.export.presets.PRESETS, here so that the parser needs no torch (a test keeps them equal).
PRESET_NAMES = ("aloha-sim", "aloha-real", "so100", "tiny", "behavior", "state-only", "simplified")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", required=True, metavar="NAME", type=t.choice(PRESET_NAMES, "preset"),
                   help="aloha-sim (1 camera 480x640, 14-dof, chunk 100), aloha-real (4 cameras), "
                        "so100 (2 cameras, 6-dof, chunk 50, pre-norm), behavior (3 RGB-D views 240x240, "
                        "37/23-dof, chunk 20, 7 decoder layers), state-only (no cameras: LeRobot-style "
                        "state 2 + env state 16, action 2, chunk 100), simplified (decoder-only simplified ACT "
                        "of course notes: no cameras, obs 14, action 14, chunk 50), tiny (tests)")
    p.add_argument("-o", "--output", required=True, type=t.new_or_checkpoint_file,
                   help="checkpoint file to write (e.g. ckpt.pt): a new file, or an act-edge checkpoint it replaces")
    p.add_argument("--seed", type=t.integer(0, t.SEED_MAX), default=0,
                   help=f"seed for weights and normalization stats, 0..{t.SEED_MAX} (default 0)")


def run(args: argparse.Namespace) -> int:
    from ..errors import ActEdgeError
    from ..export.formats import native
    from ..export.presets import PRESETS, random_checkpoint

    if args.preset not in PRESETS:
        import difflib

        hint = difflib.get_close_matches(args.preset, PRESETS, n=1)
        raise ActEdgeError(f"unknown preset {args.preset!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                           + f"; presets: {', '.join(PRESETS)}")
    if not args.output.parent.exists():
        raise ActEdgeError(f"{args.output.parent}: output directory does not exist")
    spec, weights, runtime = random_checkpoint(args.preset, args.seed)
    native.save(args.output, spec, weights, runtime)
    n = sum(w.numel() for w in weights.values())
    print(f"wrote {args.output}: preset {args.preset}, seed {args.seed}, {n / 1e6:.1f}M weights (random)")
    print(f"next: act-edge export {args.output} --fp16")
    return 0
