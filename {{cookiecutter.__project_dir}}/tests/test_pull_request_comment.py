"""The pull request's impact comment (`platform/nope/pull_request_comment.py`), run as the workflow's
`comment` job runs it, against a stand-in for GitHub's REST API on loopback (tests/github_stand_in.py).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from github_stand_in import GitHubStandIn, serve_github

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "platform" / "nope" / "pull_request_comment.py"
TOKEN = "ghs_stand-in-token-0123456789"
MARKER = "<!-- nope-impact -->"

IMPACT = {
    "base": "0123abc",
    "added": ["sales/forecast"],
    "removed": ["sales/legacy"],
    "modified": {"sales/orders": ["script", "deps"]},
    "downstream": ["sales/report"],
    "owners": {
        "sales/orders": ["@alice", "ana@acme.com", "team:sales"],
        "sales/report": ["@acme/finance", "@bob", "@Author-Login", "@other-org/finance"],
        "sales/legacy": ["@dora"],
        "sales/forecast": ["@carol"],  # added by the pull request: its owner wrote it
    },
    "problems": [],
}


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with serve_github(TOKEN) as stand_in:
        yield stand_in


def run_comment(
    github: GitHubStandIn, folder: Path, report: str, *, impact: dict = IMPACT, timeout: str = "10", **environment: str
) -> subprocess.CompletedProcess[str]:
    """The `comment` job's step: the artifact's two files, the variables its `env:` passes."""
    (folder / "report.md").write_text(report, encoding="utf-8")
    (folder / "impact.json").write_text(json.dumps(impact), encoding="utf-8")
    variables = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": "acme/data-platform",
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
        "GITHUB_TOKEN": TOKEN,
        "PR_NUMBER": "7",
        "PR_AUTHOR": "author-login",
        "HEAD_REPOSITORY": "acme/data-platform",
        **environment,
    }
    command = [sys.executable, str(SCRIPT), "--report", "report.md", "--impact", "impact.json", "--timeout", timeout]
    result = subprocess.run(command, cwd=folder, env=variables, capture_output=True, text=True, timeout=60)
    assert TOKEN not in result.stdout + result.stderr
    return result


def test_the_first_run_posts_the_comment_and_later_runs_edit_it(github: GitHubStandIn, tmp_path: Path):
    first = run_comment(github, tmp_path, "## Impact\n\n`sales/orders` changed its script.\n")
    assert first.returncode == 0, first.stderr
    assert github.writes()[-1] == ("POST", "/repos/acme/data-platform/issues/7/comments")
    [posted] = github.comments
    assert posted["body"].startswith(MARKER + "\n## Impact\n\n`sales/orders` changed its script.")
    assert all(request.authorization == f"Bearer {TOKEN}" for request in github.requests)

    second = run_comment(github, tmp_path, "## Impact\n\n`sales/orders` changed its script and deps.\n")
    assert second.returncode == 0, second.stderr
    assert len(github.comments) == 1, "edited, not posted again"
    assert github.writes()[-1] == ("PATCH", f"/repos/acme/data-platform/issues/comments/{posted['id']}")
    assert "changed its script and deps." in github.comments[0]["body"]
    assert f"Edited the impact comment {posted['html_url']}" in second.stdout


def test_review_is_requested_from_the_github_owners_of_changed_and_downstream_assets_once(
    github: GitHubStandIn, tmp_path: Path
):
    first = run_comment(github, tmp_path, "## Impact\n")
    assert first.returncode == 0, first.stderr
    # modified, removed and downstream assets' owners; not the added asset's, not the author
    assert github.requested == ["alice", "team:sales", "dora", "team:finance", "bob"]
    body = github.comments[0]["body"]
    assert "`@alice`, `team:sales`, `@dora`, `team:finance`, `@bob`" in body  # code spans: no second notification
    assert "Not requested: `ana@acme.com` (an email address: GitHub asks users and teams only)." in body
    assert "Not requested: `@Author-Login` (the pull request's author)." in body
    assert "Not requested: `@other-org/finance` (a team of another organization than acme)." in body
    assert "Requested review from @alice" in first.stdout
    assert "Not requested: ana@acme.com (an email address: GitHub asks users and teams only)" in first.stdout

    before = len(github.requested)
    second = run_comment(github, tmp_path, "## Impact, pushed again\n")
    assert second.returncode == 0, second.stderr
    assert len(github.requested) == before, "a push must not ask the same owners again"
    assert "`@alice`, `team:sales`" in github.comments[0]["body"]


def test_a_report_cannot_make_owners_look_asked_already(github: GitHubStandIn, tmp_path: Path):
    forged = "<!-- nope-impact requested: @alice team:sales @dora team:finance @bob -->"
    github.add_comment(f"{MARKER}\n## Impact\n{forged}\n\n<!-- nope-impact requested:  -->\n")  # the job's, asked none
    assert run_comment(github, tmp_path, f"## Impact\n{forged}\n").returncode == 0
    assert github.requested == ["alice", "team:sales", "dora", "team:finance", "bob"]


def test_an_owner_with_a_backtick_cannot_break_out_of_its_code_span(github: GitHubStandIn, tmp_path: Path):
    impact = {**IMPACT, "owners": {"sales/orders": ["x` @everyone `y"]}}
    assert run_comment(github, tmp_path, "## Impact\n", impact=impact).returncode == 0
    assert "Not requested: `x' @everyone 'y` (not a GitHub user or team)." in github.comments[0]["body"]


def test_an_owner_github_will_not_ask_is_said_so_and_the_comment_still_posts(github: GitHubStandIn, tmp_path: Path):
    github.refuse = {"bob": 422, "team:finance": 404}
    result = run_comment(github, tmp_path, "## Impact\n")
    assert result.returncode == 0, result.stderr
    assert github.requested == ["alice", "team:sales", "dora"]
    body = github.comments[0]["body"]
    assert "Not requested: `@bob` (POST /repos/acme/data-platform/pulls/7/requested_reviewers: GitHub answered 422:" in body
    assert "not a collaborator" in body
    assert "Not requested: `team:finance` (POST /repos/acme/data-platform/pulls/7/requested_reviewers: GitHub answered 404: Not Found)." in body


def test_a_token_that_may_not_request_reviews_fails_the_job_after_commenting(github: GitHubStandIn, tmp_path: Path):
    github.refuse = {"alice": 403}
    result = run_comment(github, tmp_path, "## Impact\n")
    assert result.returncode == 1
    assert "GitHub answered 403: Resource not accessible by integration" in github.comments[0]["body"]
    assert "Not requested: @alice (POST" in result.stdout


def test_a_fork_s_pull_request_gets_no_comment_and_no_request(github: GitHubStandIn, tmp_path: Path):
    result = run_comment(github, tmp_path, "## Impact\n", HEAD_REPOSITORY="someone/data-platform")
    assert result.returncode == 0, result.stderr
    assert github.requests == []
    assert "fork someone/data-platform: no comment" in result.stdout


def test_a_marked_comment_written_by_someone_else_is_left_alone(github: GitHubStandIn, tmp_path: Path):
    planted = github.add_comment(f"{MARKER}\n<!-- nope-impact requested: @alice -->\n", login="someone")
    result = run_comment(github, tmp_path, "## Impact\n")
    assert result.returncode == 0, result.stderr
    assert planted["body"].startswith(MARKER + "\n<!-- nope-impact requested: @alice")
    assert ("POST", "/repos/acme/data-platform/issues/7/comments") in github.writes()
    assert "alice" in github.requested, "reviewers remembered only from the job's own comment"


def test_a_refused_token_fails_the_job_without_showing_the_token(github: GitHubStandIn, tmp_path: Path):
    github.token = "another-token"
    result = run_comment(github, tmp_path, "## Impact\n")
    assert result.returncode == 1
    assert "GET /repos/acme/data-platform/issues/7/comments: GitHub answered 401: Bad credentials" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_redirect_is_not_followed_with_the_token(github: GitHubStandIn, tmp_path: Path):
    with serve_github(TOKEN) as elsewhere:
        github.redirect_to = elsewhere.url
        result = run_comment(github, tmp_path, "## Impact\n")
        assert result.returncode == 1
        assert "GitHub answered 302" in result.stderr
        assert elsewhere.requests == []


def test_a_github_that_does_not_answer_fails_the_job_in_bounded_time(tmp_path: Path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    try:
        github = GitHubStandIn(url=f"http://127.0.0.1:{silent.getsockname()[1]}", token=TOKEN)
        started = time.monotonic()
        result = run_comment(github, tmp_path, "## Impact\n", timeout="1")
        assert time.monotonic() - started < 20
        assert result.returncode == 1
        assert "no usable answer from http://127.0.0.1" in result.stderr
    finally:
        silent.close()


def test_a_long_report_is_cut_to_fit_a_comment_and_points_at_the_summary(github: GitHubStandIn, tmp_path: Path):
    result = run_comment(github, tmp_path, "x" * 200_000)
    assert result.returncode == 0, result.stderr
    body = github.comments[0]["body"]
    assert len(body) <= 65_536
    assert "The report is cut here: the [run's summary](https://github.example/acme/data-platform/actions/runs/42)" in body


def test_missing_settings_are_named(github: GitHubStandIn, tmp_path: Path):
    result = run_comment(github, tmp_path, "## Impact\n", PR_NUMBER="", PR_AUTHOR="")
    assert result.returncode == 2
    assert "PR_NUMBER, PR_AUTHOR not set" in result.stderr
    assert github.requests == []
