"""`target: docker`: run a manifest's script in a container of its own, through Dagster Pipes.

A script that needs system packages, another Python or more isolation than a subprocess gets
them from an image: dagster-docker's `PipesDockerClient` starts a container, passes the Pipes
context in its environment and reads the script's messages from its output. By default the
image is this repository's own (it holds every script under defs/ at the same place), so a
manifest only says `target: docker`; it may name another image with `image:`.

Needs a Docker daemon where the step runs (`DOCKER_HOST`, or the socket at /var/run/docker.sock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from pydantic import Field

from nope.container_target import IMAGE_WORKING_DIRECTORY, NopeContainerInvocationTarget
from nope.environments import Environment
from nope.manifests import NopeInvocationTargetManifest
from nope.models import TargetFields
from nope.targets import DATA_LOCATION_VARIABLE, PRODUCTION_DATA_VARIABLE

if TYPE_CHECKING:
    import dagster as dg
    from dagster_docker import PipesDockerClient


class DockerTargetFields(TargetFields):
    image: str | None = Field(
        None, description="The Docker image the script runs in. Default: the platform's (this repository's image)."
    )


class NopeDockerInvocationTargetManifest(NopeInvocationTargetManifest):
    Model: TypeAlias = DockerTargetFields

    @property
    def image(self) -> str | None:
        """The manifest's `image:`; None: the platform's image."""
        return self.fields(DockerTargetFields).image


class NopeDockerInvocationTarget(NopeContainerInvocationTarget):
    """Runs the script in a container through the `docker_client` resource (a `PipesDockerClient`)."""

    InvocationTargetManifest = NopeDockerInvocationTargetManifest
    manifest: NopeDockerInvocationTargetManifest

    image: ClassVar[str | None] = None
    """The image of scripts whose manifest names none (platform owners set it, e.g. from settings)."""

    data_volume: ClassVar[str | None] = None
    """A Docker volume mounted at production's data location, in production only (it holds production's
    data). None: the environment's data location, when it is a path, is a folder of the Docker host
    mounted at the same path."""

    def run_image(self) -> str:
        """The manifest's `image:`, else the platform's; a sentence when neither is set."""
        import dagster as dg

        image = self.manifest.image or self.image
        if not image:
            raise dg.Failure(
                f"`{self.manifest.relative_path}` runs in a container, but neither the manifest (`image:`) nor the "
                "platform (NOPE_DOCKER_IMAGE where Dagster runs) names an image."
            )
        return image

    def container_kwargs(self, where: Environment | None = None) -> dict[str, Any]:
        """What docker-py's `containers.create` gets besides image, command and environment: the
        environment's own data folder mounted where its scripts look, and production's read-only
        one (`:ro`) for a branch when the platform offers it. Nothing else of the host."""
        import dagster as dg

        where = where or self.read_environment()
        variables = self.environment_variables(where)
        kwargs: dict[str, Any] = {"working_dir": IMAGE_WORKING_DIRECTORY}
        volumes = []
        location = variables.get(DATA_LOCATION_VARIABLE, "")
        if location and "://" not in location:
            if self.data_volume and not where.is_production:
                raise dg.Failure(
                    f"`{self.manifest.relative_path}` cannot run in environment `{where.safe_name}`: the data volume "
                    f"`{self.data_volume}` holds production's data. Unset NOPE_DOCKER_DATA_VOLUME outside production."
                )
            volumes.append(f"{self.data_volume or location}:{location}")
        read_only = variables.get(PRODUCTION_DATA_VARIABLE, "")
        if read_only and "://" not in read_only:
            volumes.append(f"{read_only}:{read_only}:ro")
        if volumes:
            kwargs["volumes"] = volumes
        return kwargs

    # Another resource than the subprocess target's, by name: Dagster passes each target the resources its
    # `invoke` names, never through the subprocess target's signature, so this override is safe.
    def invoke(self, context: dg.AssetExecutionContext, docker_client: PipesDockerClient) -> Any:  # type: ignore[override]  # another resource, by name: see above
        import dagster as dg

        if self.manifest.timeout is not None:
            raise dg.Failure(f"`{self.manifest.relative_path}`: `timeout:` is not supported by target `docker`")
        image = self.run_image()
        where = self.run_environment(context)
        context.log.info(f"Running `{self.manifest.relative_path}` in a container of `{image}` (environment `{where.safe_name}`).")
        return docker_client.run(
            context=context,
            image=image,
            command=self.command(),
            env=self.environment(context),
            container_kwargs=self.container_kwargs(where),
        ).get_results()
