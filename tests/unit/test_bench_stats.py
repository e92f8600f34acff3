"""Benchmark maths and the wire parser, without a server."""

from __future__ import annotations

import pytest

from natsops.bench.runner import BenchOptions, _split, plan_workers
from natsops.bench.stats import client_stats, csv_rows, group_stats, latency_stats
from natsops.bench.wire import ERR, HMSG, MSG, PING, PONG, Frame, parse_frames, redact
from natsops.bench.workers import WorkerSpec, _count_acks, payload_for, ring, subject_names
from natsops.errors import UsageError


def test_split_gives_the_remainder_to_the_first_clients() -> None:
    assert _split(10, 3) == [4, 3, 3]
    assert sum(_split(1_000_001, 4)) == 1_000_001


def test_nearest_rank_percentiles() -> None:
    lat = latency_stats([i * 1000 for i in range(1, 1001)])  # 1..1000 µs
    assert lat is not None
    assert (lat.min_us, lat.p50_us, lat.p90_us, lat.p99_us, lat.p999_us, lat.max_us) == (
        1.0, 500.0, 900.0, 990.0, 999.0, 1000.0)
    assert lat.avg_us == pytest.approx(500.5)
    assert latency_stats([]) is None


def test_group_rate_is_wall_clock_not_sum() -> None:
    a = client_stats("P0", 1000, 10, start_ns=0, end_ns=1_000_000_000)
    b = client_stats("P1", 1000, 10, start_ns=500_000_000, end_ns=2_000_000_000)
    g = group_stats("pub", "publisher", [a, b], 10)
    assert g.msgs == 2000 and g.seconds == pytest.approx(2.0)
    assert g.msgs_per_sec == pytest.approx(1000.0)  # not 1000 + 666
    assert g.rate_min == pytest.approx(666.67, rel=1e-3) and g.rate_max == pytest.approx(1000)
    assert g.bytes_per_sec == pytest.approx(10_000.0)


def test_parse_frames_handles_every_kind_and_partial_data() -> None:
    data = (b"INFO {}\r\nMSG a.b 1 r.x 3\r\nabc\r\nHMSG a 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
            b"PING\r\nPONG\r\n-ERR 'Slow Consumer'\r\nMSG a 1 5\r\nab")
    out: list[Frame] = []
    pos = parse_frames(data, 0, out)
    assert [f.kind for f in out] == [7, MSG, HMSG, PING, PONG, ERR]
    assert out[1].args == [b"a.b", b"1", b"r.x", b"3"] and out[1].payload == b"abc"
    assert out[2].header_len == 12 and out[2].payload.endswith(b"hi")
    assert out[5].args == [b"Slow Consumer"]
    assert data[pos:] == b"MSG a 1 5\r\nab"  # incomplete: kept for the next read


def test_ack_counting_fast_path_and_fallback() -> None:
    prefix = b"MSG _INBOX.x 1 "
    ack = b'{"stream":"S","seq":12}'
    one = prefix + str(len(ack)).encode() + b"\r\n" + ack + b"\r\n"
    assert _count_acks(one * 3 + one[:10], prefix) == (3, 0, len(one) * 3)
    err = b'{"error":{"code":503}}'
    bad = prefix + str(len(err)).encode() + b"\r\n" + err + b"\r\n"
    assert _count_acks(one + bad, prefix) == (2, 1, len(one + bad))
    assert _count_acks(one + b"PING\r\n" + one, prefix) is None  # full parser takes over


def test_payload_has_no_line_breaks() -> None:
    p = payload_for(1000)
    assert len(p) == 1000 and b"\r" not in p and b"\n" not in p


def test_plan_listeners_first_and_pacing_slots() -> None:
    specs = plan_workers(BenchOptions("s", pubs=2, subs=3, msgs=11), "r1")
    assert [s.role for s in specs] == ["sub", "sub", "sub", "pub", "pub"]
    assert [s.count for s in specs[3:]] == [6, 5]
    assert specs[3].sub_slots == (0, 1, 2) and specs[3].pub_slots == (3, 4)
    assert specs[3].listeners == 3


@pytest.mark.parametrize(
    "kw",
    [
        {"subject": "a.*"}, {"subject": "a b"}, {"subject": ""}, {"pubs": 0},
        {"msgs": None}, {"msgs": 10, "duration": 1.0}, {"mode": "js", "replicas": 2},
        {"mode": "js", "storage": "disk"}, {"mode": "nope"}, {"msgs": 1, "pubs": 2},
    ],
)
def test_invalid_options(kw: dict[str, object]) -> None:
    opts = {"subject": "ok", **kw}
    with pytest.raises(UsageError):
        BenchOptions(**opts).validate()  # type: ignore[arg-type]


def test_csv_has_natscli_columns() -> None:
    from natsops.bench.stats import BenchResult

    c = client_stats("P0", 10, 8, 0, 1_000_000_000, latency=latency_stats([1000, 2000]))
    g = group_stats("req", "requester", [c], 8)
    r = BenchResult(mode="request", subject="s", size=8, pubs=1, subs=1, msgs=10, duration=None,
                    servers=("nats://x",), server_version="2", groups=(g,), published=10,
                    expected=0, received=0, lost=0)
    rows = csv_rows(r, "run")
    assert rows[0][:7] == ["#RunID", "ClientID", "MsgCount", "MsgBytes", "MsgsPerSec",
                           "BytesPerSec", "DurationSecs"]
    assert rows[1][:4] == ["run", "P0", "10", "80"] and rows[1][7] == "1.00"


def test_redact_hides_credentials_in_urls() -> None:
    assert redact("nats://bob:s3cret@10.0.0.1:4222") == "nats://***@10.0.0.1:4222"
    assert redact("nats://tok@h:1") == "nats://***@h:1"
    assert redact("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_ring_cycles_zero_padded_subjects_with_equal_frame_lengths() -> None:
    spec = WorkerSpec(role="pub", index=0, slot=0, subject="a", size=4, probe="p", subjects=12,
                      payload="random")
    assert subject_names(spec)[:2] == [b"a.00", b"a.01"] and subject_names(spec)[-1] == b"a.11"
    buf, flen = ring(spec, lambda s: b"PUB %s 4\r\n" % s, 30)
    frames = [buf[i : i + flen] for i in range(0, len(buf), flen)]
    assert len(buf) % flen == 0 and len(frames) == 36  # whole cycles, at least 30 frames
    assert [f.split()[1] for f in frames[:13]] == [*subject_names(spec), b"a.00"]
    assert len({f[-6:-2] for f in frames}) > 1  # random payloads differ between frames
    one = WorkerSpec(role="pub", index=0, slot=0, subject="a", size=3, probe="p")
    assert ring(one, lambda s: b"PUB %s 3\r\n" % s, 2) == (b"PUB a 3\r\nabc\r\n" * 2, 14)
