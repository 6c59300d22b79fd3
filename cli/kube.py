"""The cluster connection of ``w2sctl``: credentials, the namespace, and every API call the verbs make.

Credentials load as the operator's do (:func:`ensemw2s.operator.k8s.load_client_configuration`: in a
pod its service account, else ``--kubeconfig``/``$KUBECONFIG``/``~/.kube/config`` and ``--context``).
The namespace is ``-n``, else the kubeconfig context's, else ``default`` (kubectl's rule).

Every call is mapped once (:meth:`Cluster.failure`) to one readable :class:`~.errors.CliError`: no
cluster reachable, credentials rejected, the CRD not installed, a verb forbidden by RBAC (naming the
verb, the resource and the Role to grant), the experiment not found, the API server refusing an object.

Imported only by the commands that talk to a cluster: it imports the ``kubernetes`` client.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import urllib3
from ensemw2s.operator.naming import LABEL_EXPERIMENT, LABEL_STAGE, label_value
from ensemw2s.spec import API_GROUP, API_VERSION, PLURAL
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .errors import CliError
from .state import State

JsonObject = dict[str, Any]
RESOURCE = f"{PLURAL}.{API_GROUP}"
"""``ensemw2sexperiments.ensemw2s.io``: how kubectl and RBAC errors name the resource."""
FIELD_MANAGER = "w2sctl"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds of every call but a followed log."""
FOLLOW_READ_TIMEOUT = 24 * 3600.0
"""A followed log may be silent for long (a stage evaluating): only a day without a byte ends it."""
NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class Action:
    """What a call does, for its error message: ``get`` ``ensemw2sexperiments.ensemw2s.io`` ``exp``."""

    verb: str
    resource: str = RESOURCE
    name: str | None = None
    namespace: str | None = None

    @property
    def where(self) -> str:
        what = self.resource if self.name is None else f'{self.resource} "{self.name}"'
        return what if self.namespace is None else f"{what} in namespace {self.namespace}"


def connect(state: State, file_namespace: str | None = None) -> Cluster:
    """A connection for ``state``'s ``--kubeconfig``/``--context``/``-n``; CliError when none can be made.

    The namespace: ``-n``, else ``file_namespace`` (a manifest's own), else the context's, else ``default``.
    """
    from ensemw2s.operator.k8s import ClientConfigError, load_client_configuration

    if state.kubeconfig and "--kubeconfig" in state.on_command_line:
        missing = [p for p in state.kubeconfig.split(os.pathsep) if p and not Path(p).expanduser().exists()]
        if missing:
            raise CliError(f"--kubeconfig: file not found (got {missing[0]}); pass an existing kubeconfig file")
    try:
        configuration = load_client_configuration(state.kubeconfig, state.context)
    except ClientConfigError as exc:
        raise CliError(str(exc)) from None
    configuration.retries = urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0)
    namespace = state.namespace or file_namespace or _context_namespace(state.kubeconfig, state.context)
    return Cluster(client.ApiClient(configuration), namespace, configuration.host)


def _context_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace of the kubeconfig context in use (in a pod: the service account's), else ``default``."""
    if kubeconfig is None and context is None and NAMESPACE_FILE.exists() and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return NAMESPACE_FILE.read_text().strip() or "default"
    try:
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, TypeError, ValueError):
        return "default"
    chosen = next((c for c in contexts or [] if c.get("name") == context), None) if context else active
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else "default"


