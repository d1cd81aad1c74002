"""Docker for the template's tests: the daemon, a base image built without a registry, and the
baked repository's image built from its own Dockerfile.

No image registry is reachable from CI, so the base image is Debian's root filesystem made by
`debootstrap` from Debian's package mirror and `docker import`ed. Only the tests add the host's
CA bundle to it (HTTPS may go through a proxy with its own CA); the generated Dockerfile never
sees it. The filesystem is cached as a tarball under build/docker-base/, and the imported image
under a tag, both named by a hash of everything that goes into them, so a second run reuses them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import TEMPLATE

SUITE = "bookworm"  # Debian 12: python3 is 3.11, the minor version the locks are tested with
PACKAGES = "python3,python3-venv,ca-certificates"
MIRROR = os.environ.get("NOPE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CACHE = TEMPLATE / "build" / "docker-base"


def unavailable() -> str | None:
    """Why Docker tests cannot run here, or None when they can."""
    if shutil.which("docker") is None:
        return "the `docker` command is not installed (`make docker` installs it as root)"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if info.returncode != 0:
        return f"the Docker daemon does not answer (`make docker` starts it as root): {info.stderr.strip()[:300]}"
    if shutil.which("debootstrap") is None and not _image_exists(base_image_tag()):
        return "`debootstrap` is not installed (`make docker` installs it as root)"
    return None


def compose_command() -> list[str] | None:
    """`docker compose` (v2) if the plugin is there, else Debian's `docker-compose`, else None."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _cache_key() -> str:
    ca = HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.is_file() else b""
    recipe = f"debootstrap --variant=minbase --include={PACKAGES} {SUITE} {MIRROR}\n".encode()
    return hashlib.sha256(recipe + ca).hexdigest()[:16]


def base_image_tag() -> str:
    return f"nope-test-base:{_cache_key()}"


def _image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def base_image() -> str:
    """The Debian base image's tag: imported once, from a cached root filesystem when there is one."""
    tag = base_image_tag()
    if _image_exists(tag):
        return tag
    tarball = CACHE / f"{_cache_key()}.tar"
    if not tarball.is_file():
        _debootstrap(tarball)
    trust = "/etc/ssl/certs/ca-certificates.crt"
    changes = [f"ENV SSL_CERT_FILE={trust}", f"ENV PIP_CERT={trust}", "ENV UV_NATIVE_TLS=1", 'CMD ["bash"]']
    command = ["docker", "import", *[arg for change in changes for arg in ("--change", change)], str(tarball), tag]
    subprocess.run(command, check=True, capture_output=True)
    return tag


def _debootstrap(tarball: Path) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nope-rootfs-") as scratch:
        root = Path(scratch) / "root"
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(root), MIRROR],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"debootstrap failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        if HOST_CA_BUNDLE.is_file():  # the test's trust, not the Dockerfile's: see the module docstring
            shutil.copyfile(HOST_CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.rename(tarball)


def build_image(repo: Path, tag: str) -> subprocess.CompletedProcess:
    """`docker build` of the baked repository, on the Debian base image."""
    return subprocess.run(
        ["docker", "build", "--quiet", "--build-arg", f"BASE_IMAGE={base_image()}", "--tag", tag, str(repo)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
