"""The `nope` command: check, list, scaffold and describe manifests without Dagster.

    nope check [PATH...] [--format text|json|github]     validate defs/; exit 1 with problems
    nope list [--format table|json]                      the assets the manifests define
    nope new <group>/<name> [--target T] [--assets a,b] [--script F]  a script and manifest that pass check
    nope schema [-o FILE] [--group-defaults]             the JSON Schema editors use
    nope deploy [--branch B] [--teardown]                let each target ship its scripts for a branch, or remove them
    nope diff [--base REF] [--format text|json|markdown|select]  the assets a branch adds, removes, modifies

It finds the project the way `definitions.py` does, from `[tool.nope]` in the nearest
`pyproject.toml` (`project = "package:ProjectClass"`, `defs = "defs"`), so it validates with
the platform's own targets. Nothing here imports Dagster: checking a tree stays fast enough
for a pre-commit hook, and a test keeps it that way.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nope import impact_report, scaffold
from nope.base_tree import RefusedBase
from nope.deploying import DeployError, deploy, teardown
from nope.impact import branch_impact, repository_branch
from nope.loading import LoadedDefs
from nope.manifests import NopeAssetManifest, NopeInvocationTargetManifest
from nope.models import default_asset_key, is_name, name_suggestion
from nope.owner_channels import unmapped_teams
from nope.problems import NopeManifestError, Problem, did_you_mean, reading_order
from nope.project import NopeProject
from nope.schema import group_defaults_schema, manifest_schema, render
from nope.targets import NopeInvocationTarget, script_suffix_rule

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in how the command was called (not in defs/): printed, exit code 2."""


@dataclass(frozen=True)
class Config:
    """Where the repository is, which project class to use, and where its defs/ folder is."""

    repo_root: Path
    project: type[NopeProject]
    defs_path: Path


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args, _config(Path.cwd()))
    except UsageError as error:
        print(f"nope: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `nope list | head` closed the pipe early: that is fine. Python's documented recipe:
        # point stdout at devnull so flushing at exit does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nope", description="Check and scaffold the manifests under defs/.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="validate every manifest; exit 1 if there are problems")
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="files or folders inside defs/ to report on (default: all of defs/), or another defs/ folder",
    )
    check.add_argument(
        "--format",
        choices=["text", "json", "github"],
        default="github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text",
        help="text (default), json, or GitHub annotations (default inside GitHub Actions)",
    )
    check.set_defaults(command=_check)

    listing = commands.add_parser("list", help="the assets the manifests define")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(command=_list)

    new = commands.add_parser("new", help="write a script and a manifest that pass `nope check`")
    new.add_argument("name", help="<group>/<name>, e.g. sales/orders")
    new.add_argument("--target", default="subprocess", help="the target that runs the script (default: subprocess)")
    new.add_argument("--assets", default="", help="several assets from one script: comma-separated names")
    new.add_argument(
        "--script",
        help="the script's file name, which sets its language (e.g. orders.sh; default: <name> with the target's first extension)",
    )
    new.set_defaults(command=_new)

    schema = commands.add_parser("schema", help="print (or write) the JSON Schema of manifests")
    schema.add_argument("-o", "--output", type=Path, help="write to this file instead of printing")
    schema.add_argument(
        "--group-defaults", action="store_true", help="the schema of `_group.yaml` files instead of manifests"
    )
    schema.set_defaults(command=_schema)
    deploying = commands.add_parser("deploy", help="let each target ship its scripts for a git branch")
    deploying.add_argument(
        "--branch", help="the branch to deploy for (default: NOPE_ENVIRONMENT, else the checked-out branch)"
    )
    deploying.add_argument(
        "--teardown", action="store_true", help="remove what deploy made for --branch, which was merged or deleted"
    )
    deploying.set_defaults(command=_deploy)
    diff = commands.add_parser("diff", help="the assets this branch adds, removes and modifies, and what depends on them")
    diff.add_argument("--base", metavar="REF", help="the git commit to compare with (default: the merge base with the repository's branch)")
    diff.add_argument("--format", choices=impact_report.FORMATS, default="text")
    diff.set_defaults(command=_diff)
    return parser


