"""Reading `defs/` into invocation targets, collecting every problem on the way.

Nothing here imports Dagster: `nope check` and `make_definitions` share this code, so the
command line and the running platform can never disagree about what is valid.
"""

from __future__ import annotations

import functools
import gc
import os
import re
import stat
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from nope import models
from nope.discovery import MANIFEST_SUFFIXES, ManifestFile, find_manifests
from nope.graph_checks import check_graph
from nope.manifests import NO_GROUP_DEFAULTS, GroupDefaults
from nope.problems import Problem, did_you_mean, reading_order
from nope.safe_files import MAX_SCRIPT_BYTES, OUTSIDE_DEFS, RefusedFile, is_inside, refuse_unless_small_regular_file
from nope.target_checks import check_target
from nope.targets import NopeInvocationTarget, script_suffix_rule
from nope.validation_messages import describe
from nope.yaml_reader import YamlDocument, YamlProblem, read_yaml

TargetMap = dict[str, type[NopeInvocationTarget]]


@dataclass
class LoadedDefs:
    """The result of reading a `defs/` tree: the valid targets and every problem found."""

    targets: list[NopeInvocationTarget]
    problems: list[Problem]
    broken_manifests: dict[Path, list[Problem]] = field(default_factory=dict)
    """Manifest file -> its problems; lenient mode shows these in the UI instead of failing."""
    platform_problems: list[Problem] = field(default_factory=list)
    """Mistakes in the platform's own defaults (also first in `problems`): they touch every asset,
    so `nope check` reports them whatever paths it is given."""


class _ManifestProblems(Exception):
    """The manifest has these problems (at least one)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems


class _GroupFileBroken(Exception):
    """The manifest's group defaults (`_group.yaml`) are broken: reported once, on that file."""


