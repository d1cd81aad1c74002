"""The impact comment on a pull request: one comment kept up to date, and review asked of the owners.

    python platform/nope/pull_request_comment.py --report impact/report.md --impact impact/impact.json

`.github/workflows/checks.yml` runs this in its `comment` job, after the read-only `impact` job
has written `nope diff`'s report (markdown) and its JSON into an artifact. It

- edits the comment it posted before (found by the hidden `<!-- nope-impact -->` marker, written
  by the job's own account) or, on the first run, posts one: a pull request gets one comment
  however often it is pushed to, never a new one per push;
- asks for review from the owners of the assets the pull request modifies or removes and of the
  assets downstream of them, where GitHub can: `@user`, `@org/team` and `team:<name>` (a team of
  the repository's organization, as CODEOWNERS names it) are requested; an email address cannot
  be, so it is listed in the comment as not requested. Each owner is asked once per pull request
  (the comment remembers whom), so a push does not notify the same people again;
- does nothing at all for a fork's pull request: its token may not write, and its report is in
  the job summary anyway.

It reads (GitHub Actions sets the first three; the workflow passes the others through `env:`):
GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN (never printed), PR_NUMBER, PR_AUTHOR (GitHub
refuses to request its author's review), HEAD_REPOSITORY (a fork's differs from
GITHUB_REPOSITORY), and GITHUB_SERVER_URL with GITHUB_RUN_ID for a link to the run, if set.

Standard library only and run by path, like `dev_server.py`: the job installs nothing, and it
checks out the base branch, so the code holding a token that may write is code already merged,
never the pull request's own. Every request has a timeout, every response a size cap, and
redirects are refused so the token never goes to another host.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any

MARKER = "<!-- nope-impact -->"
REQUESTED_PREFIX = "<!-- nope-impact requested:"
"""A hidden line of the comment: the reviewers asked already, so no push asks them twice."""

COMMENTER = "github-actions[bot]"
"""Who the job's token comments as: a marked comment by anyone else is not this job's to edit."""

COMMENT_LIMIT = 65_536
"""GitHub refuses a longer comment body; the report is cut to fit, the job summary keeps it whole."""

REPORT_LIMIT_BYTES = 1_000_000
IMPACT_LIMIT_BYTES = 10_000_000
RESPONSE_LIMIT_BYTES = 10_000_000
COMMENT_PAGES = 20
"""Pages of 100 comments searched for the marked one: a pull request with more is very unusual."""

MAX_REVIEW_REQUESTS = 15
"""Review requests one run makes at most; owners beyond that are listed as not requested."""

REVIEWER_REFUSALS = {404, 422}
"""GitHub will not ask this one (no such user or team; not a collaborator, or the author): the owner
is listed as not requested and the job passes. Any other failure (a token that may not write)
fails the job, after the comment is written."""

DEFAULT_TIMEOUT_SECONDS = 30.0

USER = re.compile(r"@([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})")
TEAM = re.compile(r"@([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/([A-Za-z0-9][A-Za-z0-9_.-]*)")
TEAM_OWNER = re.compile(r"team:([A-Za-z0-9_.-]+)")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The job is set up wrongly (a variable missing, a file unreadable): printed, exit 2."""


class GitHubError(Exception):
    """GitHub refused or did not answer a request; `status` is 0 when no answer came."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reviewer:
    """Someone GitHub can ask for a review: a user's login, or a team's slug in the repository's organization."""

    name: str
    is_team: bool

    @property
    def shown(self) -> str:
        """As the comment writes it, and remembers it."""
        return f"team:{self.name}" if self.is_team else f"@{self.name}"


@dataclass(frozen=True)
class Skipped:
    """An owner not asked for a review, and why."""

    owner: str
    reason: str


@dataclass(frozen=True)
class Settings:
    """What the job passes in its environment."""

    api_url: str
    repository: str
    token: str
    number: int
    author: str
    head_repository: str
    run_url: str | None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Keep one impact comment on a pull request and request the owners' review.")
    parser.add_argument("--report", type=Path, required=True, help="the markdown report (`nope diff --format markdown`)")
    parser.add_argument("--impact", type=Path, required=True, help="the same report as JSON (`nope diff --format json`)")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds to wait for each answer from GitHub"
    )
    args = parser.parse_args(argv)
    try:
        settings = _settings(os.environ)
        if settings.head_repository != settings.repository:
            print(f"The pull request comes from the fork {settings.head_repository}: no comment, the job summary has the report.")
            return EXIT_OK
        report = _read_text(args.report, REPORT_LIMIT_BYTES)
        impact = _read_impact(args.impact)
        return comment(settings, report, impact, GitHub(settings, timeout=args.timeout))
    except UsageError as error:
        print(f"pull_request_comment: {error}", file=sys.stderr)
        return EXIT_USAGE
    except GitHubError as error:
        print(f"pull_request_comment: {error}", file=sys.stderr)
        return EXIT_FAILED


