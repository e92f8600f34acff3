"""Validators used before anything is written or sent, and the readers of user-named files."""

from __future__ import annotations

from pathlib import Path

import pytest

from natsops import validate
from natsops.errors import UsageError
from natsops.files import check_output_dir, check_output_file, read_text
from natsops.units import parse_duration, parse_size


@pytest.mark.parametrize("text", ["inf", "nan", "1e99", "300y", "300000d"])
def test_durations_past_the_servers_limit_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="invalid --max-age"):
        parse_duration(text, what="--max-age")


def test_longest_duration_is_accepted() -> None:
    assert parse_duration("292y", what="x") == 292 * 365 * 86400


def test_size_past_int64_is_refused() -> None:
    with pytest.raises(UsageError, match="int64"):
        parse_size("99999999999TB", what="--max-bytes")


@pytest.mark.parametrize("text", ["50XB", "-5", "0", "1.5GB", "1 GB", "", "99999999999999TB"])
def test_server_size_refuses(text: str) -> None:
    with pytest.raises(UsageError, match="--max-mem"):
        validate.server_size(text, "--max-mem")


@pytest.mark.parametrize("text", ["1GB", "512mb", "4096", "1G", "2KiB", "10T"])
def test_server_size_accepts_the_servers_suffixes(text: str) -> None:
    assert validate.server_size(text, "--max-mem") == text


@pytest.mark.parametrize("subject", ["bad subject", "", "a..b", ".a", "a.", "a.>.b", "a.b*",
                                     "a\tb", ">x"])
def test_invalid_subjects(subject: str) -> None:
    with pytest.raises(UsageError, match="--allow-pub"):
        validate.subject(subject, "--allow-pub")


@pytest.mark.parametrize("subject", ["a", "a.b.c", "a.*.c", "a.>", ">", "*", "$JS.API.>"])
def test_valid_subjects(subject: str) -> None:
    assert validate.subject(subject, "--allow-pub") == subject


def test_permissions_check_subjects_and_queues() -> None:
    from natsops.auth.claims import Permissions

    Permissions(allow_sub=("orders.* workers",))
    with pytest.raises(UsageError, match="--allow-pub"):
        Permissions(allow_pub=("bad subject",))
    with pytest.raises(UsageError, match="--deny-sub"):
        Permissions(deny_sub=("a.b q1 q2",))


def test_numbers_and_counts() -> None:
    with pytest.raises(UsageError, match="finite"):
        validate.number(float("nan"), "--msgs-per-sec", above=0)
    with pytest.raises(UsageError, match="above 0"):
        validate.number(0.0, "--msgs-per-sec", above=0)
    with pytest.raises(UsageError, match="at least 1"):
        validate.count(-5, "--streams", minimum=1)
    with pytest.raises(UsageError, match="1 to 5"):
        validate.count(7, "--replicas", minimum=1, maximum=5)


def test_go_json_names_the_field() -> None:
    validate.check_go_json({"max_msgs": 2**63 - 1, "x": [1, {"y": 2.5}], "b": True}, "s")
    with pytest.raises(UsageError, match=r"config\.max_age"):
        validate.check_go_json({"config": {"max_age": 10**30}}, "stream X")
    with pytest.raises(UsageError, match=r"l\[1\]"):
        validate.check_go_json({"l": [1, float("inf")]}, "x")


def test_name_length_and_payload() -> None:
    validate.name_length("a" * 252, "bucket", prefix="KV_")
    with pytest.raises(UsageError, match="at most 252"):
        validate.name_length("a" * 253, "bucket", prefix="KV_")
    with pytest.raises(UsageError, match="max_payload"):
        validate.payload_size(2_000_000, 1_048_576, "the value")


def test_read_text_turns_os_and_decode_errors_into_usage_errors(tmp_path: Path) -> None:
    binary = tmp_path / "b"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_text(binary, what="--config")
    with pytest.raises(UsageError, match="it is a directory"):
        read_text(tmp_path, what="--config")
    with pytest.raises(UsageError, match="no such file"):
        read_text(tmp_path / "missing", what="--config")
    bom = tmp_path / "bom"
    bom.write_bytes(b"\xef\xbb\xbfhello")
    assert read_text(bom) == "hello"


def test_output_checks_create_nothing(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        check_output_file(plain / "out")
    with pytest.raises(UsageError, match="it is a directory"):
        check_output_file(tmp_path)
    with pytest.raises(UsageError, match="255 bytes"):
        check_output_file(tmp_path / ("n" * 300))
    with pytest.raises(UsageError, match="not a directory"):
        check_output_dir(plain / "a" / "b")
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()