def load_defs(
    defs_path: Path,
    target_map: TargetMap,
    *,
    allow_keys_outside_group: bool = False,
    groups: Collection[str] | None = None,
) -> LoadedDefs:
    """Read every manifest below `defs_path` and check the graph they form together.

    `allow_keys_outside_group`: whether a `key:` may name an asset of another group (see
    `NopeProject.allow_keys_outside_group`). `groups`: read only these groups (see run_scope.py).
    """
    defs_path = Path(defs_path).absolute()
    if not defs_path.is_dir():
        problem = Problem(defs_path.name or str(defs_path), 0, 0, "the defs folder does not exist")
        return LoadedDefs([], [problem], {defs_path: [problem]})
    reader = _ManifestReader(defs_path, target_map, allow_keys_outside_group=allow_keys_outside_group)
    targets: list[NopeInvocationTarget] = []
    broken: dict[Path, list[Problem]] = {}
    found = find_manifests(defs_path, groups)
    broken.update(found.broken_folders)
    with _cyclic_gc_paused():
        for manifest_file in found.manifests:
            try:
                targets.append(reader.read(manifest_file))
            except _ManifestProblems as failure:
                broken[manifest_file.path] = failure.problems
            except _GroupFileBroken:
                pass  # `reader.broken_group_files` holds the group file's problems, reported below
            except YamlProblem as failure:
                broken[manifest_file.path] = [failure.problem]
    broken.update(reader.broken_group_files)

    # A manifest with graph problems (unknown deps, cycles, duplicates) is broken too.
    # A dep on the asset a broken manifest would define is a consequence, not a second mistake.
    unreadable = {
        models.default_asset_key(path.relative_to(defs_path).parts[0], path.stem): path.relative_to(defs_path.parent).as_posix()
        for path in broken
        if len(path.relative_to(defs_path).parts) > 1
    }
    graph_problems = check_graph(targets, unreadable, groups=groups)
    for target in targets:
        own = graph_problems.get(target.manifest_path)
        if own:
            broken[target.manifest_path] = own
    valid = [target for target in targets if target.manifest_path not in broken]
    problems = [problem for file_problems in broken.values() for problem in file_problems]
    return LoadedDefs(valid, sorted(problems, key=reading_order), dict(sorted(broken.items())))


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while manifests are read.

    What is read is kept (as definitions, or until `nope check` ends), so the collector
    would walk those objects again and again and free nothing (about 5% of checking 10,000
    manifests, measured in alternating runs). Reference counting still frees everything else.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _ManifestReader:
    """Turns one manifest file into a target instance, or raises with all its problems.

    Paths are handled as strings where thousands of manifests pass through (shown paths,
    folder lookups, the inside-defs/ check): `pathlib` parses every path it builds, and that
    parsing was a fifth of `nope check`. Each manifest still gets `Path`s for its file and
    script, which targets and platform code use.
    """

    def __init__(self, defs_path: Path, target_map: TargetMap, *, allow_keys_outside_group: bool):
        self.defs_path = defs_path
        self.allow_keys_outside_group = allow_keys_outside_group
        self.resolved_defs_path = os.path.realpath(defs_path)
        self.repo_root = defs_path.parent
        self.target_map = target_map
        self.installing_targets = [name for name, target_cls in target_map.items() if target_cls.installs_script_dependencies]
        self._names_by_stem: dict[str, dict[str, list[str]]] = {}
        self._resolved_folders: dict[str, str] = {}
        self._group_defaults: dict[str, GroupDefaults | None] = {}
        self.broken_group_files: dict[Path, list[Problem]] = {}

    def read(self, manifest_file: ManifestFile) -> NopeInvocationTarget:
        """The manifest as a target; raises `_ManifestProblems` with every problem found in it.

        The phases, each returning what it finds: where the file is (its group and asset name),
        what it holds (YAML, read safely), whether that is a valid manifest of its target, its
        script, then the target built from it and checked as a whole.
        """
        path, below_defs = manifest_file
        relative_path = "/".join((self.defs_path.name, *below_defs))
        group, stem, problems = self._locate(below_defs, relative_path)
        data, document = self._parse(path, relative_path, problems)
        group_defaults = self._defaults_of(group)
        values, target_cls, problems = self._validate(data, group_defaults, document, relative_path, problems)
        asset_names = list(values.assets) if values.assets else [stem]
        if not values.assets and not models.is_name(stem):
            problems.append(
                Problem(relative_path, 1, 1, f"the file name `{_visible(stem)}` names the asset, so it must be {_name_rule(stem)}")
            )
        script_path, script_problems = self._script_path(
            values, path=path, stem=stem, target_cls=target_cls, document=document, relative_path=relative_path
        )
        problems += script_problems + _check_problems(values, asset_names, document, relative_path)
        if problems:
            raise _ManifestProblems(problems)
        target = self._target(
            target_cls, values, asset_names, path=path, group=group, script_path=script_path, document=document,
            relative_path=relative_path, group_defaults=group_defaults,
        )  # fmt: skip
        problems = check_target(
            target, allow_keys_outside_group=self.allow_keys_outside_group, installing_targets=self.installing_targets
        )
        if problems:
            raise _ManifestProblems(problems)
        return target

    def _locate(self, below_defs: tuple[str, ...], relative_path: str) -> tuple[str, str, list[Problem]]:
        """The manifest's group and file stem, and what is wrong with where it lies.

        A manifest outside any group, or without a manifest suffix, is not read at all.
        """
        if len(below_defs) == 1:
            raise _ManifestProblems(
                [Problem(relative_path, 0, 0, "manifests live in a group folder: move it to defs/<group>/")]
            )
        group = below_defs[0]
        stem, suffix = os.path.splitext(below_defs[-1])
        if suffix not in MANIFEST_SUFFIXES:
            raise _ManifestProblems(
                [Problem(relative_path, 0, 0, f"rename it to `{stem}{suffix.lower()}`: manifests end in .yaml or .yml, lowercase")]
            )
        problems = [
            Problem(relative_path, 0, 0, f"the folder name `{_visible(folder)}` is not {_name_rule(folder)}")
            for folder in below_defs[:-1]
            if not models.is_name(folder)
        ]
        if group == models.RESERVED_GROUP:
            problems.append(Problem(relative_path, 0, 0, f"the group name `{group}` is reserved for lenient mode's placeholders; rename the folder"))
        return group, stem, problems

    def _parse(self, path: Path, relative_path: str, problems: list[Problem]) -> tuple[dict, YamlDocument]:
        """The file's `key: value` mapping; an empty file or anything else is a problem with the earlier ones."""
        data, document = read_yaml(path, relative_path, real_root=self.resolved_defs_path)
        if data is None:
            raise _ManifestProblems(
                [*problems, Problem(relative_path, 1, 1, "is empty; a manifest needs at least `target: subprocess`")]
            )
        if not isinstance(data, dict):
            raise _ManifestProblems(
                [*problems, Problem(relative_path, 1, 1, "must be a mapping of `key: value` lines, e.g. `target: subprocess`")]
            )
        return data, document

    def _validate(
        self, data: dict, group_defaults: GroupDefaults, document: YamlDocument, relative_path: str, problems: list[Problem]
    ) -> tuple[models.ManifestFields, type[NopeInvocationTarget], list[Problem]]:
        """The manifest's values over its group's defaults, validated by its target's model."""
        data, target_cls = self._pick_target(_with_group_defaults(data, group_defaults.data), document, relative_path)
        model = models.manifest_model(
            data["target"], target_cls.InvocationTargetManifest.Model, target_cls.AssetManifest.Model
        )
        try:
            return model.model_validate(data), target_cls, problems
        except ValidationError as error:
            for detail in error.errors():
                loc, message = describe(detail, model)
                problems.append(Problem(relative_path, *document.position(loc), message))
            raise _ManifestProblems(problems) from None

    def _target(
        self,
        target_cls: type[NopeInvocationTarget],
        values: models.ManifestFields,
        asset_names: list[str],
        *,
        path: Path,
        group: str,
        script_path: Path,
        document: YamlDocument,
        relative_path: str,
        group_defaults: GroupDefaults,
    ) -> NopeInvocationTarget:
        """The target, its manifest object and one asset manifest per asset name."""
        manifest = target_cls.InvocationTargetManifest(
            values=values,
            path=path,
            defs_path=self.defs_path,
            group=group,
            script_path=script_path,
            document=document,
            relative_path=relative_path,
            group_defaults=group_defaults,
        )
        empty = _unset_asset_values(target_cls.AssetManifest.Model)
        asset_manifests = [
            target_cls.AssetManifest(
                name=name,
                values=values.assets[name] if values.assets else empty,
                target_manifest=manifest,
            )
            for name in asset_names
        ]
        return target_cls(manifest, asset_manifests)

    def _pick_target(
        self, data: dict, document: YamlDocument, relative_path: str
    ) -> tuple[dict, type[NopeInvocationTarget]]:
        """Find the target class the manifest names (`target:`, or the older spelling `kind:`)."""
        known = ", ".join(f"`{name}`" for name in self.target_map)
        if "target" in data and "kind" in data:
            line, column = document.position(("kind",))
            raise _ManifestProblems([Problem(relative_path, line, column, "has both `target:` and `kind:`; keep `target:`")])
        key = "kind" if "kind" in data else "target"
        if key not in data:
            raise _ManifestProblems(
                [Problem(relative_path, 1, 1, f"does not say how to run its script: add `target:` (one of {known})")]
            )
        name = data[key]
        if name is None:
            raise _ManifestProblems([Problem(relative_path, *document.position((key,)), f"`{key}:` is empty; write one of {known}")])
        if not isinstance(name, str) or name not in self.target_map:
            hint = did_you_mean(str(name), self.target_map)
            raise _ManifestProblems(
                [Problem(relative_path, *document.position((key,)), f"unknown target `{name}`.{hint} Known targets: {known}")]
            )
        if key == "kind":
            data = {("target" if k == "kind" else k): v for k, v in data.items()}
        return data, self.target_map[name]

    def _script_path(
        self,
        values: models.TargetFields,
        *,
        path: Path,
        stem: str,
        target_cls: type[NopeInvocationTarget],
        document: YamlDocument,
        relative_path: str,
    ) -> tuple[Path, list[Problem]]:
        """The script, and its problems: `script:` relative to the manifest, or the sibling named like it."""
        suffixes = target_cls.script_suffixes()
        if values.script is None:
            return self._sibling_script(
                path=path, stem=stem, rule=script_suffix_rule(values.target, target_cls), suffixes=suffixes,
                relative_path=relative_path,
            )  # fmt: skip

        def at_script(message: str) -> Problem:  # the position is looked up only for a problem
            return Problem(relative_path, *document.position(("script",)), message)

        if not values.script:
            return path, [at_script("`script:` is empty; name the script, or remove the line")]
        script = Path(values.script)
        if script.is_absolute():
            return path, [at_script(f"script `{values.script}` must be a path relative to the manifest")]
        candidate = path.parent / script
        resolved, status = self._resolve(str(candidate))
        # A link that leads nowhere (or to itself) exists, and is reported by why it cannot be read.
        if is_inside(resolved, self.resolved_defs_path) and status is None and not os.path.lexists(candidate):
            siblings = [name for names in self._siblings(os.path.dirname(path)).values() for name in names]
            forward_slashes = values.script.replace("\\", "/")
            if forward_slashes != values.script:
                hint = f" Write folders with `/`: `{forward_slashes}`."
            else:
                hint = did_you_mean(script.name, siblings)
            return path, [at_script(f"script `{values.script}` does not exist.{hint}")]
        problems = []
        if status is not None and stat.S_ISREG(status.st_mode) and candidate.suffix.lower() not in suffixes:
            rule = script_suffix_rule(values.target, target_cls, candidate.suffix.lower())
            problems.append(at_script(f"script `{values.script}`: {rule}"))
        script_path, refused = self._inside_defs(candidate, values.script, at_script, resolved=(resolved, status))
        return script_path, problems + refused

    def _sibling_script(
        self, *, path: Path, stem: str, rule: str, suffixes: tuple[str, ...], relative_path: str
    ) -> tuple[Path, list[Problem]]:
        """The file next to the manifest with its stem and a suffix the target runs, and its problems.

        `rule` says which suffixes the target runs, for when only files of other suffixes are there.
        """
        named_alike = self._siblings(os.path.dirname(path)).get(stem, [])
        candidates = [name for name in named_alike if os.path.splitext(name)[1].lower() in suffixes]
        if len(candidates) == 1:
            return self._inside_defs(path.parent / candidates[0], candidates[0], functools.partial(Problem, relative_path, 1, 1))
        if candidates:
            return path, [Problem(relative_path, 1, 1, f"several scripts could be meant ({', '.join(candidates)}); set `script:`")]
        wanted = " or ".join(f"`{stem}{suffix}`" for suffix in suffixes)
        others = [f"`{name}`" for name in named_alike if os.path.splitext(name)[1].lower() not in ("", *MANIFEST_SUFFIXES)]
        if others:
            return path, [
                Problem(relative_path, 1, 1, f"has no script it runs: {rule}, so {', '.join(others)} next to it is not run; add {wanted}, or set `script:`")
            ]
        return path, [Problem(relative_path, 1, 1, f"has no script: add {wanted} next to it, or set `script:`")]

    def _inside_defs(
        self,
        candidate: Path,
        written: str,
        problem: Callable[[str], Problem],
        *,
        resolved: tuple[str, os.stat_result | None] | None = None,
    ) -> tuple[Path, list[Problem]]:
        """The rule every file under defs/ follows (`safe_files`): inside defs/ also through
        symlinks, as only defs/ is reviewed as practitioners' code; a regular file; small enough
        to be read whole for its code version and description."""
        real_path, status = resolved or self._resolve(str(candidate))
        try:
            if not is_inside(real_path, self.resolved_defs_path):
                raise RefusedFile(OUTSIDE_DEFS)
            if status is None:
                raise RefusedFile(f"cannot be read: {_stat_error(real_path)}")
            refuse_unless_small_regular_file(status, MAX_SCRIPT_BYTES)
        except RefusedFile as refused:
            return candidate.absolute(), [problem(f"script `{written}` {refused.reason}")]
        return candidate.absolute(), []

    def _resolve(self, candidate: str) -> tuple[str, os.stat_result | None]:
        """`os.path.realpath(candidate)` and the status of what it points at (None: nothing),
        cheaply: each folder is resolved once, and the file itself only when it is a symlink
        (resolving every script of a large tree was a tenth of the load); one `lstat` answers
        both otherwise."""
        folder, name = os.path.split(candidate)
        if folder not in self._resolved_folders:
            self._resolved_folders[folder] = os.path.realpath(folder)
        try:
            status = os.lstat(candidate)
        except OSError:  # missing: let realpath say where it would point
            return os.path.realpath(candidate), None
        if stat.S_ISLNK(status.st_mode):
            resolved = os.path.realpath(candidate)
            try:
                return resolved, os.stat(resolved)
            except OSError:
                return resolved, None
        return os.path.join(self._resolved_folders[folder], name), status

    def _siblings(self, folder: str) -> dict[str, list[str]]:
        """File names in a folder by stem, read once per folder: a group of thousands of
        manifests then finds each one's script by lookup, not by scanning the folder."""
        if folder not in self._names_by_stem:
            by_stem: dict[str, list[str]] = {}
            try:
                names = os.listdir(folder)
            except OSError:  # removed since it was walked: its manifests find no script, which is their problem
                names = []
            for name in sorted(names):
                by_stem.setdefault(os.path.splitext(name)[0], []).append(name)
            self._names_by_stem[folder] = by_stem
        return self._names_by_stem[folder]

    def _defaults_of(self, group: str) -> GroupDefaults:
        """The group's `_group.yaml` (only the keys it sets), read once; `_GroupFileBroken` if it is broken."""
        if group not in self._group_defaults:
            self._group_defaults[group] = self._read_group_defaults(self.defs_path / group)
        defaults = self._group_defaults[group]
        if defaults is None:
            raise _GroupFileBroken
        return defaults

    def _read_group_defaults(self, group_folder: Path) -> GroupDefaults | None:
        # `lexists`, not `is_file`: a `_group.yaml` that is a FIFO or a broken link is reported, not skipped.
        path = next((group_folder / name for name in GROUP_FILES if os.path.lexists(group_folder / name)), None)
        if path is None:
            return NO_GROUP_DEFAULTS
        relative_path = path.relative_to(self.repo_root).as_posix()
        try:
            data, document = read_yaml(path, relative_path, real_root=self.resolved_defs_path)
        except YamlProblem as failure:
            self.broken_group_files[path] = [failure.problem]
            return None
        if data is None:
            return NO_GROUP_DEFAULTS
        if not isinstance(data, dict):
            self.broken_group_files[path] = [Problem(relative_path, 1, 1, "must be a mapping of `key: value` lines")]
            return None
        try:
            models.GroupDefaults.model_validate(data)
        except ValidationError as error:
            self.broken_group_files[path] = [
                Problem(relative_path, *document.position(loc), message)
                for loc, message in (describe(detail, models.GroupDefaults) for detail in error.errors())
            ]
            return None
        return GroupDefaults(data, relative_path, document)


