"""Findings: what a check of an email reports, and a summary of many of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Finding", "Severity", "summarise"]

#: How much a finding matters: an error stops a build, a warning is shown, info is a note.
Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """One problem found in an email, with where it was found."""

    severity: Severity
    rule: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        """``line 12: warning: message [rule]``."""
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.severity}: {self.message} [{self.rule}]"


def summarise(findings: Iterable[Finding], examples: int = 2) -> list[str]:
    """One line per severity and rule: how many findings, and the first few of them."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.severity, finding.rule), []).append(finding)
    lines = []
    for (_, rule), group in groups.items():
        shown = "; ".join(f.message for f in group[:examples])
        more = f" (and {len(group) - examples} more)" if len(group) > examples else ""
        count = f"{len(group)} times: " if len(group) > 1 else ""
        lines.append(f"[{rule}] {count}{shown}{more}")
    return lines
