"""`make preview`: run what a branch changed, in a throwaway Dagster instance, in the branch's environment.

A reviewer wants to know that the assets a pull request changes still run, before it is merged,
without a run history to clean up and without touching production's data. So this asks
`nope diff --format select` which assets changed (or takes `SELECT` from the command line),
launches them with `dg launch` on a new Dagster instance in a temporary DAGSTER_HOME, removed
afterwards, and says how it went, also in the GitHub job summary when `GITHUB_STEP_SUMMARY` is
set. The scripts run in the branch's environment (`nope/environments.py`), so they write the
branch's data location; in production it refuses to run.

    python -m nope.preview          # what `make preview` runs; NOPE_PREVIEW_SELECT is `SELECT`
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nope import environments

SELECT_VARIABLE = "NOPE_PREVIEW_SELECT"
"""The selection to run instead of `nope diff`'s: `make preview SELECT=...` sets it."""
DIFF_SECONDS = 600
"""How long `nope diff` may take to say what changed (it reads the base from git, itself bounded)."""

SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"
"""The file GitHub Actions shows as the job's summary; the outcome is appended to it when set."""


class PreviewError(Exception):
    """The preview could not start; the message says why and what to do."""


def main(repo_root: Path | None = None) -> int:
    repo_root = repo_root or Path.cwd()
    try:
        where = environments.run_environment(repo_root)
        if where.is_production:
            raise PreviewError("NOPE_ENVIRONMENT is `production`: a preview runs a branch's changes, never in production")
        selection = os.environ.get(SELECT_VARIABLE, "").strip() or changed_assets(repo_root)
    except (PreviewError, environments.UnsafeEnvironment) as error:
        print(f"make preview: {error}", file=sys.stderr)
        return 2
    if not selection:
        report(f"Nothing to preview: this branch changes no asset (environment `{where.safe_name}`).")
        return 0
    print(f"Previewing `{selection}` in environment `{where.safe_name}` on a throwaway Dagster instance.", flush=True)
    succeeded = launch(selection, repo_root)
    outcome = "succeeded" if succeeded else "failed"
    report(f"Preview of `{selection}` in environment `{where.safe_name}`: {outcome}.")
    return 0 if succeeded else 1


def changed_assets(repo_root: Path) -> str:
    """The selection `nope diff --format select` prints: one line, or nothing when nothing changed."""
    try:
        result = subprocess.run(
            [sys.executable, "-m", "nope", "diff", "--format", "select"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=DIFF_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise PreviewError(
            f"`nope diff --format select` did not finish within {DIFF_SECONDS} seconds; "
            "name the assets yourself: make preview SELECT='key:\"group/asset\"'"
        ) from None
    if result.returncode != 0:
        raise PreviewError(
            f"`nope diff --format select` failed ({result.stderr.strip() or f'exit code {result.returncode}'}); "
            "name the assets yourself: make preview SELECT='key:\"group/asset\"'"
        )
    return result.stdout.strip()


def launch(selection: str, repo_root: Path) -> bool:
    """`dg launch --assets <selection>` on a new instance in a temporary DAGSTER_HOME, removed after."""
    home = tempfile.mkdtemp(prefix="nope-preview-")
    try:
        dg = Path(sys.executable).parent / "dg"
        result = subprocess.run(
            [str(dg), "launch", "--assets", selection], cwd=repo_root, env={**os.environ, "DAGSTER_HOME": home}
        )
        return result.returncode == 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


def report(line: str) -> None:
    """Print the outcome, and append it to the GitHub job summary when there is one."""
    print(line, flush=True)
    summary = os.environ.get(SUMMARY_VARIABLE)
    if summary:
        with open(summary, "a", encoding="utf-8") as summary_file:
            summary_file.write(f"{line}\n")


if __name__ == "__main__":
    sys.exit(main())
