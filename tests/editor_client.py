"""A minimal Language Server Protocol client for yaml-language-server, for the editor test.

It speaks what VS Code's YAML extension speaks over stdio (Content-Length framed JSON-RPC):
`initialize`, the `yaml.schemas` setting that maps a schema to the manifests, `didOpen`, and
the `publishDiagnostics` the server sends back. Every read has a deadline, and the server is
stopped (then killed, if it must be) when the client closes, so no process outlives a test.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from pathlib import Path
from typing import Any

EDITOR_PACKAGE = Path(__file__).resolve().parent / "editor"
SERVER = EDITOR_PACKAGE / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
DEADLINE_SECONDS = 60  # the first validation parses the schema; seconds on a busy machine


class EditorError(Exception):
    """The server did not answer in time, or stopped: the message says what was awaited."""


class YamlLanguageServer:
    """One yaml-language-server process, with `schema` applied to `patterns` in `root`."""

    def __init__(self, root: Path, schemas: dict[Path, list[str]]):
        self.root = root
        self.process = subprocess.Popen(
            ["node", str(SERVER), "--stdio"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=root,
        )
        self._buffer = b""
        self._next_id = 0
        self._opened: set[str] = set()
        self._request("initialize", {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {"workspace": {"configuration": True}}})
        self._notify("initialized", {})
        # The server pulls its settings (`workspace/configuration`) when told they changed. No
        # schema store: only our schema applies, and nothing is fetched from the network.
        self._settings = {
            "yaml": {
                "schemas": {path.as_uri(): globs for path, globs in schemas.items()},
                "validate": True,
                "schemaStore": {"enable": False},
            }
        }
        self._notify("workspace/didChangeConfiguration", {"settings": self._settings})

    def __enter__(self) -> YamlLanguageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def diagnostics(self, relative_path: str, text: str) -> list[dict[str, Any]]:
        """Open a new file holding `text` and return the diagnostics the server publishes for it.

        Each path is opened once: the server clears a closed file's diagnostics with an empty
        publication that could not be told apart from a clean file's.
        """
        uri = (self.root / relative_path).as_uri()
        if uri in self._opened:
            raise ValueError(f"{relative_path} is open already: give each manifest a path of its own")
        self._opened.add(uri)
        self._notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})
        while True:
            message = self._read(f"diagnostics for {relative_path}")
            params = message.get("params", {})
            if message.get("method") == "textDocument/publishDiagnostics" and params.get("uri") == uri:
                return params["diagnostics"]
            self._answer_server_request(message)

    def quick_fixes(self, relative_path: str, diagnostic: dict[str, Any]) -> list[str]:
        """The titles of the quick fixes the editor offers for one diagnostic (the light bulb)."""
        uri = (self.root / relative_path).as_uri()
        actions = self._request(
            "textDocument/codeAction",
            {"textDocument": {"uri": uri}, "range": diagnostic["range"], "context": {"diagnostics": [diagnostic]}},
        )
        return [action["title"] for action in actions or []]

    def close(self) -> None:
        """Ask the server to exit; kill it if it does not within the deadline."""
        try:
            if self.process.poll() is None:
                self._request("shutdown", None)
                self._notify("exit", None)
                self.process.wait(timeout=DEADLINE_SECONDS)
        except (EditorError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    stream.close()

    def _request(self, method: str, params: Any) -> Any:
        self._next_id += 1
        request_id = self._next_id
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        while True:
            message = self._read(f"the answer to {method}")
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise EditorError(f"{method} failed: {message['error']}")
                return message.get("result")
            self._answer_server_request(message)

    def _notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        """The server asks for settings and registrations; a client must answer or it waits."""
        if "id" in message and "method" in message:
            result: Any = None
            if message["method"] == "workspace/configuration":
                result = [self._settings.get(item.get("section"), {}) for item in message["params"]["items"]]
            self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _read(self, awaited: str) -> dict[str, Any]:
        """The next message from the server, waiting at most DEADLINE_SECONDS for it."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        assert self.process.stdout is not None
        stream = self.process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while True:
                header, separator, rest = self._buffer.partition(b"\r\n\r\n")
                if separator:
                    length = next(
                        int(line.split(b":")[1]) for line in header.split(b"\r\n") if line.lower().startswith(b"content-length")
                    )
                    if len(rest) >= length:
                        self._buffer = rest[length:]
                        return json.loads(rest[:length])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise EditorError(f"yaml-language-server sent no {awaited} within {DEADLINE_SECONDS} s")
                if selector.select(timeout=remaining):
                    chunk = os.read(stream.fileno(), 65536)
                    if not chunk:
                        raise EditorError(f"yaml-language-server stopped while waiting for {awaited}")
                    self._buffer += chunk
