"""What the README shows works as shown (issue 12, item 10): bench examples, -t claims."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from natsops.subjects import covers
from tests.cli._helpers import natsops, one_line_error

README = Path(__file__).resolve().parents[2] / "README.md"
runner = CliRunner()


def _readme_commands(prefix: str) -> list[list[str]]:
    out = []
    for line in README.read_text().splitlines():
        text = line.strip().split("  #")[0].rstrip("\\ ")
        if text.startswith(prefix):
            out.append(shlex.split(text))
    return out


def test_readme_bench_subjects_do_not_collide_with_its_streams() -> None:
    taken = [c[c.index("--subjects") + 1] for c in _readme_commands("natsops stream add")
             if "--subjects" in c]
    assert "orders.>" in taken
    benches = [c for c in _readme_commands("natsops bench") if "--js" in c]
    assert benches
    for c in benches:
        subject = c[2]
        assert not any(covers(t, subject) for t in taken), (subject, taken)


def test_bench_subject_taken_by_a_stream_is_a_conflict_with_a_hint(nats_server, unique) -> None:  # type: ignore[no-untyped-def]
    name = unique("TAKEN")
    prefix = name.lower()
    r = natsops(nats_server.url, "stream", "add", name, "--subjects", f"{prefix}.>", "--defaults")
    assert r.exit_code == 0, r.output
    try:
        r = natsops(nats_server.url, "bench", f"{prefix}.bench", "--js", "--msgs", "10",
                    "--stream", unique("BENCH"))
        line = one_line_error(r, 9)
        assert f"taken by stream {name}" in line, line
        assert "hint:" in r.stderr and f"--stream {name}" in r.stderr
    finally:
        natsops(nats_server.url, "stream", "rm", name, "-f")


def test_readme_does_not_claim_t_passes_what_it_rejects(server_bin: Path, tmp_path: Path) -> None:
    conf = tmp_path / "ping.conf"
    conf.write_text("port: -1\nping_interval: 2m\n")
    p = subprocess.run([str(server_bin), "-t", "-c", str(conf)], capture_output=True, text=True)
    assert p.returncode != 0, p.stdout + p.stderr  # 2.15 rejects a number as a duration
    text = " ".join(README.read_text().split())
    claims = re.findall(r"`nats-server -t` passes[^.]*\.", text)
    assert claims and not any("ping_interval" in c for c in claims), claims
