"""Claim diffs, account recipe overlay, recipe validation of Account/User (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from natsops.auth.edit import AccountExtras, claim_diff, tier_name
from natsops.errors import UsageError
from natsops.estate.kinds.account import desired_nats
from natsops.estate.loader import load_resources


def test_claim_diff_ignores_signature_fields_and_empty_objects() -> None:
    before = {"iat": 1, "jti": "a", "iss": "A1", "nats": {"pub": {}, "subs": -1, "tags": ["x"]}}
    after = {"iat": 2, "jti": "b", "iss": "A2", "nats": {"subs": 5, "tags": ["x", "y"]}}
    assert [(d.path, d.before, d.after) for d in claim_diff(before, after)] == [
        ("nats.subs", -1, 5), ("nats.tags", ["x"], ["x", "y"])]


def test_tier_names_and_extras_exclude_flat_jetstream() -> None:
    assert [tier_name(t) for t in ("1", "r3", "R5")] == ["R1", "R3", "R5"]
    with pytest.raises(UsageError):
        tier_name("R0")
    nats = {"limits": {"conn": -1}}
    AccountExtras(tier="R3", tier_limits={"disk_storage": 10, "streams": 2})(nats)
    assert nats["limits"]["tiered_limits"]["R3"] == {"mem_storage": 0, "disk_storage": 10,
                                                     "streams": 2, "consumer": -1}
    with pytest.raises(UsageError, match="flat JetStream"):
        AccountExtras(tier="R1")({"limits": {"disk_storage": -1}})
    AccountExtras(rm_tiers=("3",))(nats)
    assert "tiered_limits" not in nats["limits"]


def test_account_recipe_overlay() -> None:
    current = {"limits": {"conn": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1},
               "exports": [{"subject": "x"}]}
    tiered = desired_nats({"limits": {"tiered_limits": {"R3": {"disk_storage": 5}}}}, current)
    assert "disk_storage" not in tiered["limits"] and tiered["exports"] == [{"subject": "x"}]
    off = desired_nats({"jetstream": False, "exports": []}, current)
    assert off["limits"] == {"conn": -1} and off["exports"] == []
    on = desired_nats({"jetstream": True}, {"limits": {"conn": 3}})
    assert on["limits"]["disk_storage"] == -1 and on["limits"]["conn"] == 3


@pytest.mark.parametrize(("text", "message"), [
    ("kind: Account\nmetadata: {name: A}\nspec:\n  limts: {conn: 1}\n", "did you mean 'limits'"),
    ("kind: Account\nmetadata: {name: A}\nspec:\n  limits: {payload: lots}\n", "spec.limits"),
    ("kind: User\nmetadata: {name: u}\nspec: {}\n", "metadata.account"),
    ("kind: User\nmetadata: {name: u, account: A}\nspec: {role: r, pub: {allow: [x]}}\n",
     "template"),
])
def test_recipe_errors_name_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(text)
    with pytest.raises(UsageError) as err:
        load_resources([f])
    assert message in str(err.value) and f"{f}:" in str(err.value)


def test_recipe_sizes_are_parsed(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text("kind: Account\nmetadata: {name: A}\nspec:\n  limits: {payload: 1KB, "
                 "tiered_limits: {R3: {disk_storage: 1MB}}}\n---\nkind: User\n"
                 "metadata: {name: u, account: A}\nspec: {data: 2KB}\n")
    acc, user = load_resources([f])
    assert acc.spec["limits"]["payload"] == 1024
    assert acc.spec["limits"]["tiered_limits"]["R3"]["disk_storage"] == 1 << 20
    assert (user.name, user.spec["data"]) == ("A/u", 2048)
