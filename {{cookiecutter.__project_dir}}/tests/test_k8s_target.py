"""`target: k8s`: each script in a Kubernetes pod of its own, through dagster-k8s's Pipes client.

No cluster runs here: the pod is a stand-in (tests/container_stand_in.py), and the pod body is
built by dagster-k8s's own code (the template's tests validate it against Kubernetes' schemas).
"""

from __future__ import annotations

import dagster as dg
import pytest
from dagster_k8s.pipes import build_pod_body

from nope.cli import main as nope_main

from {{ cookiecutter.platform_package }} import {{ cookiecutter.__project_class }}
from {{ cookiecutter.platform_package }}.project import {{ cookiecutter.__project_class.removesuffix('Project') }}K8sInvocationTarget as K8sTarget

from conftest import environment_script, materialize
from container_stand_in import ContainerStandIn

SCRIPT = environment_script("NOPE_DATA_LOCATION")


@pytest.fixture(autouse=True)
def platform_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(K8sTarget, "image", "registry.example.com/acme:7")


def test_the_pod_gets_the_platform_defaults(make_defs, instance):
    defs_path = make_defs({"ml/train.py": SCRIPT, "ml/train.yaml": "target: k8s\n"})
    pods = ContainerStandIn(defs_path.parent)
    defs = {{ cookiecutter.__project_class }}.make_definitions(defs_path=defs_path, resources={"k8s_client": pods})
    assert next(iter(defs.resolve_all_asset_specs())).kinds == {"kubernetes"}
    assert materialize(defs, instance).success

    [call] = pods.calls
    assert call["image"] == "registry.example.com/acme:7"
    assert call["namespace"] == K8sTarget.namespace
    [container] = call["base_pod_spec"]["containers"]
    assert container["resources"] == K8sTarget.resources
    assert call["command"] == ["python", "/opt/dagster/app/defs/ml/train.py"]
    event = instance.get_latest_materialization_event(dg.AssetKey(["ml", "train"]))
    assert event.asset_materialization.metadata["environment"].value == str(defs_path.parent / "data/local")


def test_a_manifest_overrides_image_resources_and_namespace_and_a_claim_holds_the_data(make_defs, monkeypatch):
    monkeypatch.setenv("NOPE_ENVIRONMENT", "production")  # the claim holds production's data
    monkeypatch.setattr(K8sTarget, "data_volume_claim", "platform-data")
    monkeypatch.setattr(K8sTarget, "data_location", "/opt/dagster/data")
    defs_path = make_defs({
        "ml/train.py": SCRIPT,
        "ml/train.yaml": "target: k8s\nimage: trainer:5\nnamespace: ml\nresources: {limits: {memory: 8Gi}}\n",
    })
    [target] = {{ cookiecutter.__project_class }}.load(defs_path).targets
    assert isinstance(target, K8sTarget)
    settings = target.pod_settings()
    pod = build_pod_body("p", settings["image"], target.command(), {}, None, settings["base_pod_spec"])
    assert settings["namespace"] == "ml"
    [container] = pod.spec.containers
    assert container.image == "trainer:5"
    assert container.resources.limits == {"memory": "8Gi"}
    assert container.volume_mounts[0].mount_path == "/opt/dagster/data"
    assert pod.spec.volumes[0].persistent_volume_claim.claim_name == "platform-data"
    assert pod.spec.security_context.fs_group == 10001  # the image's user can write the claim


def test_nope_check_refuses_resources_and_namespaces_kubernetes_would(make_defs, capsys):
    defs_path = make_defs({
        "ml/train.py": SCRIPT,
        "ml/train.yaml": "target: k8s\nnamespace: Data_Science\nresources: {limits: {memory: lots}}\n",
    })
    assert nope_main(["check", str(defs_path)]) == 1
    output = capsys.readouterr().out
    assert "defs/ml/train.yaml:2:" in output and "defs/ml/train.yaml:3:" in output


def test_a_branch_never_gets_productions_claim(make_defs, monkeypatch):
    """The claim holds production's data: mounted in a branch's pod, the branch could write it."""
    monkeypatch.setenv("NOPE_ENVIRONMENT", "feature-x")
    monkeypatch.setattr(K8sTarget, "data_volume_claim", "platform-data")
    monkeypatch.setattr(K8sTarget, "data_location", "/opt/dagster/data")
    defs_path = make_defs({"ml/train.py": SCRIPT, "ml/train.yaml": "target: k8s\n"})
    [target] = {{ cookiecutter.__project_class }}.load(defs_path).targets
    assert isinstance(target, K8sTarget)
    with pytest.raises(dg.Failure, match="the claim `platform-data` holds production's data"):
        target.pod_settings()
