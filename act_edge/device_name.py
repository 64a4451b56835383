"""The one parser of device names ("cpu", "cuda", "cuda:N") shared by every backend (no imports)."""

from __future__ import annotations

from .errors import ArgumentError


def parse_device(device: str | None) -> tuple[str, int]:
    """"cpu" (or None) -> ("cpu", 0); "cuda" / "cuda:N" -> ("cuda", N); anything else (e.g. "gpu") is refused,
    never run on the CPU instead."""
    if device is None or device == "cpu":
        return "cpu", 0
    if device == "cuda":
        return "cuda", 0
    if isinstance(device, str) and device.startswith("cuda:") and device[5:].isascii() and device[5:].isdigit():
        return "cuda", int(device[5:])
    raise ArgumentError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
