"""Entry point of `make bench`: runs every tests/bench/bench_*.py module and sums up.

Each bench module defines `main() -> bool`, prints its own table and returns True
when every target it measures is met. A missed target is a finding to read, not a
broken build, so it is printed as MISSED and the exit status stays 0; only a module
that crashes (or lacks main) makes the exit status 1, after the others have run.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def discover(bench_dir: Path = BENCH_DIR) -> list[str]:
    """Names of the bench modules in bench_dir (bench_*.py), in a stable order."""
    return sorted(path.stem for path in bench_dir.glob("bench_*.py"))


def run_module(name: str) -> str:
    """Import one bench module, call its main() and classify the outcome.

    Returns 'met', 'MISSED' or 'CRASHED'; a crash prints its traceback here so the
    remaining modules still run.
    """
    started = time.perf_counter()
    try:
        module = importlib.import_module(name)
        entry = getattr(module, "main", None)
        if not callable(entry):
            raise TypeError(f"{name} defines no main() -> bool")
        met = entry()
    except (Exception, SystemExit):  # a main() that calls sys.exit must not end the whole run
        # On stdout, so that the traceback stays in place in the log between the headers.
        traceback.print_exc(file=sys.stdout)
        outcome = "CRASHED"
    else:
        # Anything but a literal True counts as missed: a main() that forgets to
        # return must not look like a success.
        outcome = "met" if met is True else "MISSED"
    print(f"[{name}: {outcome} in {time.perf_counter() - started:.1f} s]", flush=True)
    return outcome


def main() -> int:
    """Run every bench module, print a summary, return the process exit status."""
    # The bench modules are plain scripts, not a package: make them importable by name.
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    names = discover()
    if not names:
        print(f"no bench_*.py modules in {BENCH_DIR}")
        return 1
    outcomes: dict[str, str] = {}
    for name in names:
        print(f"\n{'=' * 100}\n{name}\n{'=' * 100}", flush=True)
        outcomes[name] = run_module(name)

    print(f"\n{'=' * 100}\nsummary\n{'=' * 100}")
    for name, outcome in outcomes.items():
        label = {"met": "all targets met", "MISSED": "MISSED (a target was not met)", "CRASHED": "CRASHED"}[outcome]
        print(f"  {name:<24} {label}")
    missed = [name for name, outcome in outcomes.items() if outcome == "MISSED"]
    crashed = [name for name, outcome in outcomes.items() if outcome == "CRASHED"]
    if missed:
        print(f"MISSED targets in: {', '.join(missed)}")
    if crashed:
        print(f"CRASHED: {', '.join(crashed)}")
        return 1
    if not missed:
        print("every target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
