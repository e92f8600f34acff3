"""A sizing request: the flags given, what a running deployment shows, a price table.

:func:`workload` merges them into one :class:`~natsops.sizing.SizingInput`: a flag given
explicitly wins over what was measured (:func:`measure`, ``sizing --from-cluster``), which wins
over the defaults. Retention and max-bytes go together: giving either replaces both measured
limits. :func:`sizing_report` answers the request with the model of :mod:`natsops.sizing`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from natsops.errors import UsageError
from natsops.files import read_text
from natsops.sizing import (
    CostResult,
    Observed,
    Prices,
    SizingInput,
    SizingResult,
    cost,
    jetstream_config,
    size,
)
from natsops.validate import count, number

if TYPE_CHECKING:
    from natsops.monitoring.gather import Access

__all__ = ["DEFAULTS", "Given", "SizingReport", "load_prices", "measure", "sizing_report",
           "workload"]

T = TypeVar("T")

# the workload when neither a flag nor a measurement says otherwise
DEFAULTS = SizingInput(msgs_per_sec=1000.0, msg_size=1024, replicas=3, streams=1, consumers=1,
                       connections=100, fan_out=1.0)


@dataclass(frozen=True)
class Given:
    """The workload flags given, parsed; None means not given (measured, else the default)."""

    msgs_per_sec: float | None = None
    msg_size: int | None = None
    retention_seconds: float | None = None
    max_bytes: int | None = None
    replicas: int | None = None
    streams: int | None = None
    consumers: int | None = None
    connections: int | None = None
    fan_out: float | None = None
    nodes: int | None = None  # None: the smallest odd count that fits
    gateways: int = 0
    memory_fraction: float = 0.0

    @classmethod
    def parse(
        cls,
        *,
        msgs_per_sec: float | None = None,
        msg_size: str | None = None,
        retention: str | None = None,
        max_bytes: str | None = None,
        replicas: int | None = None,
        streams: int | None = None,
        consumers: int | None = None,
        connections: int | None = None,
        fan_out: float | None = None,
        nodes: str = "auto",
        gateways: int = 0,
        memory_fraction: float = 0.0,
    ) -> Given:
        """The flags as the user typed them: sizes (``1KB``), durations (``7d``), ``auto``.

        Every value is checked here, before anything is computed: one line naming the flag
        and the limit (exit 2)."""
        from natsops.units import parse_duration, parse_size

        _check_flags(msgs_per_sec=msgs_per_sec, replicas=replicas, streams=streams,
                     consumers=consumers, connections=connections, fan_out=fan_out,
                     gateways=gateways, memory_fraction=memory_fraction)
        given = cls(
            msgs_per_sec=msgs_per_sec,
            msg_size=parse_size(msg_size, what="--msg-size") if msg_size else None,
            retention_seconds=parse_duration(retention, what="--retention") if retention
            else None,
            max_bytes=parse_size(max_bytes, what="--max-bytes") if max_bytes else None,
            replicas=replicas, streams=streams, consumers=consumers, connections=connections,
            fan_out=fan_out, nodes=parse_nodes(nodes), gateways=gateways,
            memory_fraction=memory_fraction)
        if given.msg_size is not None:
            count(given.msg_size, "--msg-size", minimum=1)
        if given.retention_seconds is not None:
            number(given.retention_seconds, "--retention", above=0)
        if given.max_bytes is not None:
            count(given.max_bytes, "--max-bytes", minimum=1)
        if given.nodes is not None:
            count(given.nodes, "--nodes", minimum=1, maximum=1000)
        return given


def _check_flags(*, msgs_per_sec: float | None, replicas: int | None, streams: int | None,
                 consumers: int | None, connections: int | None, fan_out: float | None,
                 gateways: int, memory_fraction: float) -> None:
    if msgs_per_sec is not None:
        number(msgs_per_sec, "--msgs-per-sec", above=0)
    if replicas is not None:
        count(replicas, "--replicas", minimum=1, maximum=5)
    for flag, value in (("--streams", streams), ("--consumers", consumers),
                        ("--connections", connections)):
        if value is not None:
            count(value, flag, minimum=1 if flag == "--streams" else 0)
    if fan_out is not None:
        number(fan_out, "--fan-out", minimum=0)
    count(gateways, "--gateways", minimum=0)
    number(memory_fraction, "--memory-fraction", minimum=0, maximum=1)


def parse_nodes(text: str) -> int | None:
    """``--nodes``: a number, or ``auto`` (None)."""
    if text == "auto":
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--nodes must be a number or 'auto', not {text!r}") from None


def _pick(given: T | None, measured: T | None, default: T) -> T:
    return given if given is not None else measured if measured is not None else default


def _measured(o: Observed | None) -> Given:
    if o is None:
        return Given()
    return Given(msgs_per_sec=o.msgs_per_sec, msg_size=o.msg_size,
                 retention_seconds=o.retention_seconds, max_bytes=o.max_bytes,
                 replicas=o.replicas, streams=o.streams, consumers=o.consumers,
                 connections=o.connections, fan_out=o.fan_out)


def workload(given: Given, observed: Observed | None = None) -> SizingInput:
    """The flags given over the measured values over :data:`DEFAULTS` (see module doc).

    A measurement that saw no message stored cannot size anything without ``--msgs-per-sec``.
    """
    m, d = _measured(observed), DEFAULTS
    limits = given if (given.retention_seconds, given.max_bytes) != (None, None) else m
    w = SizingInput(
        msgs_per_sec=_pick(given.msgs_per_sec, m.msgs_per_sec, d.msgs_per_sec),
        msg_size=_pick(given.msg_size, m.msg_size, d.msg_size),
        retention_seconds=limits.retention_seconds, max_bytes=limits.max_bytes,
        replicas=_pick(given.replicas, m.replicas, d.replicas),
        streams=max(1, _pick(given.streams, m.streams, d.streams)),
        consumers=_pick(given.consumers, m.consumers, d.consumers),
        connections=_pick(given.connections, m.connections, d.connections),
        fan_out=_pick(given.fan_out, m.fan_out, d.fan_out),
        nodes=given.nodes, gateways=given.gateways, memory_fraction=given.memory_fraction,
        stream_limits=observed.stream_limits if observed is not None and limits is m else ())
    if observed is not None and w.msgs_per_sec <= 0:
        raise UsageError(f"no JetStream message was stored during the {observed.seconds:.0f}s "
                         "window", hint="use a longer --window, or give --msgs-per-sec")
    return w


def load_prices(path: Path | None) -> Prices:
    """The example prices, overridden by a YAML table of :class:`~natsops.sizing.Prices` keys."""
    if path is None:
        return Prices()
    import yaml

    text = read_text(path, what="--prices")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML: {exc}") from None
    known = {f.name for f in dataclasses.fields(Prices)}
    if not isinstance(data, dict) or set(data) - known:
        bad = sorted(set(data) - known) if isinstance(data, dict) else data
        raise UsageError(f"{path}: unknown price keys {bad}; known: {', '.join(sorted(known))}")
    try:
        values = {k: float(v) for k, v in data.items()}
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: prices must be numbers ({exc})") from None
    for k, v in values.items():
        number(v, f"price {k} in {path}", minimum=0)
    return Prices(**values)


async def measure(
    settings: Access,
    window: float | str,
    *,
    monitors: Sequence[str] = (),
    cluster_dir: Path | None = None,
    transport: str = "auto",
) -> Observed:
    """The workload of a running deployment: two gatherings ``window`` apart (as doctor's).

    ``window`` is seconds or a duration such as ``10s``.
    """
    from natsops.monitoring.gather import GatherOptions, gather_sampled
    from natsops.sizing import observe
    from natsops.units import parse_duration

    gap = parse_duration(window, what="--window") if isinstance(window, str) else window
    if gap <= 0:
        raise UsageError("--window must be above zero")
    snap = await gather_sampled(settings, GatherOptions(config_files=False), interval=gap,
                                monitors=monitors, cluster_dir=cluster_dir, transport=transport)
    assert snap.previous is not None
    return observe(snap.previous, snap)


@dataclass(frozen=True)
class SizingReport:
    """The answer to a sizing request (``sizing --json`` prints it as is)."""

    input: SizingInput
    result: SizingResult
    cost: CostResult | None
    observed: Observed | None
    jetstream_config: str


def sizing_report(given: Given, observed: Observed | None = None,
                  prices: Prices | None = None) -> SizingReport:
    """Size the merged workload; with ``prices``, its monthly cost too."""
    w = workload(given, observed)
    result = size(w)
    return SizingReport(input=w, result=result,
                        cost=cost(w, prices) if prices is not None else None,
                        observed=observed, jetstream_config=jetstream_config(result))
