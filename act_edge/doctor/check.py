"""One doctor check: status, name, what was found, and the fix when it is not ok."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Check:
    """A FAIL is a needed check that failed (exit 1); a warn never fails the run."""

    status: str  # OK | WARN | FAIL
    name: str
    finding: str
    fix: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable facts behind the finding

    def line(self) -> str:
        text = f"{self.status:<4}  {self.name:<11} {_one_line(self.finding)}"
        return text + (f"; fix: {_one_line(self.fix)}" if self.fix else "")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.lower(), "finding": _one_line(self.finding),
                "fix": _one_line(self.fix) if self.fix else None, "data": self.data}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
