"""`target: k8s`: run a manifest's script in a Kubernetes pod of its own, through Dagster Pipes.

dagster-k8s's `PipesK8sClient` creates the pod, passes the Pipes context in its environment,
reads the script's messages from the pod's logs and deletes the pod when it ends. The image,
CPU and memory, and namespace come from the platform (class attributes, set from settings) and
a manifest may override each with `image:`, `resources:` and `namespace:`. By default the image
is this repository's own, which holds every script under defs/.

Needs Kubernetes credentials where the step runs: in-cluster (a service account allowed to
create, read and delete pods and read their logs in the namespace), or a kubeconfig.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias

from pydantic import Field, StringConstraints

from nope.container_target import IMAGE_WORKING_DIRECTORY, NopeContainerInvocationTarget
from nope.environments import Environment
from nope.manifests import NopeInvocationTargetManifest
from nope.models import NopeModel, TargetFields
from nope.targets import resolved_data_location
from nope.validation_messages import PATTERN_MEANING

if TYPE_CHECKING:
    import dagster as dg
    from dagster_k8s import PipesK8sClient

# Kubernetes quantities (`500m`, `2Gi`, `1.5`) and namespace names (DNS labels).
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
NAMESPACE_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
Quantity = Annotated[str, StringConstraints(pattern=QUANTITY_PATTERN)]
# In words, for `nope check` and the editor alike (see `validation_messages.PATTERN_MEANING`).
PATTERN_MEANING.update(
    {
        QUANTITY_PATTERN: "a Kubernetes quantity such as `500m`, `2`, `512Mi` or `4Gi`",
        NAMESPACE_PATTERN: "a Kubernetes namespace: lowercase letters, digits and `-`, up to 63",
    }
)


class ResourceAmounts(NopeModel):
    """An amount of CPU and memory, as Kubernetes writes them."""

    cpu: Quantity | None = Field(None, description="CPU, e.g. `500m` (half a core) or `2`.")
    memory: Quantity | None = Field(None, description="Memory, e.g. `512Mi` or `4Gi`.")


class PodResources(NopeModel):
    """The pod's CPU and memory, as Kubernetes' container `resources`."""

    requests: ResourceAmounts | None = Field(None, description="What the pod is guaranteed (scheduling).")
    limits: ResourceAmounts | None = Field(None, description="What the pod may use at most.")


class K8sTargetFields(TargetFields):
    """A manifest's own pod settings, over the platform's."""

    image: str | None = Field(None, description="The image of the script's pod. Default: the platform's.")
    namespace: Annotated[str, StringConstraints(pattern=NAMESPACE_PATTERN)] | None = Field(
        None, description="The Kubernetes namespace of the pod. Default: the platform's."
    )
    resources: PodResources | None = Field(None, description="CPU and memory of the pod. Default: the platform's.")


class NopeK8sInvocationTargetManifest(NopeInvocationTargetManifest):
    Model: TypeAlias = K8sTargetFields

    @property
    def image(self) -> str | None:
        """The manifest's `image:`; None: the platform's image."""
        return self.fields(K8sTargetFields).image

    @property
    def namespace(self) -> str | None:
        """The manifest's `namespace:`; None: the platform's namespace."""
        return self.fields(K8sTargetFields).namespace

    @property
    def resources(self) -> PodResources | None:
        """The manifest's `resources:`; None: the platform's."""
        return self.fields(K8sTargetFields).resources


class NopeK8sInvocationTarget(NopeContainerInvocationTarget):
    """Runs the script in a pod through the `k8s_client` resource (a `PipesK8sClient`)."""

    InvocationTargetManifest = NopeK8sInvocationTargetManifest
    manifest: NopeK8sInvocationTargetManifest

    image: ClassVar[str | None] = None
    """The image of pods whose manifest names none."""

    namespace: ClassVar[str] = "default"
    """The namespace of pods whose manifest names none."""

    resources: ClassVar[dict[str, dict[str, str]]] = {}
    """The pods' `resources` (`{"requests": {"cpu": "250m"}, "limits": {"memory": "1Gi"}}`) unless
    the manifest sets its own."""

    data_volume_claim: ClassVar[str | None] = None
    """A PersistentVolumeClaim mounted at production's data location (when it is a path), in production
    only: it holds production's data. None: no volume."""

    data_volume_group: ClassVar[int] = 10001
    """The pod's `fsGroup` when it mounts the claim: the group of this repository's image user (see
    the Dockerfile), so a script can write the data location. Another image may need another."""

    def pod_settings(self, where: Environment | None = None) -> dict[str, Any]:
        """`PipesK8sClient.run`'s image, namespace and base pod spec for this manifest."""
        import dagster as dg

        where = where or self.read_environment()

        image = self.manifest.image or self.image
        if not image:
            raise dg.Failure(
                f"`{self.manifest.relative_path}` runs in a pod, but neither the manifest (`image:`) nor the "
                "platform (NOPE_K8S_IMAGE where Dagster runs) names an image."
            )
        own_resources = self.manifest.resources
        resources = own_resources.model_dump(exclude_none=True) if own_resources else self.resources
        container: dict[str, Any] = {"name": "script", "workingDir": IMAGE_WORKING_DIRECTORY, "resources": resources}
        spec: dict[str, Any] = {"containers": [container]}
        if self.data_volume_claim and self.data_location and "://" not in self.data_location:
            if not where.is_production:
                raise dg.Failure(
                    f"`{self.manifest.relative_path}` cannot run in environment `{where.safe_name}`: the claim "
                    f"`{self.data_volume_claim}` holds production's data. Unset NOPE_K8S_DATA_VOLUME_CLAIM outside production."
                )
            location = resolved_data_location(self.data_location, self.repo_root)
            container["volumeMounts"] = [{"name": "data", "mountPath": location}]
            spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": self.data_volume_claim}}]
            # As the Helm values' run pods: only a volume not owned so yet is re-owned at pod start.
            spec["securityContext"] = {"fsGroup": self.data_volume_group, "fsGroupChangePolicy": "OnRootMismatch"}
        return {
            "image": image,
            "namespace": self.manifest.namespace or self.namespace,
            "base_pod_spec": spec,
        }

    # Another resource than the subprocess target's, by name: Dagster passes each target the resources its
    # `invoke` names, never through the subprocess target's signature, so this override is safe.
    def invoke(self, context: dg.AssetExecutionContext, k8s_client: PipesK8sClient) -> Any:  # type: ignore[override]  # another resource, by name: see above
        import dagster as dg

        if self.manifest.timeout is not None:
            raise dg.Failure(f"`{self.manifest.relative_path}`: `timeout:` is not supported by target `k8s`")
        where = self.run_environment(context)
        settings = self.pod_settings(where)
        context.log.info(f"Running `{self.manifest.relative_path}` in a pod of `{settings['image']}` in `{settings['namespace']}`.")
        return k8s_client.run(context=context, command=self.command(), env=self.environment(context), **settings).get_results()
