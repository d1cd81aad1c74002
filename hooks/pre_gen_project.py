"""Check the answers before anything is generated.

Every problem is one line naming the answer and how to fix it; exiting non-zero makes
Cookiecutter stop and remove the half-made folder. Answers arrive as JSON literals
(`tojson`), never pasted into code, so quotes or backslashes in them cannot break this file.
"""

import json
import keyword
import re
import sys
import unicodedata

# Jinja writes the answers here as one JSON string literal before the hook runs; unrendered, the
# expression reads as a set of undefined names, so mypy checks everything but this line.
ANSWERS = json.loads({{ cookiecutter | tojson | tojson }})  # type: ignore[arg-type, name-defined]  # noqa: F821  # unrendered Jinja: see above

NAMES_TAKEN = {"nope", "platform", "tests", "defs", "test"}
# Top-level modules of the packages a baked repository installs (its uv.lock): a platform package
# of the same name would shadow one of them. tests/test_answers.py fails when a lock brings a new one.
DEPENDENCY_MODULES = frozenset({
    "_cffi_backend", "_distutils_hack", "_pytest", "_yaml", "aiohappyeyeballs", "aiohttp",
    "aiosignal", "alembic", "annotated_doc", "annotated_types", "antlr4", "anyio",
    "ast_serialize", "attr", "attrs", "backoff", "certifi", "cffi", "charset_normalizer",
    "click", "click_aliases", "coloredlogs", "cryptography", "dagster", "dagster_cloud_cli",
    "dagster_dg_cli", "dagster_dg_core", "dagster_docker", "dagster_graphql", "dagster_k8s",
    "dagster_pipes", "dagster_postgres", "dagster_rest_resources", "dagster_shared",
    "dagster_webserver", "dateutil", "docker", "docker_image", "docstring_parser", "dotenv",
    "durationpy", "filelock", "frozenlist", "fsspec", "ghp_import", "git", "gitdb", "github3", "google",
    "gql", "graphene", "graphql", "graphql_relay", "grpc", "grpc_health", "h11", "httpcore",
    "httptools", "httpx", "humanfriendly", "idna", "iniconfig", "jinja2", "jsonschema",
    "jsonschema_specifications", "jwt", "kubernetes", "librt", "mako", "markdown",
    "markdown_it", "markupsafe", "mdurl", "mergedeep", "mkdocs", "mkdocs_get_deps", "multidict", "mypy", "mypy_extensions", "mypyc",
    "oauthlib", "packaging", "pathlib_abc", "pathspec", "platformdirs", "pluggy",
    "prompt_toolkit", "propcache", "psycopg2", "py", "pyasn1", "pyasn1_modules", "pycparser",
    "pydantic", "pydantic_core", "pygments", "pytest", "pytz", "questionary", "referencing",
    "regex", "requests", "requests_oauthlib", "requests_toolbelt", "rich", "rpds", "ruff",
    "setuptools", "shellingham", "six", "smmap", "sqlalchemy", "starlette", "structlog",
    "tabulate", "termcolor", "tomli", "tomlkit", "toposort", "tqdm", "typer",
    "typing_extensions", "typing_inspection", "tzdata", "upath", "uritemplate", "urllib3", "uv",
    "uvicorn", "uvloop", "validators", "watchdog", "watchfiles", "wcwidth", "websocket",
    "websockets", "yaml", "yaml_env_tag", "yarl", "yaspin",
})
# A copy of OWNER_PATTERN in platform/nope/models.py (the repository does not exist yet); keep them equal.
OWNER = re.compile(r"^(team:[A-Za-z0-9_.\-]+|[A-Za-z0-9_][A-Za-z0-9._%+\-]*@[A-Za-z0-9.\-]+\.[A-Za-z]{2,7})$")
KIND = re.compile(r"^[A-Za-z0-9_.\-]{1,63}$")
REPOSITORY_URL = re.compile(r"^https://[A-Za-z0-9.\-]+(:[0-9]+)?(/[A-Za-z0-9._~\-]+)+/?$")
# Branch names that asset links (`<repository_url>/tree/<branch>/...`) carry unescaped.
LINKABLE_BRANCH = re.compile(r"^[A-Za-z0-9._/\-]+$")
SLUG = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._\-]*[A-Za-z0-9])?$")
EXTRA_TARGETS = ("uv", "modal", "docker", "k8s")  # `subprocess` always ships
STORAGES = ("sqlite", "postgres")  # the Dagster instance storage the generated repo is set up for
# Where Dagster runs in production. Containers on several machines share one run history, and
# SQLite files cannot be shared between containers: docker and kubernetes need PostgreSQL.
DEPLOYMENTS = ("local", "docker", "kubernetes")


