"""Start-up time of the natsops CLI, side by side with a bare Typer app and bare Python.

Run: python benchmarks/startup.py [--runs 20]

Each case runs once to warm caches, then ``--runs`` times; the median wall time (ms) of the
process (fork/exec + interpreter + imports + the command) is printed, with min-max, plus the
ratio to the bare Typer app of the same Typer version. It also checks that `--version` and
`--help` do not import nats, httpx, jinja2 or yaml. Numbers on a shared machine are noisy: read
the ratios, and rerun.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_APP = '''
import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)


def _version(value: bool) -> None:
    if value:
        typer.echo("bare 0.0")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """A bare Typer app with one command."""


@app.command()
def hello(name: str = "x") -> None:
    typer.echo(name)


app()
'''

HEAVY_CHECK = (
    "import sys, runpy; sys.argv=['natsops', {arg!r}]\n"
    "try:\n    runpy.run_module('natsops.cli.main', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "print('HEAVY=' + ','.join(m for m in ('nats','httpx','jinja2','yaml','pydantic') "
    "if m in sys.modules), file=sys.stderr)\n"
)


def measure(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()

    import typer

    py = sys.executable
    natsops = str(Path(py).parent / "natsops")
    with tempfile.TemporaryDirectory() as d:
        bare = Path(d) / "bare.py"
        bare.write_text(BARE_APP)
        cases = {
            "python -c pass": [py, "-c", "pass"],
            f"bare typer {typer.__version__} --version": [py, str(bare), "--version"],
            f"bare typer {typer.__version__} --help": [py, str(bare), "--help"],
            "natsops --version": [natsops, "--version"],
            "natsops --help": [natsops, "--help"],
            "natsops bootstrap --help": [natsops, "bootstrap", "--help"],
        }
        results = {name: measure(argv, args.runs) for name, argv in cases.items()}

    heavy = {}
    for arg in ("--version", "--help"):
        p = subprocess.run([py, "-c", HEAVY_CHECK.format(arg=arg)], capture_output=True, text=True,
                           check=False)
        line = [x for x in p.stderr.splitlines() if x.startswith("HEAVY=")]
        heavy[arg] = line[-1][6:] if line else "?"

    bare_version = statistics.median(results[f"bare typer {typer.__version__} --version"])
    bare_help = statistics.median(results[f"bare typer {typer.__version__} --help"])
    rows = []
    for name, times in results.items():
        med = statistics.median(times)
        ref = bare_help if "help" in name else bare_version
        rows.append({"case": name, "median_ms": round(med, 1), "min_ms": round(min(times), 1),
                     "max_ms": round(max(times), 1), "ratio_to_bare_typer": round(med / ref, 2)})
    if args.json:
        print(json.dumps({"runs": args.runs, "results": rows, "heavy_imports": heavy}, indent=2))
        return
    print(f"start-up, median of {args.runs} runs (ms); ratio vs the bare Typer app")
    for r in rows:
        print(f"  {r['case']:<34} {r['median_ms']:7.1f}  ({r['min_ms']:.1f}-{r['max_ms']:.1f})"
              f"  x{r['ratio_to_bare_typer']:.2f}")
    for arg, mods in heavy.items():
        print(f"  heavy modules imported by natsops {arg}: {mods or 'none'}")
    nv = statistics.median(results["natsops --version"])
    print(f"target: natsops --version <= 1.2x bare typer and < 150 ms: "
          f"{'MET' if nv <= 1.2 * bare_version and nv < 150 else 'NOT MET'} "
          f"({nv:.1f} ms, x{nv / bare_version:.2f})")


if __name__ == "__main__":
    main()
