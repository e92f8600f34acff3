"""natsops.secrets: what is masked, what stays, and the places that use it."""

from __future__ import annotations

import logging

import pytest

from natsops.secrets import MASK, MaskingFilter, mask_data, mask_line, mask_text

SEED = "SUAAVVJ2BIBXG5FBLR5NBZXLNCQCQLHFWCKGQUWDLTBQRDA4T2TE2HOXOQ"
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5In0.eyJqdGkiOiJBQkMifQ.c2lnbmF0dXJlX2hlcmU"


@pytest.mark.parametrize(("line", "masked"), [
    ('  password: "s3cret"', f'  password: "{MASK}"'),
    ("users: [{user: u, password: hunter2, pass: x}]",
     f'users: [{{user: u, password: "{MASK}", pass: "{MASK}"}}]'),
    ("  password s3cret", f'  password "{MASK}"'),
    ('"token": "abc",', f'"token": "{MASK}",'),
    ('password: "$2a$11$W2zko751KUvVy59mUTWmpOdWXnC6ghTDM7bVWJxL7kZp8JTy0ZpB6"',
     f'password: "{MASK}"'),
    ("routes: [nats://ruser:rpw@n2:6222]", f"routes: [nats://ruser:{MASK}@n2:6222]"),
    ("url: nats://tok@h:4222", f"url: nats://{MASK}@h:4222"),
    ('url: "leaf:pw@hub:7422"', f'url: "leaf:{MASK}@hub:7422"'),
    (f"seed: {SEED}", f'seed: "{MASK}"'),
    (f"operator: {JWT}", f"operator: {MASK}"),
])
def test_masked(line: str, masked: str) -> None:
    assert mask_line(line) == masked


@pytest.mark.parametrize("line", [
    "password: $APP_PASS", 'password: "env://APP_PASS"', "plaintext password (the server warns)",
    "subject tokens that look like personal data", "nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZ",
    "listen: 0.0.0.0:4222", 'password: ""', "user@example.com wrote it",
    "cannot write output folder /etc/passwd: /etc/passwd is not a directory",
    r"C:\keys\seed: not found",
])
def test_kept(line: str) -> None:
    assert mask_line(line) == line


def test_mask_text_and_data() -> None:
    assert SEED not in mask_text(f"the seed {SEED} leaked")
    data = {"password": "pw", "nested": [{"token": "t", "url": "nats://u:p@h"}], "n": 1,
            "user_seed": "env://SEED"}
    assert mask_data(data) == {"password": MASK, "nested": [
        {"token": MASK, "url": f"nats://u:{MASK}@h"}], "n": 1, "user_seed": "env://SEED"}


def test_filter_masks_log_records() -> None:
    record = logging.LogRecord("natsops.x", logging.DEBUG, __file__, 1,
                               "connect to %s failed", ("nats://app:Pw-123@h:4222",), None)
    assert MaskingFilter().filter(record)
    assert record.getMessage() == f"connect to nats://app:{MASK}@h:4222 failed"


def test_cli_log_handler_masks() -> None:
    from natsops.cli.main import _setup_logging

    _setup_logging(2)
    try:
        handlers = [h for h in logging.getLogger("natsops").handlers
                    if getattr(h, "_natsops_cli", False)]
        assert handlers and any(isinstance(f, MaskingFilter) for f in handlers[0].filters)
    finally:
        _setup_logging(0)
