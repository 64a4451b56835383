"""h5py for the episode readers: act_edge.episode_file's importer (an optional extra, `act-edge[replay]`,
never a runtime import), its message naming what needed it."""

from __future__ import annotations

from typing import Any

from .. import episode_file


def h5py() -> Any:
    """The h5py module, or DependencyMissing naming the extra that installs it."""
    return episode_file.h5py("reading episode files")
