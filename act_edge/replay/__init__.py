"""`act-edge replay`: run a bundle over recorded episodes and compare its actions with its source
checkpoint's and with the demonstration, in robot units (docs/replay-schema.md).

numpy only at import; h5py (the `replay` extra) is imported when an episode is read, torch only for
the eager source, matplotlib only for plots.
"""

from .episode import Episode, EpisodeError, Mapping
from .readers import open_episodes

__all__ = ["Episode", "EpisodeError", "Mapping", "open_episodes"]
