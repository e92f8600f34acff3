"""The result of one per-asset check (natscli ``server check`` semantics) and its thresholds.

A check yields :class:`natsops.findings.Finding` objects (FAIL = Nagios CRITICAL, WARN =
WARNING) plus perf data; ``unknown`` is set when the asset is missing or the server could not be
asked (Nagios UNKNOWN, exit 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from natsops.findings import Finding, Severity, worst

__all__ = ["CheckResult", "Perf", "Threshold", "nagios_code", "parse_threshold", "status_label"]

UNKNOWN = 3


@dataclass(frozen=True)
class Threshold:
    """A warning and a critical level; None disables a level.

    ``below``: alert when the value is at or below the level ("too few"), else at or above it.
    ``strict``: compare with > / < instead of >= / <= (natscli does for replica lag and age).
    """

    warn: float | None = None
    crit: float | None = None
    below: bool = False
    strict: bool = False

    @classmethod
    def inverting(cls, warn: float | None, crit: float | None) -> Threshold:
        """natscli's "inversion": a critical level below the warning one means "too few"."""
        below = warn is not None and crit is not None and crit < warn
        return cls(warn, crit, below=below)

    def _hit(self, value: float, level: float | None) -> bool:
        if level is None:
            return False
        if self.below:
            return value < level if self.strict else value <= level
        return value > level if self.strict else value >= level

    def severity(self, value: float) -> Severity:
        if self._hit(value, self.crit):
            return Severity.FAIL
        if self._hit(value, self.warn):
            return Severity.WARN
        return Severity.OK

    @property
    def enabled(self) -> bool:
        return self.warn is not None or self.crit is not None


@dataclass(frozen=True)
class Perf:
    """One measured value: a Nagios perf data item and a Prometheus gauge."""

    name: str
    value: float
    warn: float | None = None
    crit: float | None = None
    unit: str = ""


@dataclass
class CheckResult:
    """What one check found about one asset."""

    suite: str  # natscli's check_suite: stream, consumer, meta, kv, credential, connections
    name: str  # the asset: stream name, <stream>_<consumer>, bucket, ...
    findings: list[Finding] = field(default_factory=list)
    perf: list[Perf] = field(default_factory=list)
    unknown: str | None = None

    def add(self, severity: Severity, id: str, message: str, **evidence: object) -> None:
        self.findings.append(Finding(f"check/{self.suite}/{id}", severity, self.name, message,
                                     evidence=evidence))

    def measure(self, id: str, label: str, value: float, t: Threshold, unit: str = "",
                shown: str | None = None) -> None:
        """Record ``value`` as perf data and, when ``t`` is enabled, a finding on it."""
        self.perf.append(Perf(id, value, t.warn, t.crit, unit))
        if not t.enabled:
            return
        sev = t.severity(value)
        text = f"{label} {shown if shown is not None else _num(value)}"
        if sev is not Severity.OK:
            level = t.crit if sev is Severity.FAIL else t.warn
            cmp = ("<" if t.strict else "<=") if t.below else (">" if t.strict else ">=")
            text += f" {cmp} {_num(level or 0) if shown is None else _num(level or 0) + unit}"
        self.add(sev, id, text, value=value, warn=t.warn, crit=t.crit)


def _num(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) and not v.is_integer() else f"{int(v)}"


def nagios_code(r: CheckResult) -> int:
    """0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
    if r.unknown is not None:
        return UNKNOWN
    w = worst(r.findings)
    return 2 if w >= Severity.FAIL else 1 if w >= Severity.WARN else 0


def status_label(r: CheckResult) -> str:
    return ("OK", "WARNING", "CRITICAL", "UNKNOWN")[nagios_code(r)]


def by_severity(findings: Sequence[Finding], sev: Severity) -> list[str]:
    return [f.message for f in findings if f.severity == sev]


def parse_threshold(warn: str | None, crit: str | None, *, duration: bool = False,
                    inverting: bool = False, what: str = "threshold",
                    flags: tuple[str, str] | None = None) -> Threshold:
    """A Threshold from flag text: numbers, or durations (``5s``, ``7d``) with ``duration``.

    ``inverting``: a critical level below the warning one means "too few" (natscli).
    ``flags`` names the two options in errors (default ``--<what>-warn``, ``--<what>-crit``).
    """
    from natsops.errors import UsageError
    from natsops.units import parse_duration

    names = flags or (f"--{what}-warn", f"--{what}-crit")

    def one(text: str | None, flag: str) -> float | None:
        if text is None:
            return None
        if duration:
            return parse_duration(text, what=flag)
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"invalid {flag} {text!r}: expected a number") from None
        if value != value or value < 0:
            raise UsageError(f"invalid {flag} {text!r}: must be a number >= 0")
        return value

    w, c = one(warn, names[0]), one(crit, names[1])
    return Threshold.inverting(w, c) if inverting else Threshold(w, c)
