"""The happy path is quiet: no beta or preview warnings from the loader, no Pipes warning for valid scripts."""

from __future__ import annotations

import warnings

import dagster as dg

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }} as Project

from conftest import materialize


class LinkedProject(Project):
    @classmethod
    def git_repository(cls) -> tuple[str, str] | None:
        return ("https://github.com/acme/data-platform", "main")


SILENT = {"g/hello.py": "print('hello')\n", "g/hello.yaml": "target: subprocess\n"}


def test_loading_with_git_links_warns_about_nothing(make_defs):
    defs_path = make_defs(SILENT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        defs = LinkedProject.make_definitions(defs_path=defs_path)
    assert [str(warning.message) for warning in caught] == []
    key = dg.AssetKey(["g", "hello"])
    references = defs.resolve_assets_def(key).specs_by_key[key].metadata["dagster/code_references"]
    assert all(isinstance(link, dg.UrlCodeReference) for link in references.code_references)  # links kept


def test_a_script_that_never_speaks_pipes_succeeds_without_a_warning(make_defs, instance):
    defs = Project.make_definitions(defs_path=make_defs(SILENT))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = materialize(defs, instance)
    assert result.success
    assert [w for w in caught if issubclass(w.category, (dg.PreviewWarning, dg.BetaWarning))] == []
    logs = instance.all_logs(result.run_id)
    assert not [entry for entry in logs if entry.level >= 30 and "[pipes]" in (entry.user_message or "")]
    assert any("sent no Dagster Pipes messages" in (entry.user_message or "") for entry in logs)
