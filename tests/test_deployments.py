"""`deployment=docker|kubernetes`: the image, compose, the instances' launchers and the Helm values,
checked without a cluster (tests/test_docker.py runs the Docker deployment for real).

No Kubernetes runs here. What can be checked statically is: the Job dagster-k8s builds for a run
from these values, and the pod the `k8s` target submits, against Kubernetes' own schemas
(kubernetes-validate); and every key of values.yaml against the key paths of the chart's
values.schema.json. The chart's files are not copied into the project: the paths are listed below.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import dagster as dg
import kubernetes
import kubernetes_validate
import pytest
import yaml
from conftest import bake, bake_refused
from user_shell import run_as_user, user_env

HADOLINT = Path(sys.executable).with_name("hadolint")  # the template's own linter (requirements/test.in)
KUBERNETES_VERSION = "1.33.0"  # a version kubernetes-validate ships schemas for; Jobs and Pods are stable v1

# Key paths of Dagster's Helm chart values (helm/dagster/values.schema.json of dagster-io/dagster,
# stored version bdb8547fab497826eeec292bc160b549a0a329ef), limited to the parts values.yaml sets.
# `[]` is an item of a list. OPEN paths hold Kubernetes objects or free-form maps the chart passes
# through: their insides are checked by kubernetes-validate on the Job below, not here.
CHART_KEY_PATHS = {
    "global", "global.postgresqlSecretName", "global.dagsterHome", "global.serviceAccountName",
    "generatePostgresqlPasswordSecret",
    "postgresql", "postgresql.enabled", "postgresql.postgresqlHost", "postgresql.postgresqlUsername",
    "postgresql.postgresqlPassword", "postgresql.postgresqlDatabase", "postgresql.postgresqlScheme",
    "postgresql.service", "postgresql.service.port",
    "dagster-user-deployments", "dagster-user-deployments.enabled", "dagster-user-deployments.enableSubchart",
    "dagster-user-deployments.deployments", "dagster-user-deployments.deployments[]",
    "dagster-user-deployments.deployments[].name", "dagster-user-deployments.deployments[].image",
    "dagster-user-deployments.deployments[].image.repository", "dagster-user-deployments.deployments[].image.tag",
    "dagster-user-deployments.deployments[].image.pullPolicy", "dagster-user-deployments.deployments[].codeServerArgs",
    "dagster-user-deployments.deployments[].dagsterApiGrpcArgs", "dagster-user-deployments.deployments[].port",
    "dagster-user-deployments.deployments[].includeConfigInLaunchedRuns",
    "dagster-user-deployments.deployments[].includeConfigInLaunchedRuns.enabled",
    "runLauncher", "runLauncher.type", "runLauncher.config", "runLauncher.config.k8sRunLauncher",
    "runLauncher.config.k8sRunLauncher.imagePullPolicy", "runLauncher.config.k8sRunLauncher.envVars",
    "runLauncher.config.k8sRunLauncher.jobNamespace", "runLauncher.config.k8sRunLauncher.runK8sConfig",
    "migrate", "migrate.enabled",
    "dagsterDaemon", "telemetry", "telemetry.enabled", "computeLogManager", "computeLogManager.type",
}  # fmt: skip
OPEN_KEY_PATHS = {
    "postgresql.postgresqlParams",
    "dagster-user-deployments.deployments[].env",
    "dagster-user-deployments.deployments[].resources",
    "dagster-user-deployments.deployments[].podSecurityContext",
    "runLauncher.config.k8sRunLauncher.volumes",
    "runLauncher.config.k8sRunLauncher.volumeMounts",
    "runLauncher.config.k8sRunLauncher.resources",
    "runLauncher.config.k8sRunLauncher.runK8sConfig.podSpecConfig",
    "dagsterDaemon.runMonitoring",
    "computeLogManager.config",
}
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}
RUN_LAUNCHER_TYPES = {"CeleryK8sRunLauncher", "K8sRunLauncher", "CustomRunLauncher"}

DEPLOYMENT_FILES = {
    "docker": ["Dockerfile", ".dockerignore", "compose.yaml", "deploy/docker/dagster.yaml", "deploy/docker/workspace.yaml"],
    "kubernetes": ["Dockerfile", ".dockerignore", "deploy/helm/values.yaml"],
}


@pytest.fixture(scope="module")
def docker_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("docker"), deployment="docker", dagster_storage="postgres")


@pytest.fixture(scope="module")
def kubernetes_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("kubernetes"), deployment="kubernetes", dagster_storage="postgres", extra_targets="k8s")


def dependencies(repo: Path) -> str:
    return " ".join(tomllib.loads((repo / "pyproject.toml").read_text())["project"]["dependencies"])


def test_local_leaves_no_image_deployment_or_dependency_behind(default_repo: Path):
    for files in DEPLOYMENT_FILES.values():
        for relative in files:
            assert not (default_repo / relative).exists(), relative
    assert not (default_repo / "deploy").exists()
    assert "dagster-docker" not in dependencies(default_repo) and "dagster-k8s" not in dependencies(default_repo)
    settings = yaml.safe_load((default_repo / "dagster.yaml").read_text())
    assert settings["run_launcher"]["class"] == "NopeRunLauncher"
    docs = "".join(page.read_text() for page in (default_repo / "docs").rglob("*.md"))
    assert "docker compose" not in docs and "helm upgrade" not in docs


@pytest.mark.parametrize("deployment", ["docker", "kubernetes"])
def test_each_deployment_ships_only_its_own_files(tmp_path: Path, deployment: str):
    repo = bake(tmp_path, deployment=deployment, dagster_storage="postgres", extra_targets="none")
    other = "kubernetes" if deployment == "docker" else "docker"
    for relative in DEPLOYMENT_FILES[deployment]:
        assert (repo / relative).is_file(), relative
    for relative in set(DEPLOYMENT_FILES[other]) - set(DEPLOYMENT_FILES[deployment]):
        assert not (repo / relative).exists(), relative
    wanted, unwanted = ("dagster-docker", "dagster-k8s") if deployment == "docker" else ("dagster-k8s", "dagster-docker")
    assert f"{wanted}==" in dependencies(repo) and unwanted not in dependencies(repo)
    assert wanted in {package["name"] for package in tomllib.loads((repo / "uv.lock").read_text())["package"]}
    docs = "".join(page.read_text() for page in (repo / "docs").rglob("*.md"))
    assert ("docker compose up" in docs) == (deployment == "docker")
    assert ("helm upgrade --install" in docs) == (deployment == "kubernetes")


def test_the_dockerfile_lints_clean_and_runs_the_code_server_unprivileged(docker_repo: Path):
    lint = subprocess.run([str(HADOLINT), "Dockerfile"], cwd=docker_repo, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    dockerfile = (docker_repo / "Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11." in dockerfile  # pinned, the locks' Python minor version
    assert "FROM ${BASE_IMAGE}" in dockerfile
    assert "--require-hashes -r tools.lock" in dockerfile and "sync --locked --no-dev" in dockerfile
    assert "NOPE_LENIENT=1" in dockerfile
    [user] = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert not user.startswith(("0", "root")), user
    assert '"dagster", "code-server", "start"' in dockerfile and '"definitions.py"' in dockerfile
    ignored = (docker_repo / ".dockerignore").read_text().split()
    assert {".venv", ".dagster_home", "data", ".git"} <= set(ignored)


def test_compose_runs_postgres_the_code_location_the_webserver_and_the_daemon(docker_repo: Path):
    compose = yaml.safe_load((docker_repo / "compose.yaml").read_text())
    assert set(compose["services"]) == {"postgres", "code_location", "webserver", "daemon"}
    code_location = compose["services"]["code_location"]
    assert code_location["environment"]["DAGSTER_CURRENT_IMAGE"] == code_location["image"]
    for service in ("webserver", "daemon"):
        assert compose["services"][service]["image"] == code_location["image"]
        assert "/var/run/docker.sock:/var/run/docker.sock" in compose["services"][service]["volumes"]
    network = compose["networks"]["dagster"]["name"]
    instance = yaml.safe_load((docker_repo / "deploy/docker/dagster.yaml").read_text())
    assert instance["run_launcher"]["config"]["network"] == network
    data_volume = compose["volumes"]["data"]["name"]
    assert f"{data_volume}:/opt/dagster/data" in instance["run_launcher"]["config"]["container_kwargs"]["volumes"]
    # This is production: every service, and each run container, says so to scripts and targets.
    for service in ("code_location", "webserver", "daemon"):
        assert compose["services"][service]["environment"]["NOPE_ENVIRONMENT"] == "production", service
    assert "NOPE_ENVIRONMENT" in instance["run_launcher"]["config"]["env_vars"]
    workspace = yaml.safe_load((docker_repo / "deploy/docker/workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["host"] == "code_location"


def test_the_docker_instance_launches_each_run_in_a_container_and_monitors_it(docker_repo: Path):
    from dagster_docker import DockerRunLauncher

    instance_settings = yaml.safe_load((docker_repo / "deploy/docker/dagster.yaml").read_text())
    assert "NopeRunLauncher" not in (docker_repo / "deploy/docker/dagster.yaml").read_text()
    overrides = {key: instance_settings[key] for key in ("run_launcher", "run_monitoring", "run_coordinator")}
    with dg.instance_for_test(overrides=overrides) as instance:
        assert isinstance(instance.run_launcher, DockerRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health  # the launcher's own health check
        assert instance.run_monitoring_enabled
    # The laptop's instance (`make dev`) keeps the platform's launcher.
    assert yaml.safe_load((docker_repo / "dagster.yaml").read_text())["run_launcher"]["class"] == "NopeRunLauncher"


def key_paths(value: object, prefix: str = "") -> list[str]:
    """Every key path of a values document, not descending into OPEN_KEY_PATHS."""
    paths = []
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.append(path)
            if path not in OPEN_KEY_PATHS:
                paths += key_paths(inner, path)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                paths += key_paths(item, f"{prefix}[]")
    return paths


def test_helm_values_use_only_the_charts_keys(kubernetes_repo: Path):
    values = yaml.safe_load((kubernetes_repo / "deploy/helm/values.yaml").read_text())
    unknown = [path for path in key_paths(values) if path not in CHART_KEY_PATHS | OPEN_KEY_PATHS]
    assert unknown == []
    assert values["runLauncher"]["type"] in RUN_LAUNCHER_TYPES and values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlHost"] and values["postgresql"]["postgresqlDatabase"]
    assert values["global"]["postgresqlSecretName"] and values["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in values["postgresql"]  # the secret holds it, never this file
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert values["dagster-user-deployments"]["enabled"] is True
    assert deployment["image"]["pullPolicy"] in PULL_POLICIES
    assert deployment["codeServerArgs"][:2] == ["--python-file", "definitions.py"]
    assert deployment["env"]["NOPE_LENIENT"] == "1"
    assert deployment["env"]["NOPE_ENVIRONMENT"] == "production"  # scripts and targets run as production


def validated(resource: object) -> dict:
    """A kubernetes client object as the API server receives it, after Kubernetes' schema accepted it."""
    body = kubernetes.client.ApiClient().sanitize_for_serialization(resource)
    kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
    return body


