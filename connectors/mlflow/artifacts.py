"""Can a registered version's artifacts still be listed? (``model_versions.artifacts_present``)

The governance report asks whether the previous production version could still be loaded;
a version whose files were deleted from the artifact store is registered but not loadable.
Each check is one list call: through the tracking server's artifact API over REST, or on the
local file system for the offline store. True: the listing holds at least one file; False: it
is empty or its run / logged model is gone; None: this reader cannot look there (e.g. ``s3://``
read offline)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from mlreport.connectors.mlflow.lineage import run_path, source_run
from mlreport.http import HttpClient, HttpError

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
PROXY_SCHEME = "mlflow-artifacts:"

log = logging.getLogger("mlreport.mlflow")


def _listed(answer: object) -> bool:
    return isinstance(answer, dict) and bool(answer.get("files"))


def rest_present(
    client: HttpClient,
    source: str | None,
    run_id: str | None,
    model_id: str | None,
    artifact_uri: str | None = None,
) -> bool | None:
    """List the version's artifacts through the server: its logged model's, its run's (where
    the source lies in the run's artifacts; ``artifact_uri`` is the run's, when the caller
    knows it), or a proxied ``mlflow-artifacts:`` path."""
    try:
        if model_id:
            path = f"{API}/logged-models/{quote(model_id, safe='')}/artifacts/directories"
            return _listed(client.get_json(path))
        named = source_run(source)
        run_id = named or run_id
        if run_id:
            if not named and artifact_uri is None:
                run = client.get_json(f"{API}/runs/get", {"run_id": run_id})
                artifact_uri = ((run or {}).get("run") or {}).get("info", {}).get("artifact_uri")
            path = run_path(source, artifact_uri)
            if path is not None:
                params = {"run_id": run_id, "path": path} if path else {"run_id": run_id}
                return _listed(client.get_json(f"{API}/artifacts/list", params))
        if source and source.startswith(PROXY_SCHEME):
            path = source[len(PROXY_SCHEME) :].lstrip("/")
            return _listed(client.get_json(PROXY, {"path": path}))
    except HttpError as exc:
        if exc.code == "RESOURCE_DOES_NOT_EXIST":  # its run or logged model is gone
            return False
        if exc.status is not None and 400 <= exc.status < 500:  # cannot look: say so, go on
            log.warning("cannot list the artifacts of %s: %s", source or model_id, exc)
            return None
        raise
    return None


def local_present(uri: str | None, proxy_root: Path | None = None) -> bool | None:
    """Whether a local artifact directory holds anything; ``mlflow-artifacts:`` paths are
    read under ``proxy_root`` (the server's ``--artifacts-destination``) when it is given.
    None for anything not on this machine."""
    if not uri:
        return None
    if uri.startswith(PROXY_SCHEME):
        if proxy_root is None:
            return None
        path = proxy_root / unquote(uri[len(PROXY_SCHEME) :].lstrip("/"))
    else:
        parsed = urlparse(uri)
        if parsed.scheme == "file":
            path = Path(unquote(parsed.path))
        elif parsed.scheme == "" and os.path.isabs(uri):
            path = Path(uri)
        else:
            return None
    try:
        with os.scandir(path) as entries:
            return any(True for _ in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return None
