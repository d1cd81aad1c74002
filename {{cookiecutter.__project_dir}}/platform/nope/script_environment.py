"""What a script sees of the platform's environment: little, and only what the platform allows.

The platform's process holds secrets (cloud keys, database passwords) that a practitioner's
script, merged by a pull request, must not read. So a script starts from a minimal
environment: the names below, those its target needs (uv's cache, Modal's tokens) and those
the platform owner adds; then the manifest's `env:`, whose `${VAR}` may copy only variables
the platform allows. Names may be `fnmatch` patterns (`LC_*`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from fnmatch import fnmatchcase
from string import Template

MINIMAL_ENVIRONMENT: tuple[str, ...] = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR")
"""Every script gets these from the platform (TMPDIR too: where temporary files belong)."""

CONTAINER_ENVIRONMENT: tuple[str, ...] = ("LANG", "LANGUAGE", "LC_*", "TZ")
"""What a script in a container or pod gets from the platform: the locale and time zone. PATH,
HOME and TMPDIR are the image's own; the platform's would point at folders the image lacks."""

NETWORK_ENVIRONMENT: tuple[str, ...] = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
"""What a command that downloads (uv, modal) needs to get out through a proxy and trust its certificates."""


class ReferenceNotAllowed(Exception):
    """A manifest's `${VAR}` names a variable the platform does not let manifests copy."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def passed_through(environ: Mapping[str, str], patterns: Iterable[str]) -> dict[str, str]:
    """The variables of `environ` whose names match one of `patterns`."""
    patterns = tuple(patterns)
    return {name: value for name, value in environ.items() if matches(name, patterns)}


def expand(value: str, environ: Mapping[str, str], allowed: Iterable[str]) -> str:
    """`value` with each `${VAR}` replaced from `environ` (`$$` is a literal `$`).

    Raises `ReferenceNotAllowed` for a variable outside `allowed`, and `KeyError` for an
    allowed one that is not set.
    """
    return Template(value).substitute(_AllowedVariables(environ, tuple(allowed)))


class _AllowedVariables(Mapping[str, str]):
    """`environ` as `Template.substitute` reads it, refusing names the platform does not allow."""

    def __init__(self, environ: Mapping[str, str], allowed: tuple[str, ...]):
        self._environ = environ
        self._allowed = allowed

    def __getitem__(self, name: str) -> str:
        if not matches(name, self._allowed):
            raise ReferenceNotAllowed(name)
        return self._environ[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._environ if matches(name, self._allowed))

    def __len__(self) -> int:
        return sum(1 for _ in self)