def run_in_the_repos_venv(repo: Path, home: Path, script: str, settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`script`, run by the repository's own `.venv` as `make install` (typed in a new user's shell)
    builds it from its lock: the baked platform is installed there, dagster-k8s included, or not.
    `settings` are the NOPE_* variables an operator sets where Dagster runs."""
    run_as_user("make install", repo, home)
    python = str(repo / ".venv/bin/python")
    return subprocess.run([python, "-c", script], cwd=repo, env=user_env(home, settings), capture_output=True, text=True)


def test_the_run_job_dagster_k8s_builds_from_the_values_is_valid_kubernetes(kubernetes_repo: Path):
    from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job

    values = yaml.safe_load((kubernetes_repo / "deploy/helm/values.yaml").read_text())
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    [deployment] = values["dagster-user-deployments"]["deployments"]
    job_config = DagsterK8sJobConfig(
        job_image=f"{deployment['image']['repository']}:{deployment['image']['tag']}",
        dagster_home="/opt/dagster/dagster_home",
        image_pull_policy=launcher["imagePullPolicy"],
        instance_config_map="dagster-instance",
        postgres_password_secret=values["global"]["postgresqlSecretName"],
        # includeConfigInLaunchedRuns: the run gets the code location's environment too.
        env_vars=[*launcher["envVars"], *(f"{name}={value}" for name, value in deployment["env"].items())],
        volume_mounts=launcher["volumeMounts"],
        volumes=launcher["volumes"],
        resources=launcher["resources"],
    )
    for component in ("run_worker", "step_worker"):  # K8sRunLauncher's run, k8s_job_executor's step
        job = construct_dagster_k8s_job(
            job_config, args=["dagster", "api", "execute_run", "{}"], job_name="dagster-run-0123abcd", component=component
        )
        body = validated(job)
        container = body["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "registry.example.com/acme-data-platform:latest"
        assert {"name": "data", "mountPath": "/opt/dagster/data"} in container["volumeMounts"]
        assert {"name": "NOPE_DATA_LOCATION", "value": "/opt/dagster/data"} in container["env"]
        assert {"name": "NOPE_ENVIRONMENT", "value": "production"} in container["env"]


def test_the_pod_the_k8s_target_submits_is_valid_kubernetes(kubernetes_repo: Path, user_home: Path):
    """The baked `k8s` target's own settings, through PipesK8sClient's pod builder."""
    script = """
