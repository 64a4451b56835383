"""h5py, imported when an episode is read: an optional extra (`act-edge[replay]`), never a runtime import."""

from __future__ import annotations

from typing import Any

from ..errors import DependencyMissing

INSTALL = "pip install 'act-edge[replay]'"


def h5py() -> Any:
    """The h5py module, or DependencyMissing naming the extra that installs it."""
    try:
        import h5py as module
    except ImportError as exc:
        why = str(exc).splitlines()[0] if str(exc) else "not installed"
        raise DependencyMissing(f"reading episode files needs h5py, which does not import here ({why}): "
                                f"{INSTALL}") from None
    return module