class Cluster:
    """One API connection: the namespace in use and the calls the verbs make, each failure made readable."""

    def __init__(self, api_client: client.ApiClient, namespace: str, server: str) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.server = server
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]

    # -- calls -----------------------------------------------------------------------------------
    def _call(self, action: Action, fn: Any, /, **kwargs: Any) -> Any:
        """One client call, its body parsed as JSON (or text); failures become one CliError."""
        try:
            response = fn(_preload_content=False, _request_timeout=TIMEOUT, **kwargs)
        except ApiException as exc:
            raise self.failure(action, exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(exc) from None
        data: bytes = response.data
        try:
            return json.loads(data) if data else None
        except ValueError:
            return data.decode("utf-8", errors="replace")

    def get_experiment(self, name: str) -> JsonObject:
        action = Action("get", name=name, namespace=self.namespace)
        return dict(
            self._call(
                action,
                self.custom.get_namespaced_custom_object,
                group=API_GROUP,
                version=API_VERSION,
                namespace=self.namespace,
                plural=PLURAL,
                name=name,
            )
        )

    def list_experiments(self, all_namespaces: bool = False) -> list[JsonObject]:
        common = {"group": API_GROUP, "version": API_VERSION, "plural": PLURAL}
        if all_namespaces:
            data = self._call(Action("list"), self.custom.list_cluster_custom_object, **common)
        else:
            data = self._call(
                Action("list", namespace=self.namespace),
                self.custom.list_namespaced_custom_object,
                namespace=self.namespace,
                **common,
            )
        items = list((data or {}).get("items") or [])
        return sorted(items, key=lambda o: ((o.get("metadata") or {}).get("namespace", ""), o["metadata"]["name"]))

    def apply_experiment(self, body: Mapping[str, Any], *, force: bool = False) -> JsonObject:
        """Server-side apply under the field manager ``w2sctl`` (creates or updates)."""
        return self._patch(str(body["metadata"]["name"]), body, APPLY_PATCH, force=force or None)

    def patch_experiment(self, name: str, patch: Mapping[str, Any]) -> JsonObject:
        """A JSON merge patch (suspend, resume, annotations): touches only the fields it names."""
        return self._patch(name, patch, MERGE_PATCH)

    def _patch(self, name: str, body: Mapping[str, Any], content_type: str, **options: Any) -> JsonObject:
        return dict(
            self._call(
                Action("patch", name=name, namespace=self.namespace),
                self.custom.patch_namespaced_custom_object,
                group=API_GROUP,
                version=API_VERSION,
                namespace=self.namespace,
                plural=PLURAL,
                name=name,
                body=dict(body),
                field_manager=FIELD_MANAGER,
                _content_type=content_type,
                **options,
            )
        )

    def delete_experiment(self, name: str) -> None:
        self._call(
            Action("delete", name=name, namespace=self.namespace),
            self.custom.delete_namespaced_custom_object,
            group=API_GROUP,
            version=API_VERSION,
            namespace=self.namespace,
            plural=PLURAL,
            name=name,
        )

    def stage_pods(self, experiment: str, stage: str) -> list[JsonObject]:
        """The pods of one stage's Job (every attempt, every rank), oldest first."""
        selector = f"{LABEL_EXPERIMENT}={label_value(experiment)},{LABEL_STAGE}={stage}"
        data = self._call(
            Action("list", resource="pods", namespace=self.namespace),
            self.core.list_namespaced_pod,
            namespace=self.namespace,
            label_selector=selector,
        )
        pods = [p for p in (data or {}).get("items") or [] if _labels(p).get(LABEL_STAGE) == stage]
        return sorted(pods, key=lambda p: (str(p["metadata"].get("creationTimestamp") or ""), p["metadata"]["name"]))

    def pod_log(self, pod: str, container: str) -> str:
        text = self._call(
            Action("get", resource="pods/log", name=pod, namespace=self.namespace),
            self.core.read_namespaced_pod_log,
            name=pod,
            namespace=self.namespace,
            container=container,
        )
        return text if isinstance(text, str) else "" if text is None else json.dumps(text)

    def follow_pod_log(self, pod: str, container: str) -> Iterator[str]:
        """The pod's log, line by line, until the container ends (``kubectl logs -f``)."""
        action = Action("get", resource="pods/log", name=pod, namespace=self.namespace)
        try:
            response: Any = self.core.read_namespaced_pod_log(
                name=pod,
                namespace=self.namespace,
                container=container,
                follow=True,
                _preload_content=False,
                _request_timeout=(TIMEOUT[0], FOLLOW_READ_TIMEOUT),
            )
            pending = b""
            for chunk in response.stream(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace")
            if pending:
                yield pending.decode("utf-8", errors="replace")
        except ApiException as exc:
            raise self.failure(action, exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(exc) from None

    def operator_deployments(self, selector: str) -> list[JsonObject]:
        data = self._call(
            Action("list", resource="deployments.apps"), self.apps.list_deployment_for_all_namespaces,
            label_selector=selector,
        )  # fmt: skip
        return list((data or {}).get("items") or [])

    def server_version(self) -> JsonObject:
        return dict(self._call(Action("get", resource="/version"), client.VersionApi(self.api_client).get_code) or {})

    def read_crd(self, crd_name: str) -> JsonObject:
        api = client.ApiextensionsV1Api(self.api_client)
        action = Action("get", resource="customresourcedefinitions.apiextensions.k8s.io", name=crd_name)
        return dict(self._call(action, api.read_custom_resource_definition, name=crd_name) or {})

    def crd_served(self) -> bool:
        """Whether the API server serves the experiments' group and version (the CRD is installed)."""
        try:
            self.custom.get_api_resources(
                group=API_GROUP, version=API_VERSION, _preload_content=False, _request_timeout=TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise self.failure(Action("get", resource=f"/apis/{API_GROUP}/{API_VERSION}"), exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(exc) from None
        return True

    # -- errors ----------------------------------------------------------------------------------
    def unreachable(self, exc: BaseException) -> CliError:
        reason = str(getattr(exc, "reason", None) or exc).strip() or type(exc).__name__
        return CliError(
            f"cluster {self.server}: not reachable (got {type(exc).__name__}: {reason}); check --kubeconfig and "
            "--context, and that the API server is up"
        )

    def failure(self, action: Action, exc: ApiException) -> CliError:
        status = int(exc.status or 0)
        got = f"HTTP {status} {_api_message(exc)}".strip()
        if status == 404 and action.resource == RESOURCE and not self.crd_served():
            error = CliError(
                f"{RESOURCE}: not served by the cluster {self.server} (got {got}); the CRD is not installed: "
                "kubectl apply -k manifests/crd (or manifests/install for the operator too)"
            )
        elif status == 404 and action.name is not None:
            scope = f"-n {action.namespace}" if action.namespace else "-A"
            error = CliError(
                f"experiment {action.namespace}/{action.name}: not found (got {got}); "
                f"`w2sctl list {scope}` shows the experiments there"
                if action.resource == RESOURCE
                else f"{action.where}: not found (got {got})"
            )
        elif status == 403:
            scope = f"-n {action.namespace} " if action.namespace else ""
            role = "role" if action.namespace else "clusterrole"
            resource, _, sub = action.resource.partition("/")
            error = CliError(
                f"{action.where}: {action.verb} is forbidden (got {got}); ask an admin to grant it, e.g. "
                f"kubectl create {role} w2sctl-user {scope}--verb={action.verb} --resource={resource}"
                + (f"/{sub}" if sub else "")
                + f" and a {role}binding of it to you"
            )
        elif status == 401:
            error = CliError(
                f"cluster {self.server}: credentials rejected (got {got}); log in again or choose another --context"
            )
        elif status == 409 and action.verb == "patch":
            error = CliError(
                f"{action.where}: conflicts with fields another manager owns (got {got}); "
                "rerun with --force-conflicts to take them over"
            )
        elif status in (400, 422):
            error = CliError(f"{action.where}: rejected by the API server (got {got}); fix the manifest")
        else:
            error = CliError(f"{action.where}: {action.verb} failed (got {got})")
        error.http_status = status
        return error


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _api_message(exc: ApiException) -> str:
    """``Forbidden: <the API server's message>`` from a Status body, else the HTTP reason phrase."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and body.get("message"):
        return f"{body.get('reason') or exc.reason or ''}: {body['message']}".strip(": ")
    return str(exc.reason or "")