# Longer answers make paths and names no file system or reader copes with.
MAX_LENGTH = {"company_name": 100, "project_name": 200, "project_slug": 100, "platform_package": 100, "repository_branch": 200}
# Characters that a reader does not see for what they are: line breaks and other controls (Cc, and
# Unicode's own line and paragraph separators), and invisible formatting characters (Cf): the
# bidirectional overrides and isolates that reorder what a README or pyproject.toml shows, the
# zero-width ones that hide a difference between two names, the byte-order mark.
LINE_BREAKING = frozenset({"Cc", "Zl", "Zp"})
INVISIBLE = frozenset({"Cf"})
# A ref's name is a file name under .git/refs/heads/ (plus `.lock` while git writes it), and most
# file systems take at most 255 bytes per name.
MAX_BRANCH_PART_BYTES = 250


def shown(value: str) -> str:
    """The answer as it is quoted in a problem: never a 5,000-character line."""
    return value if len(value) <= 60 else f"{value[:57]}..."


def character_problem(answer: str, value: str) -> str | None:
    """Why `value` cannot be shown as the text it is: a line break or control, or an invisible character."""
    categories = [unicodedata.category(character) for character in value]
    if "Cs" in categories:  # undecodable bytes of a command-line argument; no file can hold them
        return f"{answer}: is not UTF-8 text"
    if any(category in LINE_BREAKING for category in categories):
        return f"{answer}: must be one line of text; it holds a line break or another control character"
    for character, category in zip(value, categories):
        if category in INVISIBLE:
            name = unicodedata.name(character, "a format character")
            return (
                f"{answer}: holds the invisible character U+{ord(character):04X} ({name}), which makes the text "
                "read differently from what it is; type the answer again without it"
            )
    return None


def branch_problem(branch: str) -> str | None:
    """Why git would refuse `branch` as a branch name (`git check-ref-format --branch`), without git.

    The rules of git-check-ref-format(1), for a name under refs/heads/; None when git takes it.
    """
    if not branch:
        return "must not be empty; e.g. `main`"
    if branch.startswith("-"):
        return "starts with `-`, which git would read as an option"
    if branch in ("HEAD", "@"):
        return f"is `{branch}`, which git keeps for itself"
    for sequence in ("..", "@{", "//"):
        if sequence in branch:
            return f"holds `{sequence}`"
    for character in branch:
        if character == " ":
            return "holds a space"
        if character in "~^:?*[\\":
            return f"holds `{character}`"
        if ord(character) < 32 or ord(character) == 127:
            return "holds a control character"
    if branch.startswith("/") or branch.endswith("/"):
        return "starts or ends with `/`"
    if branch.endswith("."):
        return "ends with `.`"
    parts = branch.split("/")
    if any(part.startswith(".") for part in parts):
        return "has a part that starts with `.`"
    if any(part.endswith(".lock") for part in parts):
        return "has a part that ends with `.lock`"
    if any(len(part.encode("utf-8")) > MAX_BRANCH_PART_BYTES for part in parts):
        return f"has a part longer than {MAX_BRANCH_PART_BYTES} bytes, more than a file name may hold"
    return None


