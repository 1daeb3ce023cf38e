"""Cold starts, and a build against Node's MJML + juice on the same edition. Asserts nothing.

Run: python benchmarks/startup.py [--repeat 5] [--rounds 5]
(The Node comparison needs `npm ci --prefix tests/node`; it is skipped without node.)

- cold processes: the CPU time (user + system, from the kernel's accounting of the child)
  of ``python -c "import digest"``, ``digest --help`` and ``digest build`` of the seed
  edition, the median of ``--repeat`` runs, with a bare ``python -c pass`` as the floor;
- the 30-teaser edition built in this process (``build_digest`` with a reused renderer:
  select, Jinja2, MJML, premailer, checks) against Node building the same MJML with npm
  ``mjml`` and ``juice`` (warm, in its own process), in interleaved rounds with the ratio
  per round.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import SEED, SEED_DATE, thirty_teasers

from digest import Renderer, build_digest, load_config, select_edition
from digest.feeds.data import load_data

ROOT = Path(__file__).resolve().parent.parent
DIGEST = str(Path(sys.executable).parent / "digest")


def child_cpu(command: list[str], cwd: str) -> float:
    """The CPU seconds a command took, as the kernel counted them for the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, cwd=cwd, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cold(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        commands = {
            "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
            'python -c "import digest"': [sys.executable, "-c", "import digest"],
            "digest --help": [DIGEST, "--help"],
            "digest build (the seed edition, checks and files)": [
                DIGEST, "build", "--config", str(SEED), "--date", SEED_DATE.isoformat(),
                "--number", "12", "--out", folder, "-q",
            ],
        }  # fmt: skip
        for label, command in commands.items():
            times = [child_cpu(command, folder) for _ in range(repeat)]
            print(f"{f'cold: {label}':<60} {statistics.median(times) * 1000:>7.0f} ms CPU")


def against_node(rounds: int) -> None:
    node = shutil.which("node")
    modules = ROOT / "tests" / "node" / "node_modules"
    if node is None or not (modules / "juice").is_dir():
        print("(Node comparison skipped: needs node and `npm ci --prefix tests/node`)")
        return
    config = load_config(SEED)
    data = load_data(config.data, config.newsletter)
    layout = config.newsletter.layout.model_copy(update={"teasers_per_section": 10})
    newsletter = config.newsletter.model_copy(update={"layout": layout})
    articles = thirty_teasers(data.articles)
    renderer = Renderer()
    edition = select_edition(articles, newsletter, SEED_DATE, quotes=data.quotes)
    with tempfile.NamedTemporaryFile("w", suffix=".mjml", delete=False) as file:
        file.write(renderer.mjml(edition, newsletter))
    process = subprocess.Popen(
        [node, str(Path(__file__).with_name("node_build.js")), file.name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None

    def node_median(count: int) -> float:
        process.stdin.write(f"{count}\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        return float(process.stdout.readline())  # type: ignore[union-attr]

    def ours_median(count: int) -> float:
        times = []
        for _ in range(count):
            start = time.perf_counter()
            build_digest(articles, newsletter, SEED_DATE, quotes=data.quotes, renderer=renderer)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    node_median(10), ours_median(3)  # warm both
    pairs = [(ours_median(15), node_median(15)) for _ in range(rounds)]
    process.stdin.close()
    process.wait()
    os.unlink(file.name)
    ratios = [theirs / ours for ours, theirs in pairs]
    print(
        f"{'30 teasers: digest build_digest (premailer, checks)':<60} "
        f"{statistics.median(p[0] for p in pairs):>7.1f} ms"
    )
    print(
        f"{'30 teasers: Node mjml + juice, same MJML':<60} "
        f"{statistics.median(p[1] for p in pairs):>7.1f} ms  digest is "
        f"{statistics.median(ratios):.2f}x as fast (rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cold(args.repeat)
    against_node(args.rounds)


if __name__ == "__main__":
    main()
