"""The /metrics text: label escaping and the listen address (no server needed)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from natsops.doctor.metrics import render_error, render_metrics
from natsops.doctor.serve import parse_listen
from natsops.errors import UsageError
from natsops.findings import Finding
from natsops.monitoring.snapshot import ServerView, Snapshot


def test_awkward_label_values_survive_a_real_parser() -> None:
    subject = 'APP > "quoted" \\ back\nslash'
    snap = Snapshot(servers=(ServerView(name="n1", id="X", varz={"connections": 3,
                                                                  "cpu": 12.5}),),
                    transport="sys", seconds=0.25)
    text = render_metrics(snap, [Finding.warn("x-check", subject, "m"), Finding.ok("y", "s", "ok")],
                          gathered_at=1.0)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples[("natsops_doctor_finding", (("check", "x-check"), ("severity", "warn"),
                                               ("subject", subject)))] == 1
    assert not any(k[0] == "natsops_doctor_finding" and ("check", "y") in k[1] for k in samples)
    assert samples[("natsops_server_cpu_percent", (("cluster", ""), ("server", "n1")))] == 12.5
    assert samples[("natsops_doctor_gather_seconds", ())] == 0.25
    assert samples[("natsops_doctor_findings", (("severity", "ok"),))] == 1


def test_error_text_parses() -> None:
    names = {f.name for f in text_string_to_metric_families(render_error('no "x"', failed_at=2))}
    assert {"natsops_doctor_up", "natsops_doctor_error"} <= names


@pytest.mark.parametrize(("value", "want"), [
    (":9119", ("127.0.0.1", 9119)), ("9119", ("127.0.0.1", 9119)),
    ("0.0.0.0:80", ("0.0.0.0", 80)), ("[::1]:0", ("::1", 0)),
])
def test_listen_addresses(value: str, want: tuple[str, int]) -> None:
    assert parse_listen(value) == want


@pytest.mark.parametrize("value", ["host:", "a:b", ":70000", ":-1"])
def test_bad_listen_addresses(value: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(value)
