"""`target: docker`: each script in a container of its own, through dagster-docker's Pipes client.

The container is a stand-in here (tests/container_stand_in.py); the template's tests run this
target in real Docker containers.
"""

from __future__ import annotations

import dagster as dg
import pytest

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}
from {{ cookiecutter.platform_package }}.project import {{ cookiecutter.__project_class.removesuffix('Project') }}DockerInvocationTarget as DockerTarget

from conftest import environment_script, materialize
from container_stand_in import ContainerStandIn

SCRIPT = environment_script("NOPE_DATA_LOCATION")


@pytest.fixture
def docker_defs(make_defs, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(DockerTarget, "image", "acme-platform:1")
    return make_defs({"geo/tiles.py": SCRIPT, "geo/tiles.yaml": "target: docker\n"})


def test_the_script_runs_from_the_platform_image_and_reports_through_pipes(docker_defs, instance):
    containers = ContainerStandIn(docker_defs.parent)
    defs = {{ cookiecutter.__project_class }}.make_definitions(defs_path=docker_defs, resources={"docker_client": containers})
    assert next(iter(defs.resolve_all_asset_specs())).kinds == {"docker"}
    assert materialize(defs, instance).success

    [call] = containers.calls
    assert call["image"] == "acme-platform:1"
    assert call["command"] == ["python", "/opt/dagster/app/defs/geo/tiles.py"]
    data = str(docker_defs.parent / "data/local")  # this environment's own folder, outside git: `local`
    assert call["container_kwargs"] == {"working_dir": "/opt/dagster/app", "volumes": [f"{data}:{data}"]}
    assert "PATH" not in call["env"] and "HOME" not in call["env"]  # the image's own, not the platform's
    event = instance.get_latest_materialization_event(dg.AssetKey(["geo", "tiles"]))
    assert event.asset_materialization.metadata["environment"].value == data


def test_a_manifest_names_its_own_image_and_a_volume_holds_the_data(make_defs, instance, monkeypatch):
    monkeypatch.setenv("NOPE_ENVIRONMENT", "production")  # the volume holds production's data
    monkeypatch.setattr(DockerTarget, "data_volume", "platform-data")
    monkeypatch.setattr(DockerTarget, "data_location", "/opt/dagster/data")
    defs_path = make_defs({"geo/tiles.py": SCRIPT, "geo/tiles.yaml": "target: docker\nimage: geo-tools:2\n"})
    [target] = {{ cookiecutter.__project_class }}.load(defs_path).targets
    assert isinstance(target, DockerTarget)
    assert target.run_image() == "geo-tools:2"
    assert target.container_kwargs()["volumes"] == ["platform-data:/opt/dagster/data"]


def test_without_an_image_the_step_fails_saying_where_to_set_one(docker_defs, instance, monkeypatch):
    monkeypatch.setattr(DockerTarget, "image", None)
    defs = {{ cookiecutter.__project_class }}.make_definitions(
        defs_path=docker_defs, resources={"docker_client": ContainerStandIn(docker_defs.parent)}
    )
    result = materialize(defs, instance)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None and "names an image" in error.message


def test_a_branch_never_gets_productions_data_volume(make_defs, monkeypatch):
    """The named volume holds production's data: mounted in a branch's container, the branch could write it."""
    monkeypatch.setenv("NOPE_ENVIRONMENT", "feature-x")
    monkeypatch.setattr(DockerTarget, "data_volume", "platform-data")
    monkeypatch.setattr(DockerTarget, "data_location", "/opt/dagster/data")
    defs_path = make_defs({"geo/tiles.py": SCRIPT, "geo/tiles.yaml": "target: docker\n"})
    [target] = {{ cookiecutter.__project_class }}.load(defs_path).targets
    assert isinstance(target, DockerTarget)
    with pytest.raises(dg.Failure, match="the data volume `platform-data` holds production's data"):
        target.container_kwargs()
    monkeypatch.setattr(DockerTarget, "data_volume", None)
    own = str(defs_path.parent / "data/feature-x")
    assert target.container_kwargs()["volumes"] == [f"{own}:{own}"]  # its own folder, nothing of production's