def comment(settings: Settings, report: str, impact: Mapping[str, Any], github: GitHub) -> int:
    """Request the owners' review, then post or edit the one comment saying what changed and who was asked."""
    previous = _find_comment(github, settings)
    asked_before = _requested_in(previous["body"]) if previous else []
    wanted, skipped = reviewers(owners_to_ask(impact), organization=settings.repository.split("/")[0])
    authors = [reviewer for reviewer in wanted if not reviewer.is_team and reviewer.name.lower() == settings.author.lower()]
    for author in authors:  # GitHub refuses to ask a pull request's author for a review of it
        wanted.remove(author)
        skipped.append(Skipped(author.shown, "the pull request's author"))
    asked = list(asked_before)
    refused: list[Skipped] = []
    failed = False
    new = [reviewer for reviewer in wanted if reviewer.shown not in asked_before]
    for reviewer in new[:MAX_REVIEW_REQUESTS]:
        try:
            github.request_review(settings.number, reviewer)
            asked.append(reviewer.shown)
        except GitHubError as error:
            refused.append(Skipped(reviewer.shown, str(error)))
            failed = failed or error.status not in REVIEWER_REFUSALS
    refused += [Skipped(reviewer.shown, "more owners than one run asks") for reviewer in new[MAX_REVIEW_REQUESTS:]]
    body = comment_body(report, asked=asked, not_asked=[*skipped, *refused], run_url=settings.run_url)
    if previous:
        github.edit_comment(previous["id"], body)
        print(f"Edited the impact comment {previous['html_url']}")
    else:
        posted = github.post_comment(settings.number, body)
        print(f"Posted the impact comment {posted.get('html_url', '')}")
    for shown in asked[len(asked_before) :]:
        print(f"Requested review from {shown}")
    for skip in [*skipped, *refused]:
        print(f"Not requested: {skip.owner} ({skip.reason})")
    return EXIT_FAILED if failed else EXIT_OK


def owners_to_ask(impact: Mapping[str, Any]) -> list[str]:
    """The owners of the assets modified, removed or downstream, in the report's order, each once."""
    modified = impact.get("modified") or {}
    assets = [*modified, *(impact.get("removed") or []), *(impact.get("downstream") or [])]
    owners_by_asset = impact.get("owners") or {}
    found: dict[str, None] = {}
    for asset in assets:
        for owner in owners_by_asset.get(asset) or []:
            found.setdefault(str(owner), None)
    return list(found)


def reviewers(owners: Iterable[str], *, organization: str) -> tuple[list[Reviewer], list[Skipped]]:
    """Who GitHub can be asked to review, and who not with the reason.

    `team:<name>` is a team of the repository's organization, as CODEOWNERS writes it; an
    `@org/team` of another organization cannot review here.
    """
    wanted: dict[Reviewer, None] = {}
    skipped = []
    for owner in owners:
        if team := TEAM.fullmatch(owner):
            if team[1].lower() == organization.lower():
                wanted.setdefault(Reviewer(team[2], is_team=True), None)
            else:
                skipped.append(Skipped(owner, f"a team of another organization than {organization}"))
        elif user := USER.fullmatch(owner):
            wanted.setdefault(Reviewer(user[1], is_team=False), None)
        elif team_owner := TEAM_OWNER.fullmatch(owner):
            wanted.setdefault(Reviewer(team_owner[1], is_team=True), None)
        elif EMAIL.fullmatch(owner):
            skipped.append(Skipped(owner, "an email address: GitHub asks users and teams only"))
        else:
            skipped.append(Skipped(owner, "not a GitHub user or team"))
    return list(wanted), skipped


def comment_body(report: str, *, asked: list[str], not_asked: list[Skipped], run_url: str | None) -> str:
    """The marker, the report (cut to fit GitHub's limit) and who was asked to review.

    Names are in code spans: an `@name` there notifies nobody, the review request already does.
    """
    lines = [""]
    if asked:
        lines.append("**Review requested** from the owners of the assets changed or downstream: " + _spans(asked) + ".")
    for skip in not_asked:
        lines.append(f"Not requested: {_span(skip.owner)} ({skip.reason}).")
    lines.append(f"{REQUESTED_PREFIX} {' '.join(asked)} -->")
    tail = "\n".join(lines) + "\n"
    head = MARKER + "\n"
    room = COMMENT_LIMIT - len(head) - len(tail) - 400
    if len(report) > room:
        where = f"the [run's summary]({run_url})" if run_url else "the run's summary"
        report = report[:room] + f"\n\n*The report is cut here: {where} has all of it.*\n"
    return head + report.rstrip("\n") + "\n" + tail


def _spans(names: list[str]) -> str:
    return ", ".join(_span(name) for name in names)


def _span(text: str) -> str:
    """Text as a code span: a backtick in it would end the span and let an `@name` notify."""
    return "`" + text.replace("`", "'") + "`"


def _requested_in(body: str) -> list[str]:
    """The reviewers a body says were asked: its last line only, which `comment_body` writes after
    the report, so a report holding such a line cannot make owners look asked already."""
    lines = body.rstrip("\n").splitlines()
    last = lines[-1] if lines else ""
    if last.startswith(REQUESTED_PREFIX) and last.endswith("-->"):
        return last[len(REQUESTED_PREFIX) : -len("-->")].split()
    return []


