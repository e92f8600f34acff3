"""Replica counts: R1 streams in a cluster, even replica counts, more replicas than servers."""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import as_int
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "replication-factor"
GROUP_ABOVE = 20  # more R1 streams than this become one finding listing them


@check(ID, title="Replica counts fit the cluster", severity=Severity.WARN, suite="jetstream")
def replication_factor(snap: Snapshot) -> Iterator[Finding]:
    size = as_int(snap.meta_view.get("cluster_size")) or len(snap.meta_peers)
    if snap.clustered and size % 2 == 0:
        yield Finding.warn(ID, "meta", f"the JetStream meta group has {size} peers (even): it "
                           f"tolerates no more failures than {size - 1}",
                           evidence={"cluster_size": size, "peers": list(snap.meta_peers)},
                           fix="Run an odd number of JetStream servers (3 or 5).")
    r1 = [st for st in snap.streams if st.replicas == 1] if snap.clustered else []
    if len(r1) > GROUP_ABOVE:
        yield Finding.warn(ID, "R1 streams", f"{len(r1)} streams are R1 in a {size}-server "
                           "cluster: one server or disk failure loses each of them",
                           evidence={"count": len(r1), "servers": size,
                                     "streams": [st.subject for st in r1[:100]]},
                           fix="`natsops stream edit <stream> --replicas 3` for each stream that "
                               "must survive a server loss (or keep R1 for disposable data)")
    for st in snap.streams:
        r = st.replicas
        ev = {"account": st.account, "stream": st.name, "replicas": r, "servers": size,
              "hosts": list(st.hosts)}
        fix = f"`natsops stream edit {st.name} --replicas 3`"
        if snap.clustered and r == 1 and len(r1) <= GROUP_ABOVE:
            yield Finding.warn(ID, st.subject, f"stream {st.subject} is R1 in a {size}-server "
                               f"cluster: one server or disk failure loses it", evidence=ev,
                               fix=fix + " (or keep R1 on purpose for disposable data)")
        elif r % 2 == 0:
            yield Finding.warn(ID, st.subject, f"stream {st.subject} is R{r}: it survives no "
                               f"more failures than R{r - 1}", evidence=ev, fix=fix)
        if snap.clustered and r > size:
            yield Finding.warn(ID, st.subject, f"stream {st.subject} wants R{r} but the meta "
                               f"group has {size} servers", evidence=ev, fix=fix)