def _config(start: Path) -> Config:
    """Read `[tool.nope]` from the nearest pyproject.toml at or above `start`."""
    for folder in [start, *start.parents]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            settings = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("nope")
            if settings is not None:
                return Config(folder, _import_project(settings.get("project", ""), folder), folder / settings.get("defs", "defs"))
    raise UsageError(f"no pyproject.toml with a [tool.nope] table in {start} or above; run nope inside the platform repository")


def _import_project(spec: str, repo_root: Path) -> type[NopeProject]:
    """`package:ProjectClass` -> the class. The repo's platform/ folder is importable without install."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise UsageError(f"[tool.nope] project must read `package:ProjectClass`, got `{spec}`")
    platform = str(repo_root / "platform")
    if platform not in sys.path:
        sys.path.insert(0, platform)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:  # the platform package exists but imports something missing
            raise
        raise UsageError(f"[tool.nope] project `{spec}`: no module `{module_name}` in {platform}") from None
    project = getattr(module, class_name, None)
    if not (isinstance(project, type) and issubclass(project, NopeProject)):
        raise UsageError(f"[tool.nope] project `{spec}` is not a NopeProject subclass")
    return project


def _check(args: argparse.Namespace, config: Config) -> int:
    defs_path, prefixes = _what_to_check(args.paths, config)
    loaded = config.project.load(defs_path)  # always the whole tree: deps and duplicates span files
    # The platform's own problems touch every asset: reported whatever paths were given.
    problems = [problem for problem in loaded.problems if problem in loaded.platform_problems or _under(problem.path, prefixes)]
    warnings = [warning for warning in _unmapped_team_warnings(loaded, config.project) if _under(warning.path, prefixes)]
    if args.format == "json":
        print(json.dumps({**_check_report(loaded, problems), "warnings": [w.as_dict() for w in warnings]}, indent=2))
    else:
        for problem in problems:
            print(_github_annotation(problem) if args.format == "github" else problem)
        for warning in warnings:
            print(_github_annotation(warning, "warning") if args.format == "github" else f"warning: {warning}", file=sys.stderr)
        print(_summary(loaded, problems, defs_path), file=sys.stderr if problems else sys.stdout)
    return EXIT_PROBLEMS if problems else EXIT_OK


def _what_to_check(paths: list[Path], config: Config) -> tuple[Path, list[str]]:
    """The defs/ folder to load, and the repo-relative paths whose problems to report ([] = all).

    One folder outside the configured defs/ is checked as a defs/ folder of its own; anything
    else must lie inside defs/ (a pre-commit hook passes the changed files).
    """
    if not paths:
        return config.defs_path, []
    defs_root = config.defs_path.resolve()
    if len(paths) == 1 and paths[0].is_dir() and not paths[0].resolve().is_relative_to(defs_root):
        return paths[0], []
    prefixes = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} does not exist")
        if not path.resolve().is_relative_to(defs_root):
            raise UsageError(f"{path} is not inside {config.defs_path.relative_to(config.repo_root)}/")
        prefixes.append(path.resolve().relative_to(defs_root.parent).as_posix())
    return config.defs_path, prefixes


def _under(problem_path: str, prefixes: list[str]) -> bool:
    return not prefixes or any(problem_path == prefix or problem_path.startswith(f"{prefix}/") for prefix in prefixes)


def _check_report(loaded: LoadedDefs, problems: list[Problem]) -> dict[str, object]:
    return {
        "ok": not problems,
        "manifests": len(loaded.targets) + len(loaded.broken_manifests),
        "assets": sum(len(target.asset_manifests) for target in loaded.targets),
        "problems": [problem.as_dict() for problem in problems],
    }


def _summary(loaded: LoadedDefs, problems: list[Problem], defs_path: Path) -> str:
    manifests = len(loaded.targets) + len(loaded.broken_manifests)
    if not problems:
        assets = sum(len(target.asset_manifests) for target in loaded.targets)
        return f"{defs_path.name}/: {manifests} manifests, {assets} assets, no problems"
    files = len({problem.path for problem in problems})
    return f"{len(problems)} problem(s) in {files} file(s) ({manifests} manifests checked)"


def _unmapped_team_warnings(loaded: LoadedDefs, project: type[NopeProject]) -> list[Problem]:
    """One warning per `team:` owner the platform maps to no channel, where it is first named: its owners hear nothing."""
    places = (
        (owner, (target.manifest, asset))
        for target in loaded.targets
        for asset in target.asset_manifests
        for owner in asset.owners
    )
    message = "`{}` is in no TEAM_CHANNELS entry of the platform's settings: it hears of no failed run or late asset"
    return [
        Problem(*_owners_written_at(manifest, asset), message.format(team))
        for team, (manifest, asset) in unmapped_teams(places, project.team_channels()).items()
    ]


def _owners_written_at(manifest: NopeInvocationTargetManifest, asset: NopeAssetManifest) -> tuple[str, int, int]:
    """Where an asset's owners come from: its manifest, its group's `_group.yaml`, or (line 0) the platform's default."""
    for path in ((*asset.yaml_path, "owners"), ("owners",)):
        if path in manifest.document.positions:
            return (manifest.relative_path, *manifest.position(*path))
    group = manifest.group_defaults
    if group.document is not None and "owners" in group.data:
        return (group.relative_path, *group.document.position(("owners",)))
    return (manifest.relative_path, 0, 0)


