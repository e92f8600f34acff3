"""An operator-mode doctor archive holds no JWT, seed or creds: the servers' documents name
accounts by public key, and every string is masked before it is written."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import nats

from natsops.auth.push import push
from natsops.context import Settings
from natsops.doctor import DoctorOptions, run
from natsops.doctor.archive import read_archive

JWT = re.compile(rb"eyJ[\w-]{8,}\.[\w-]{8,}\.")
SEED = re.compile(rb"S[UAONCXP][A-Z2-7]{56}")


async def test_operator_mode_archive_has_no_jwt_or_seed(operator_cluster, auth_store,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    oc = operator_cluster(nodes=1)
    store, op = auth_store, "DEMO"
    await push(store, op, oc.settings)
    sys_settings = Settings(servers=tuple(oc.urls), timeout=5.0,
                            creds=str(store.creds_path(op, "SYS", "sys")))
    creds = store.creds_path(op, "APP", "service")
    nc = await nats.connect(oc.urls[0], user_credentials=str(creds))
    out = tmp_path / "op.tgz"
    try:
        live = await run(sys_settings, DoctorOptions(archive=out))
    finally:
        await nc.close()
    with tarfile.open(out, "r:gz") as tar:
        data = b"".join(tar.extractfile(m).read() for m in tar.getmembers())  # type: ignore[union-attr]
    assert not JWT.search(data) and not SEED.search(data)
    for line in creds.read_text().splitlines():
        if len(line) > 40:
            assert line.encode() not in data
    replay = await run(None, DoctorOptions(source=out))
    assert [(f.id, f.subject, f.message) for f in replay.findings] == \
        [(f.id, f.subject, f.message) for f in live.findings]
    assert read_archive(out).snapshot.servers[0].account_claims  # the claims' ids are kept