@functools.cache
def _unset_asset_values(model: type[models.AssetFields]) -> models.AssetFields:
    """The values of an asset that sets none of its own, one instance per model class.

    Every single-asset manifest has such an asset; sharing one instance keeps a tree of
    thousands of manifests from holding thousands of identical models (nothing changes them:
    the asset's properties fall back to its manifest's values).
    """
    return model()


GROUP_FILES = ("_group.yaml", "_group.yml")

# Mappings that group defaults and manifests merge key by key; every other key is replaced.
MERGED_MAPPINGS = ("tags", "metadata", "env")


def _with_group_defaults(data: dict, defaults: dict) -> dict:
    """The manifest's keys over its group's defaults (`tags`, `metadata`, `env` merged)."""
    merged = {key: value for key, value in defaults.items() if not (key == "target" and "kind" in data)}
    for key, value in data.items():
        if key in MERGED_MAPPINGS and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _check_problems(values: models.TargetFields, asset_names: list[str], document: YamlDocument, relative_path: str) -> list[Problem]:
    """Each check names an asset of this manifest (it may leave it out when there is one)."""
    problems = []
    seen: set[tuple[str, str]] = set()
    for index, check in enumerate(values.checks):
        asset = check.asset or (asset_names[0] if len(asset_names) == 1 else None)
        if asset is None:
            problems.append(
                Problem(relative_path, *document.position(("checks", index)), f"check `{check.name}`: say which asset it checks with `asset:` (one of {', '.join(asset_names)})")
            )
        elif asset not in asset_names:
            problems.append(
                Problem(relative_path, *document.position(("checks", index, "asset")), f"check `{check.name}`: `{asset}` is not an asset of this manifest.{did_you_mean(asset, asset_names)}")
            )
        elif (asset, check.name) in seen:
            problems.append(
                Problem(relative_path, *document.position(("checks", index)), f"check `{check.name}` on `{asset}` is declared twice")
            )
        else:
            seen.add((asset, check.name))
    return problems


def _stat_error(path: str) -> str:
    """Why `path` cannot be looked at: "No such file or directory", "Too many levels of symbolic links"."""
    try:
        os.stat(path)
    except OSError as error:
        return error.strerror or str(error)
    return "it changed while it was read"


def _visible(name: str) -> str:
    """`name` with control characters written as escapes (`g\\n`): a problem is one line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda match: repr(match.group())[1:-1], name)


def _name_rule(name: str) -> str:
    suggestion = models.name_suggestion(name) or "my_name"
    return f"made of letters, digits and underscores only (try `{suggestion}`)"