import json, sys
from pathlib import Path
import kubernetes
from dagster_k8s.pipes import build_pod_body
from acme_platform import AcmeProject

Path("defs/ml").mkdir(parents=True, exist_ok=True)
Path("defs/ml/train.py").write_text("print('training')\\n")
Path("defs/ml/train.yaml").write_text("target: k8s\\nnamespace: ml\\nresources: {limits: {memory: 8Gi}}\\n")
[target] = [t for t in AcmeProject.load("defs").targets if t.manifest.name == "train"]
settings = target.pod_settings()
pod = build_pod_body(
    pod_name="dagster-abc-train", image=settings["image"], command=target.command(),
    env_vars={"DAGSTER_PIPES_CONTEXT": "x", "NOPE_DATA_LOCATION": "/opt/dagster/data"},
    base_pod_meta=None, base_pod_spec=settings["base_pod_spec"],
)
print(json.dumps({"namespace": settings["namespace"], "pod": kubernetes.client.ApiClient().sanitize_for_serialization(pod)}))
"""
    result = run_in_the_repos_venv(kubernetes_repo, user_home, script, {"NOPE_K8S_IMAGE": "registry.example.com/acme:1"})
    assert result.returncode == 0, result.stderr[-3000:]
    built = json.loads(result.stdout)
    pod = {"apiVersion": "v1", "kind": "Pod", **built["pod"]}
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)
    assert built["namespace"] == "ml"
    [container] = pod["spec"]["containers"]
    assert container["image"] == "registry.example.com/acme:1"
    assert container["command"] == ["python", "/opt/dagster/app/defs/ml/train.py"]
    assert container["resources"] == {"limits": {"memory": "8Gi"}}
    assert pod["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("deployment", ["docker", "kubernetes"])
def test_a_container_deployment_on_sqlite_is_refused_with_one_line_and_nothing_written(tmp_path: Path, deployment: str):
    result = bake_refused(tmp_path, deployment=deployment)
    assert [line for line in result.stderr.splitlines() if line.startswith("error: ")] == [
        f"error: deployment: `{deployment}` needs `dagster_storage=postgres` (its containers share one run history, "
        "which SQLite files cannot hold); answer `postgres`, or `deployment=local`"
    ]
    assert list(tmp_path.iterdir()) == []


def image_group(repo: Path) -> int:
    """The gid the image runs as (`USER uid:gid` in the Dockerfile): who must be able to write the data claim."""
    [user] = [line.split()[1] for line in (repo / "Dockerfile").read_text().splitlines() if line.startswith("USER ")]
    return int(user.split(":")[1])


def test_an_upgrade_runs_the_chart_s_migrate_job_by_hand_as_dagster_s_guide_says(kubernetes_repo: Path):
    """Dagster's guide runs the chart's migrate Job once per upgrade, with the webserver and daemon scaled
    down (`helm template ... --set migrate.enabled=true --show-only templates/job-instance-migrate.yaml`).
    Left enabled in the values, the Job (not a Helm hook) would stay in the release, and the next
    `helm upgrade` with a new image could not change its immutable template."""
    values = yaml.safe_load((kubernetes_repo / "deploy/helm/values.yaml").read_text())
    assert values.get("migrate", {}).get("enabled", False) is False
    assert "migrate.enabled" in CHART_KEY_PATHS  # the key the guide's `--set` names, in the pinned chart
    assert "Migrating a Dagster instance while" in (kubernetes_repo / "deploy/helm/values.yaml").read_text()


def test_run_and_step_pods_built_from_the_values_can_write_the_data_claim(kubernetes_repo: Path):
    """`runK8sConfig.podSpecConfig` reaches every run pod (K8sRunLauncher) and step pod (k8s_job_executor)
    through dagster-k8s's own merge, as the chart's instance ConfigMap passes it (`run_k8s_config`)."""
    from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig

    values = yaml.safe_load((kubernetes_repo / "deploy/helm/values.yaml").read_text())
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_k8s_config = {"pod_spec_config": launcher["runK8sConfig"]["podSpecConfig"]}
    context = K8sContainerContext(
        env_vars=launcher["envVars"],
        volumes=launcher["volumes"],
        volume_mounts=launcher["volumeMounts"],
        resources=launcher["resources"],
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(run_k8s_config),
    )
    job_config = DagsterK8sJobConfig(
        job_image="registry.example.com/acme-data-platform:latest",
        dagster_home="/opt/dagster/dagster_home",
        image_pull_policy=launcher["imagePullPolicy"],
        instance_config_map="dagster-instance",
        postgres_password_secret=values["global"]["postgresqlSecretName"],
    )
    group = image_group(kubernetes_repo)
    for component in ("run_worker", "step_worker"):
        job = construct_dagster_k8s_job(
            job_config,
            args=["dagster", "api", "execute_run", "{}"],
            job_name="dagster-run-0123abcd",
            component=component,
            user_defined_k8s_config=context.run_k8s_config,
        )
        pod = validated(job)["spec"]["template"]["spec"]
        assert pod["securityContext"]["fsGroup"] == group
        assert {"name": "data", "mountPath": "/opt/dagster/data"} in pod["containers"][0]["volumeMounts"]


def test_the_code_location_s_pod_runs_with_the_image_s_group(kubernetes_repo: Path):
    values = yaml.safe_load((kubernetes_repo / "deploy/helm/values.yaml").read_text())
    [deployment] = values["dagster-user-deployments"]["deployments"]
    security = deployment["podSecurityContext"]
    assert security["fsGroup"] == image_group(kubernetes_repo)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": deployment["name"]},
        "spec": {"securityContext": security, "containers": [{"name": "code", "image": "registry.example.com/x:1"}]},
    }
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)  # the chart passes it as the pod's own


def test_the_k8s_target_s_pod_mounting_the_data_claim_is_writable_by_the_image_user(kubernetes_repo: Path, user_home: Path):
    script = """