def _find_comment(github: GitHub, settings: Settings) -> dict[str, Any] | None:
    """This job's earlier comment on the pull request, if any."""
    for page in range(1, COMMENT_PAGES + 1):
        comments = github.comments(settings.number, page)
        for found in comments:
            if (found.get("user") or {}).get("login") == COMMENTER and str(found.get("body", "")).startswith(MARKER):
                return found
        if len(comments) < 100:
            return None
    return None


class GitHub:
    """The few REST calls the job makes, with the token in a header and nowhere else."""

    def __init__(self, settings: Settings, *, timeout: float) -> None:
        self._api = settings.api_url.rstrip("/")
        self._repository = settings.repository
        self._token = settings.token
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_RefuseRedirects)

    def comments(self, number: int, page: int) -> list[dict[str, Any]]:
        found = self._call("GET", f"/repos/{self._repository}/issues/{number}/comments?per_page=100&page={page}")
        if not isinstance(found, list):
            raise GitHubError("GitHub answered the list of comments with something else")
        return found

    def post_comment(self, number: int, body: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/repos/{self._repository}/issues/{number}/comments", {"body": body}))

    def edit_comment(self, comment_id: int, body: str) -> None:
        self._call("PATCH", f"/repos/{self._repository}/issues/comments/{int(comment_id)}", {"body": body})

    def request_review(self, number: int, reviewer: Reviewer) -> None:
        key = "team_reviewers" if reviewer.is_team else "reviewers"
        self._call("POST", f"/repos/{self._repository}/pulls/{number}/requested_reviewers", {key: [reviewer.name]})

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self._api + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
                "User-Agent": "nope-pull-request-comment",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        what = f"{method} {urllib.parse.urlsplit(path).path}"
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                return json.loads(_read_capped(response, what) or b"null")
        except urllib.error.HTTPError as error:
            with error:
                raise GitHubError(f"{what}: GitHub answered {error.code}: {_github_message(error)}", error.code) from None
        except (OSError, ValueError) as error:  # no answer in time, connection refused, not JSON
            raise GitHubError(f"{what}: no usable answer from {self._api}: {error}") from None


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the Authorization header, to whatever host it names."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        return None


def _read_capped(response: Any, what: str) -> bytes:
    data: bytes = response.read(RESPONSE_LIMIT_BYTES + 1)
    if len(data) > RESPONSE_LIMIT_BYTES:
        raise ValueError(f"{what}: the answer is larger than {RESPONSE_LIMIT_BYTES} bytes")
    return data


def _github_message(error: urllib.error.HTTPError) -> str:
    """GitHub's own words (`message`, and `errors` for a 422), short; never the request."""
    try:
        answer = json.loads(error.read(64_000) or b"{}")
    except (OSError, ValueError):
        return error.reason or "no explanation"
    if not isinstance(answer, dict):
        return "no explanation"
    details = [str(item.get("message", item)) if isinstance(item, dict) else str(item) for item in answer.get("errors") or []]
    return "; ".join([str(answer.get("message", "no explanation")), *details])[:500]


def _settings(environment: Mapping[str, str]) -> Settings:
    names = ["GITHUB_REPOSITORY", "GITHUB_TOKEN", "PR_NUMBER", "PR_AUTHOR", "HEAD_REPOSITORY"]
    missing = [name for name in names if not environment.get(name)]
    if missing:
        raise UsageError(f"{', '.join(missing)} not set: the workflow's comment step passes them in `env:`")
    if not environment["PR_NUMBER"].isdigit():
        raise UsageError(f"PR_NUMBER must be the pull request's number, not `{environment['PR_NUMBER']}`")
    server, run = environment.get("GITHUB_SERVER_URL"), environment.get("GITHUB_RUN_ID")
    return Settings(
        api_url=environment.get("GITHUB_API_URL") or "https://api.github.com",
        repository=environment["GITHUB_REPOSITORY"],
        token=environment["GITHUB_TOKEN"],
        number=int(environment["PR_NUMBER"]),
        author=environment["PR_AUTHOR"],
        head_repository=environment["HEAD_REPOSITORY"],
        run_url=f"{server}/{environment['GITHUB_REPOSITORY']}/actions/runs/{run}" if server and run else None,
    )


def _read_text(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > limit:
        raise UsageError(f"{path} is larger than {limit} bytes")
    return data.decode("utf-8", errors="replace")


def _read_impact(path: Path) -> dict[str, Any]:
    try:
        impact = json.loads(_read_text(path, IMPACT_LIMIT_BYTES))
    except ValueError as error:
        raise UsageError(f"{path} is not the JSON of `nope diff --format json`: {error}") from None
    if not isinstance(impact, dict):
        raise UsageError(f"{path} is not the JSON of `nope diff --format json`: not an object")
    return impact


if __name__ == "__main__":
    raise SystemExit(main())
