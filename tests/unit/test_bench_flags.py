"""`natsops bench` flags: which go together, what they default to, how a run ends (no server)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from natsops.bench import BenchFlags, BenchOptions, bench_options, check_outputs, result_error
from natsops.bench.stats import BenchResult
from natsops.errors import ChecksFailed, UsageError


def test_defaults_come_from_bench_options() -> None:
    assert bench_options(BenchFlags("s")) == BenchOptions("s")
    o = bench_options(BenchFlags("s", pub=2, sub=3, size="1KiB", duration="10s", subjects=4))
    assert (o.mode, o.pubs, o.subs, o.size, o.msgs, o.duration, o.subjects) == (
        "core", 2, 3, 1024, None, 10.0, 4)


def test_modes_and_their_flags() -> None:
    assert bench_options(BenchFlags("s", request=True)).mode == "request"
    js = bench_options(BenchFlags("s", js=True, stream="S", replicas=3, sync=True, keep=True))
    assert (js.mode, js.stream, js.replicas, js.window, js.batch, js.keep) == (
        "js", "S", 3, 1, 1, True)
    kv = bench_options(BenchFlags("k", kv="get", bucket="B", keys=10, storage="memory"))
    assert (kv.mode, kv.kv, kv.bucket, kv.keys, kv.storage) == ("kv", "get", "B", 10, "memory")


@pytest.mark.parametrize(("flags", "text"), [
    (BenchFlags("s", request=True, js=True), "different modes"),
    (BenchFlags("s", js=True, kv="put"), "different modes"),
    (BenchFlags("s", window=10), "--window only apply with --js"),
    (BenchFlags("s", kv="put", consume="fetch"), "--consume only apply with --js"),
    (BenchFlags("s", keys=5), "--keys only apply with --kv"),
    (BenchFlags("s", replicas=3, keep=True), "--replicas, --keep only apply with --js or --kv"),
    (BenchFlags("s", js=True, sync=True, batch=10), "--sync publishes one message"),
    (BenchFlags("s", msgs=10, duration="1s"), "either --msgs or --duration"),
    (BenchFlags("s", size="12XB"), "--size"),
])
def test_flags_that_do_not_go_together(flags: BenchFlags, text: str) -> None:
    with pytest.raises(UsageError, match=text):
        bench_options(flags)


def test_one_document_on_stdout() -> None:
    check_outputs("-", False)
    check_outputs("run.csv", True)
    with pytest.raises(UsageError, match="--csv - and --json"):
        check_outputs("-", True)


def test_an_unwritable_csv_fails_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such directory"):
        check_outputs(str(tmp_path / "missing" / "run.csv"), False)
    with pytest.raises(UsageError, match="it is a directory"):
        check_outputs(str(tmp_path), False)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere
        with pytest.raises(UsageError, match="permission denied"):
            check_outputs(str(locked / "run.csv"), False)
    check_outputs(str(tmp_path / "run.csv"), False)
    assert not (tmp_path / "run.csv").exists()  # checked, not created


def test_warnings_fail_the_run() -> None:
    r = BenchResult(mode="core", subject="s", size=8, pubs=1, subs=1, msgs=10, duration=None,
                    servers=("nats://x",), server_version="2", groups=(), published=10,
                    expected=10, received=10, lost=0)
    assert result_error(r) is None
    err = result_error(BenchResult(**{**r.__dict__, "warnings": ("lost 3", "errors 1")}))
    assert isinstance(err, ChecksFailed)
    assert str(err) == "lost 3 (and 1 more)"
    assert err.exit_code == 6
