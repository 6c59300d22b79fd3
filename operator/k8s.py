"""The one idempotent helper layer over the official ``kubernetes`` client.

Every Kubernetes API call of the operator goes through :class:`ClusterApi`:

- creates are idempotent: a 409 means the object is already there (``create_or_get``);
- deletes are idempotent: a 404 means it is already gone (``delete_if_exists``);
- lists filter by label selector on the server AND on the client, so an API server (or a mock)
  that ignores selectors cannot hand the operator another experiment's objects;
- failures are mapped once: transient ones (connection, 429, 5xx, 401/403, write conflicts)
  become :class:`~ensemw2s.operator.errors.TemporaryError` with a delay; a 400/422 on an object the
  operator built becomes :class:`~ensemw2s.operator.errors.PermanentError`.

The client is the synchronous official one, called in a bounded thread pool so that a slow API
server never blocks the event loop. Responses are read raw (``_preload_content=False``) and parsed
as JSON: the pure core works on the same dict shapes the API server sends, without a round trip
through the client's generated models.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from ensemw2s.spec import API_GROUP, API_VERSION, PLURAL
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .errors import PermanentError, TemporaryError
from .naming import LABEL_EXPERIMENT, LABEL_MANAGED_BY, MANAGER, experiment_selector, label_value

JsonObject = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
TRANSIENT_STATUSES = frozenset({0, 401, 403, 408, 409, 429, 500, 502, 503, 504})
DEFAULT_DELAY = 5.0
FORBIDDEN_DELAY = 60.0


class ClientConfigError(Exception):
    """Neither in-cluster credentials nor a usable kubeconfig: the operator cannot start."""


def running_in_cluster(environ: Mapping[str, str] = os.environ) -> bool:
    return bool(environ.get("KUBERNETES_SERVICE_HOST")) and SERVICE_ACCOUNT_TOKEN.exists()


def load_client_configuration(kubeconfig: str | None = None, context: str | None = None) -> client.Configuration:
    """In-cluster service account when running in a pod (and no kubeconfig is forced), else a kubeconfig.

    The kubeconfig is ``kubeconfig`` when given, else ``$KUBECONFIG``, else ``~/.kube/config``;
    ``context`` picks a context other than the current one.
    """
    configuration = client.Configuration()
    if kubeconfig is None and context is None and running_in_cluster():
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException as exc:
            raise ClientConfigError(
                f"in-cluster config: cannot be loaded (got {exc}); mount the service account token"
            ) from None
        return configuration
    try:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ClientConfigError(
            f"kubeconfig {where}: cannot be loaded (got {str(exc).strip() or type(exc).__name__}); "
            "pass --kubeconfig PATH (and --context NAME), or run in a pod with a service account"
        ) from None
    return configuration


def api_error(where: str, exc: BaseException) -> TemporaryError | PermanentError:
    """One mapping from a client failure to the operator's error hierarchy."""
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        text = f"HTTP {status} {_api_message(exc)}".strip()
        if status == 429 or status >= 500 or status == 0:
            return TemporaryError(f"{where}: API server busy or unavailable (got {text}); retrying", _retry_after(exc))
        if status == 403:
            return TemporaryError(
                f"{where}: forbidden (got {text}); grant the operator's service account this verb (docs/operator.md, RBAC)",
                FORBIDDEN_DELAY,
            )
        if status in TRANSIENT_STATUSES:
            return TemporaryError(f"{where}: transient API error (got {text}); retrying", DEFAULT_DELAY)
        return PermanentError(
            f"{where}: rejected by the API server (got {text}); fix the experiment spec, or report a bug if it is valid"
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return TemporaryError(
            f"{where}: API server unreachable (got {type(exc).__name__}: {exc}); retrying", DEFAULT_DELAY
        )
    raise exc


def _api_message(exc: ApiException) -> str:
    """``Invalid: <the API server's message>`` from a Status body, else the HTTP reason phrase."""
    try:
        body = json.loads(exc.body or "")
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return f"{body.get('reason') or exc.reason or ''}: {body['message']}".strip(": ")
    return str(exc.reason or "")


def _retry_after(exc: ApiException) -> float:
    headers = exc.headers or {}
    try:
        return max(1.0, float(headers.get("Retry-After", DEFAULT_DELAY)))
    except (TypeError, ValueError):
        return DEFAULT_DELAY


def _experiment(namespace: str, name: str) -> dict[str, str]:
    """The custom-objects API's coordinates of one experiment."""
    return {"group": API_GROUP, "version": API_VERSION, "namespace": namespace, "plural": PLURAL, "name": name}


def matches_labels(obj: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    have = (obj.get("metadata") or {}).get("labels") or {}
    return all(have.get(key) == value for key, value in labels.items())


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == uid for ref in refs)


@dataclass(frozen=True)
class _Verbs:
    create: Callable[..., Any]
    read: Callable[..., Any]
    delete: Callable[..., Any]


class ClusterApi:
    """Idempotent, async calls to the Kubernetes API: the only place the operator talks to a cluster."""

    def __init__(
        self,
        configuration: client.Configuration,
        *,
        workers: int = 16,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        configuration.connection_pool_maxsize = max(workers, configuration.connection_pool_maxsize or 0)
        # Retry connecting only. A 429/503 is not slept on in a worker thread (urllib3's default honours
        # Retry-After up to 3 times): it becomes a TemporaryError, and Kopf retries after the delay.
        configuration.retries = urllib3.Retry(
            total=3, connect=3, read=0, status=0, redirect=0, respect_retry_after_header=False
        )
        self._client = client.ApiClient(configuration)
        self.batch = client.BatchV1Api(self._client)
        self.core = client.CoreV1Api(self._client)
        self.custom = client.CustomObjectsApi(self._client)
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="k8s-api")
        self._verbs = {
            "Job": _Verbs(
                self.batch.create_namespaced_job, self.batch.read_namespaced_job, self.batch.delete_namespaced_job
            ),
            "Service": _Verbs(
                self.core.create_namespaced_service,
                self.core.read_namespaced_service,
                self.core.delete_namespaced_service,
            ),
        }

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._client.close()  # type: ignore[no-untyped-call]

    async def _raw(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Run one client call in the pool; the raw urllib3 response is parsed as JSON (or text)."""
        call = functools.partial(fn, _preload_content=False, _request_timeout=self._timeout, **kwargs)
        response = await asyncio.get_running_loop().run_in_executor(self._executor, call)
        data: bytes = response.data
        try:
            return json.loads(data) if data else None
        except ValueError:
            return data.decode("utf-8", errors="replace")

    async def _call(self, where: str, fn: Callable[..., Any], /, *, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            return await self._raw(fn, **kwargs)
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return None
            raise api_error(where, exc) from None
        except (urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            raise api_error(where, exc) from None

    def _verbs_for(self, kind: str) -> _Verbs:
        try:
            return self._verbs[kind]
        except KeyError:
            raise PermanentError(
                f"object kind: not managed by the operator (got {kind!r}); use Job or Service"
            ) from None

    # -- owned objects -----------------------------------------------------------------------------

    async def create_or_get(self, obj: Mapping[str, Any]) -> tuple[JsonObject, bool]:
        """Create ``obj``; when it exists (409) return the existing one. Returns ``(object, created)``."""
        kind, meta = str(obj.get("kind")), obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        verbs = self._verbs_for(kind)
        where = f"create {kind} {namespace}/{name}"
        try:
            return await self._raw(verbs.create, namespace=namespace, body=dict(obj)), True
        except ApiException as exc:
            if exc.status != 409:
                raise api_error(where, exc) from None
        except (urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            raise api_error(where, exc) from None
        existing = await self._call(
            f"read {kind} {namespace}/{name}", verbs.read, missing_ok=True, name=name, namespace=namespace
        )
        if existing is None:  # deleted between the 409 and the read: the next reconcile creates it
            raise TemporaryError(f"{where}: exists but vanished while being read (got 409 then 404); retrying", 1.0)
        return existing, False

    async def delete_if_exists(self, kind: str, namespace: str, name: str, *, propagation: str = "Background") -> bool:
        """Delete (a Job's pods go with it); True when it existed, False on 404.

        ``Background`` (the default) removes the object at once and its dependents afterwards;
        ``Foreground`` keeps it, with a deletionTimestamp, until its dependents (a Job's pods) are gone.
        """
        verbs = self._verbs_for(kind)
        result = await self._call(
            f"delete {kind} {namespace}/{name}",
            verbs.delete,
            missing_ok=True,
            name=name,
            namespace=namespace,
            propagation_policy=propagation,
        )
        return result is not None

    async def list_jobs(self, namespace: str, experiment: str, owner_uid: str | None = None) -> list[JsonObject]:
        """The Jobs of one experiment: by label selector, re-checked here, and owned by ``owner_uid`` if given.

        The owner check keeps the Jobs of a deleted namespace-mate with the same name (still being
        garbage-collected) out of a re-created experiment.
        """
        data = await self._call(
            f"list Jobs of {namespace}/{experiment}",
            self.batch.list_namespaced_job,
            namespace=namespace,
            label_selector=experiment_selector(experiment),
        )
        wanted = {LABEL_EXPERIMENT: label_value(experiment), LABEL_MANAGED_BY: MANAGER}
        items = [item for item in (data or {}).get("items") or [] if matches_labels(item, wanted)]
        return [item for item in items if owner_uid is None or owned_by(item, owner_uid)]

    async def list_pods(self, namespace: str, experiment: str) -> list[JsonObject]:
        """The pods of one experiment's Jobs (their template carries the experiment's labels).

        One call per experiment, not one per Job; :func:`~.observe.pods_of_job` assigns them.
        """
        data = await self._call(
            f"list pods of {namespace}/{experiment}",
            self.core.list_namespaced_pod,
            namespace=namespace,
            label_selector=experiment_selector(experiment),
        )
        wanted = {LABEL_EXPERIMENT: label_value(experiment), LABEL_MANAGED_BY: MANAGER}
        return [pod for pod in (data or {}).get("items") or [] if matches_labels(pod, wanted)]

    async def read_log_tail(
        self, namespace: str, pod: str, lines: int = 20, container: str | None = None
    ) -> str | None:
        """The last ``lines`` lines of a pod's log; None when the pod or its log is gone (404/400)."""
        try:
            text = await self._raw(
                self.core.read_namespaced_pod_log, name=pod, namespace=namespace, tail_lines=lines, container=container
            )
        except ApiException as exc:
            if exc.status in (400, 404):
                return None
            raise api_error(f"read log of pod {namespace}/{pod}", exc) from None
        except (urllib3.exceptions.HTTPError, OSError, TimeoutError) as exc:
            raise api_error(f"read log of pod {namespace}/{pod}", exc) from None
        if text is None:
            return None
        return text if isinstance(text, str) else json.dumps(text)

    async def patch_job_suspend(self, namespace: str, name: str, suspend: bool) -> bool:
        """Set ``spec.suspend`` of a Job; False when the Job is gone."""
        result = await self._call(
            f"{'suspend' if suspend else 'resume'} Job {namespace}/{name}",
            self.batch.patch_namespaced_job,
            missing_ok=True,
            name=name,
            namespace=namespace,
            body={"spec": {"suspend": suspend}},
            _content_type=MERGE_PATCH,
        )
        return result is not None

    # -- the experiment ----------------------------------------------------------------------------

    async def get_experiment(self, namespace: str, name: str) -> JsonObject | None:
        """The experiment as stored now (a quorum read); None when it is gone."""
        result = await self._call(
            f"get {PLURAL} {namespace}/{name}",
            self.custom.get_namespaced_custom_object,
            missing_ok=True,
            **_experiment(namespace, name),
        )
        return result if isinstance(result, dict) else None

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> JsonObject | None:
        """Merge-patch the status subresource; keys set to None are removed. None when the experiment is gone."""
        result = await self._call(
            f"patch {PLURAL}/status {namespace}/{name}",
            self.custom.patch_namespaced_custom_object_status,
            missing_ok=True,
            **_experiment(namespace, name),
            body={"status": dict(status)},
            _content_type=MERGE_PATCH,
        )
        return result if isinstance(result, dict) else None


def status_patch(previous: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch turning ``previous`` into ``new`` at the top level (dropped keys become None).

    A value is compared as the server stores it after a merge patch (RFC 7386: a None inside an object
    removes that field), so a value carrying None fields does not look changed on every reconcile.
    """
    patch: dict[str, Any] = {key: None for key in previous if key not in new}
    patch.update({key: value for key, value in new.items() if previous.get(key) != merged(value)})
    return patch


def merged(value: Any) -> Any:
    """``value`` as a JSON merge patch leaves it in an empty object: None fields of objects removed."""
    if isinstance(value, Mapping):
        return {key: merged(item) for key, item in value.items() if item is not None}
    return value


__all__ = [
    "ClientConfigError",
    "ClusterApi",
    "JsonObject",
    "api_error",
    "load_client_configuration",
    "matches_labels",
    "owned_by",
    "running_in_cluster",
    "status_patch",
]
