"""Render doctor checks as text lines or as JSON (docs/doctor.md), and the exit code they give."""

from __future__ import annotations

import json
from typing import Any

from .check import FAIL, Check

SCHEMA = "act-edge-doctor/1"
EXIT_OK, EXIT_FAILED = 0, 1  # 2 (bad arguments, not a bundle directory) comes from the CLI


def exit_code(checks: list[Check]) -> int:
    return EXIT_FAILED if any(c.status == FAIL for c in checks) else EXIT_OK


def summary(checks: list[Check]) -> str:
    failed = [c.name for c in checks if c.status == FAIL]
    warned = sum(c.status == "warn" for c in checks)
    if failed:
        return f"not ready: {len(failed)} needed check(s) failed ({', '.join(failed)}); {warned} warning(s)"
    return f"ready: {len(checks)} checks, {warned} warning(s)"


def render_text(checks: list[Check]) -> str:
    return "\n".join([c.line() for c in checks] + [summary(checks)])


def to_dict(checks: list[Check], bundle: str | None) -> dict[str, Any]:
    from .. import __version__

    return {"schema": SCHEMA, "act_edge_version": __version__, "bundle": bundle,
            "exit_code": exit_code(checks), "summary": summary(checks),
            "checks": [c.to_dict() for c in checks]}


def render_json(checks: list[Check], bundle: str | None) -> str:
    return json.dumps(to_dict(checks, bundle), indent=2, allow_nan=False)