def problems(answers: dict) -> list[str]:
    found = []
    unreadable = set()
    for answer, value in answers.items():
        problem = character_problem(answer, value) if not answer.startswith("_") and isinstance(value, str) else None
        if problem:
            found.append(problem)
            unreadable.add(answer)
    for answer, limit in MAX_LENGTH.items():
        if len(answers[answer]) > limit:
            found.append(f"{answer}: `{shown(answers[answer])}` is {len(answers[answer]):,} characters long; at most {limit}")
            unreadable.add(answer)
    if not answers["project_name"].strip():
        found.append("project_name: must not be empty")
    if not SLUG.match(answers["project_slug"]):
        found.append(
            f"project_slug: `{shown(answers['project_slug'])}` must start and end with a letter or digit "
            "and use only letters, digits, `.`, `_` and `-`"
        )
    package = answers["platform_package"]
    if not package.isidentifier() or not package.isascii() or keyword.iskeyword(package):
        found.append(
            f"platform_package: `{shown(package)}` is not a valid Python package name "
            "(letters, digits and underscores, not starting with a digit), e.g. `acme_platform`"
        )
    elif package in NAMES_TAKEN or package in sys.stdlib_module_names:
        found.append(f"platform_package: `{package}` is already taken by Python or the platform; e.g. `{package}_platform`")
    elif package in DEPENDENCY_MODULES:
        found.append(
            f"platform_package: `{package}` would shadow the `{package}` module of a package this repository "
            f"installs; e.g. `{package}_platform`"
        )
    owners = [owner.strip() for owner in answers["default_owners"].split(",") if owner.strip()]
    if not owners:
        found.append("default_owners: give at least one owner (an email address or `team:<name>`)")
    for owner in owners:
        if not OWNER.match(owner):
            found.append(f"default_owners: `{owner}` is neither an email address nor `team:<name>`")
    if not KIND.match(answers["default_kind_tag"]):
        found.append(
            f"default_kind_tag: `{answers['default_kind_tag']}` must be 1 to 63 letters, digits, `_`, `-` or `.`"
        )
    if answers["include_examples"] not in ("yes", "no"):
        found.append(f"include_examples: `{answers['include_examples']}` must be `yes` or `no`")
    for target in answers["extra_targets"].replace(" ", "").split(","):
        if target not in (*EXTRA_TARGETS, "none", ""):
            choices = ", ".join(f"`{name}`" for name in EXTRA_TARGETS)
            found.append(f"extra_targets: `{target}` is not a target this template ships; choose from {choices} or `none`")
    if answers["dagster_storage"] not in STORAGES:
        found.append(f"dagster_storage: `{answers['dagster_storage']}` must be `sqlite` or `postgres`")
    if answers["deployment"] not in DEPLOYMENTS:
        found.append(f"deployment: `{answers['deployment']}` must be `local`, `docker` or `kubernetes`")
    elif answers["deployment"] != "local" and answers["dagster_storage"] != "postgres":
        found.append(
            f"deployment: `{answers['deployment']}` needs `dagster_storage=postgres` (its containers share one "
            f"run history, which SQLite files cannot hold); answer `postgres`, or `deployment=local`"
        )
    url = answers["repository_url"].strip()
    if url and not REPOSITORY_URL.match(url):
        found.append(f"repository_url: `{url}` must be an https:// address such as https://github.com/acme/data-platform, or empty")
    branch = answers["repository_branch"]
    if "repository_branch" not in unreadable:
        problem = branch_problem(branch)
        if problem:
            found.append(f"repository_branch: `{shown(branch)}` is not a git branch name: it {problem}")
        elif url and not LINKABLE_BRANCH.match(branch):
            found.append(
                f"repository_branch: `{shown(branch)}` must use only letters, digits, `.`, `_`, `-` and `/`, "
                "as the asset links to repository_url carry it"
            )
    return found


if __name__ == "__main__":
    found = problems(ANSWERS)
    for line in found:
        print(f"error: {line}", file=sys.stderr)
    if found:
        print("Nothing was generated. Run cookiecutter again with corrected answers.", file=sys.stderr)
        sys.exit(1)