import json
import re
from pathlib import Path
import kubernetes
from dagster_k8s.pipes import build_pod_body
from acme_platform import AcmeProject

Path("defs/ml").mkdir(parents=True, exist_ok=True)
Path("defs/ml/score.py").write_text("print('scoring')\\n")
Path("defs/ml/score.yaml").write_text("target: k8s\\n")
[target] = [t for t in AcmeProject.load("defs").targets if t.manifest.name == "score"]
settings = target.pod_settings()
pod = build_pod_body(
    pod_name="dagster-abc-score", image=settings["image"], command=target.command(), env_vars={},
    base_pod_meta=None, base_pod_spec=settings["base_pod_spec"],
)
print(json.dumps(kubernetes.client.ApiClient().sanitize_for_serialization(pod)))
"""
    settings = {
        "NOPE_ENVIRONMENT": "production",  # as the Helm values set it: the claim holds production's data
        "NOPE_K8S_IMAGE": "registry.example.com/acme:1",
        "NOPE_DATA_LOCATION": "/opt/dagster/data",
        "NOPE_K8S_DATA_VOLUME_CLAIM": "acme-data-platform-data",
    }
    result = run_in_the_repos_venv(kubernetes_repo, user_home, script, settings)
    assert result.returncode == 0, result.stderr[-3000:]
    pod = {"apiVersion": "v1", "kind": "Pod", **json.loads(result.stdout)}
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "acme-data-platform-data"
    assert pod["spec"]["securityContext"]["fsGroup"] == image_group(kubernetes_repo)


def test_compose_publishes_the_ui_on_the_loopback_only_unless_told_otherwise(docker_repo: Path):
    """The UI has no authentication and its container holds the Docker socket: nothing is published on
    every interface by default. `${NAME:-default}` is resolved as compose does for that form."""
    compose = yaml.safe_load((docker_repo / "compose.yaml").read_text())

    def published(environment: dict[str, str]) -> list[str]:
        def resolve(match: re.Match[str]) -> str:
            return environment.get(match["name"]) or match["default"]

        return [
            re.sub(r"\$\{(?P<name>\w+):-(?P<default>[^}]*)\}", resolve, str(port))
            for service in compose["services"].values()
            for port in service.get("ports", [])
        ]

    assert published({}) == ["127.0.0.1:3000:3000"]
    assert published({"DAGSTER_WEBSERVER_PORT": "8080"}) == ["127.0.0.1:8080:3000"]
    assert published({"DAGSTER_WEBSERVER_ADDRESS": "192.0.2.10"}) == ["192.0.2.10:3000:3000"]  # behind a proxy