def _github_annotation(problem: Problem, level: str = "error") -> str:
    """A GitHub Actions workflow command: the problem (or warning) shows on the pull request's diff."""
    where = f"file={_escape_property(problem.path)}"
    if problem.line:
        where += f",line={problem.line},col={problem.column}"
    return f"::{level} {where},title=nope check::{_escape_data(problem.message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _list(args: argparse.Namespace, config: Config) -> int:
    loaded = config.project.load(config.defs_path)
    rows = [
        {
            "key": asset.key,
            "group": target.group,
            "target": target.manifest.target,
            "deps": asset.deps,
            "owners": asset.owners,
            "manifest": target.manifest.relative_path,
        }
        for target in loaded.targets
        for asset in target.asset_manifests
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(_table(rows, ["key", "group", "target", "deps", "owners"]))
    for problem in loaded.problems:
        print(problem, file=sys.stderr)
    return EXIT_PROBLEMS if loaded.problems else EXIT_OK


def _table(rows: Sequence[Mapping[str, object]], columns: list[str]) -> str:
    cells = [[", ".join(value) if isinstance(value, list) else str(value) for value in (row[c] for c in columns)] for row in rows]
    widths = [max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)]
    lines = [[column.upper() for column in columns], *cells]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def _new(args: argparse.Namespace, config: Config) -> int:
    """Write `<group>/<name>.yaml` and its script; keep them only if they pass the check."""
    group, name = _group_and_name(args.name)
    targets = config.project.invocation_target_map()
    if args.target not in targets:
        known = ", ".join(f"`{known}`" for known in targets)
        raise UsageError(f"unknown target `{args.target}`.{did_you_mean(args.target, targets)} Known targets: {known}")
    asset_names = [part.strip() for part in args.assets.split(",") if part.strip()]
    for asset_name in asset_names:
        _require_name(asset_name, "asset name")
    target_cls = targets[args.target]
    script_name = _script_name(args.script, name, target_cls, args.target)
    suffix = Path(script_name).suffix
    folder = config.defs_path / group
    manifest_path, script_path = folder / f"{name}.yaml", folder / script_name
    for path in (manifest_path, script_path, folder / f"{name}.yml"):
        if path.exists():
            raise UsageError(f"{path.relative_to(config.repo_root).as_posix()} already exists; pick another name or edit it")

    asset_keys = [default_asset_key(group, asset) for asset in asset_names or [name]]
    manifest = scaffold.manifest_text(
        manifest_path=manifest_path,
        repo_root=config.repo_root,
        target=args.target,
        script_name=script_path.name,
        asset_names=asset_names,
    )
    script = target_cls.scaffold_script(suffix=suffix, asset_keys=asset_keys, single=not asset_names)
    problems_before = set(config.project.load(config.defs_path).problems)
    created_folder = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    _create(script_path, script, config)
    try:
        _create(manifest_path, manifest, config)
    except UsageError:
        script_path.unlink()
        raise

    # The new files may clash with others (a key already taken): then nothing stays written.
    introduced = sorted(set(config.project.load(config.defs_path).problems) - problems_before, key=reading_order)
    if introduced:
        manifest_path.unlink()
        script_path.unlink()
        if created_folder:
            folder.rmdir()
        for problem in introduced:
            print(problem, file=sys.stderr)
        print("nope: nothing was written.", file=sys.stderr)
        return EXIT_PROBLEMS
    for path in (script_path, manifest_path):
        print(f"created {path.relative_to(config.repo_root).as_posix()}")
    return EXIT_OK


