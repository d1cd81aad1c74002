"""A stand-in for the few GitHub REST calls the impact comment makes, served on loopback.

It keeps a pull request's comments and requested reviewers, records every request it gets
(method, path, JSON body, Authorization header), answers 401 to any other token, and to a review
request for a name in `refuse` the status given there: 422 as GitHub does for someone who is not a
collaborator, 404 for a team it does not know, 403 for a token that may not write.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT = "github-actions[bot]"
REFUSALS: dict[int, dict[str, Any]] = {
    403: {"message": "Resource not accessible by integration"},
    404: {"message": "Not Found"},
    422: {
        "message": "Reviews may only be requested from collaborators.",
        "errors": ["One or more of the users or teams you specified is not a collaborator."],
    },
}


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str


@dataclass
class GitHubStandIn:
    """The state behind the server; tests read and seed it."""

    url: str = ""
    token: str = ""
    comments: list[dict[str, Any]] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    refuse: dict[str, int] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    redirect_to: str | None = None

    def add_comment(self, body: str, *, login: str = BOT) -> dict[str, Any]:
        comment = {
            "id": 1000 + len(self.comments),
            "body": body,
            "user": {"login": login},
            "html_url": f"https://github.example/pull/7#issuecomment-{1000 + len(self.comments)}",
        }
        self.comments.append(comment)
        return comment

    def writes(self) -> list[tuple[str, str]]:
        """The requests that changed something, as (method, path)."""
        return [(request.method, request.path) for request in self.requests if request.method != "GET"]

    def answer(self, method: str, target: str, body: Any, authorization: str) -> tuple[int, Any]:
        path = urlsplit(target).path
        self.requests.append(Recorded(method, path, body, authorization))
        if self.redirect_to:
            return 302, {"Location": self.redirect_to + target}
        if authorization != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        parts = path.strip("/").split("/")
        if method == "GET" and parts[-1] == "comments":
            page = int(parse_qs(urlsplit(target).query).get("page", ["1"])[0])
            return 200, self.comments[(page - 1) * 100 : page * 100]
        if method == "POST" and parts[-1] == "comments":
            return 201, self.add_comment(body["body"])
        if method == "PATCH" and parts[-2] == "comments":
            [comment] = [comment for comment in self.comments if comment["id"] == int(parts[-1])]
            comment["body"] = body["body"]
            return 200, comment
        if method == "POST" and parts[-1] == "requested_reviewers":
            names = [*body.get("reviewers", []), *(f"team:{team}" for team in body.get("team_reviewers", []))]
            refused = [self.refuse[name] for name in names if name in self.refuse]
            if refused:
                return refused[0], REFUSALS[refused[0]]
            self.requested += names
            return 201, {}
        return 404, {"message": "Not Found"}


@contextmanager
def serve_github(token: str) -> Iterator[GitHubStandIn]:
    """Serve a stand-in on a free loopback port until the block ends."""
    state = GitHubStandIn(token=token)

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = state.answer(self.command, self.path, body, self.headers.get("Authorization", ""))
            self.send_response(status)
            if status == 302:
                self.send_header("Location", answer["Location"])
                answer = {}
            data = json.dumps(answer).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