def _create(path: Path, text: str, config: Config) -> None:
    """Write a new file, never over one: another `nope new` of the same name may have won the race
    since the check above (mode `x` creates the file or fails, in one step)."""
    try:
        with path.open("x", encoding="utf-8") as new_file:
            new_file.write(text)
    except FileExistsError:
        raise UsageError(f"{path.relative_to(config.repo_root).as_posix()} already exists; pick another name or edit it") from None


def _script_name(requested: str | None, name: str, target_cls: type[NopeInvocationTarget], target: str) -> str:
    """`--script` checked against what the target runs, or `<name>` with its first extension."""
    suffixes = target_cls.script_suffixes()
    if requested is None:
        return f"{name}{suffixes[0]}"
    path = Path(requested)
    if path.name != requested or not path.stem or path.name.startswith((".", "_")):
        raise UsageError(f"--script `{requested}`: give a file name such as `{name}.sh`, written next to the manifest")
    if path.suffix.lower() not in {suffix.lower() for suffix in suffixes}:
        raise UsageError(f"--script `{requested}`: {script_suffix_rule(target, target_cls, path.suffix.lower())}")
    return requested


def _group_and_name(text: str) -> tuple[str, str]:
    parts = text.strip("/").split("/")
    if len(parts) != 2:
        raise UsageError(f"`{text}`: write <group>/<name>, e.g. sales/orders")
    group, name = parts
    _require_name(group, "group")
    _require_name(name, "name")
    return group, name


def _require_name(text: str, what: str) -> None:
    if not is_name(text):
        suggestion = name_suggestion(text) or "my_name"
        raise UsageError(f"{what} `{text}` must use letters, digits and underscores only (try `{suggestion}`)")


def _deploy(args: argparse.Namespace, config: Config) -> int:
    """Run every target's deploy (or teardown) hook; prints one line per manifest, exit 1 if any failed."""
    if args.teardown and not args.branch:
        raise UsageError("--teardown needs --branch: name the branch that was merged or deleted")
    target_map = config.project.invocation_target_map()
    try:
        if args.teardown:
            outcomes = teardown(config.defs_path, target_map, branch=args.branch)
        else:
            outcomes = deploy(config.defs_path, target_map, branch=args.branch)
    except DeployError as error:
        raise UsageError(str(error)) from None
    except NopeManifestError as error:
        for problem in error.problems:
            print(problem)
        print("nothing was deployed: fix the problems above first", file=sys.stderr)
        return EXIT_PROBLEMS
    for outcome in outcomes:
        idle = "nothing to remove" if args.teardown else "nothing to ship"
        what = f"FAILED: {outcome.error}" if outcome.error else (outcome.done or idle)
        print(f"{outcome.manifest} ({outcome.target}): {what}")
    failed = sum(1 for outcome in outcomes if outcome.error)
    print(f"{len(outcomes)} manifest(s), {failed} failed", file=sys.stderr if failed else sys.stdout)
    return EXIT_PROBLEMS if failed else EXIT_OK


def _diff(args: argparse.Namespace, config: Config) -> int:
    """Compare the base with the working tree (impact.py); exit 1 if the working tree has problems."""
    try:
        impact = branch_impact(
            config.repo_root, config.defs_path, config.project, base_ref=args.base, branch=repository_branch(config.project)
        )
    except RefusedBase as refused:
        raise UsageError(str(refused)) from None
    sys.stdout.write(impact_report.render(impact, args.format))
    return EXIT_PROBLEMS if impact.head_problems else EXIT_OK


def _schema(args: argparse.Namespace, config: Config) -> int:
    if args.group_defaults:
        text = render(group_defaults_schema())
    else:
        text = render(manifest_schema(config.project.invocation_target_map()))
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {args.output}: {error.strerror or error}") from None
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK
