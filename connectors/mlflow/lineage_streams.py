"""The lineage streams of the ``mlflow`` source (``run_inputs``, ``logged_models``) and the
links from a registered version to its logged model, run and artifacts, as a mixin of
:class:`~mlreport.connectors.mlflow.source.MlflowSource` (which holds the backend, the
listing of experiments and runs, and the warehouse of the sync)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlreport.connectors.mlflow.cursor import CURSOR_VERSION, digest
from mlreport.connectors.mlflow.lineage import (
    LOGGED_MODEL_SCHEMA,
    RUN_INPUT_SCHEMA,
    logged_model_row,
    model_id_of,
    version_links,
)
from mlreport.connectors.mlflow.rows import to_frame
from mlreport.sources import Checkpoint, Rows


class LineageStreams:
    """Readers of the lineage streams; see docs/sources-mlflow.md ("Lineage")."""

    _logged: list[dict] | None
    _linked: dict[tuple[str, str], str]
    _run_inputs: dict[str, list[dict]] | None
    backend: Any
    warehouse: Any
    name: str
    options: Any

    # -- run_inputs ---------------------------------------------------------------------------

    def _read_run_inputs(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        """The datasets of runs whose inputs changed since the cursor's digest of them
        (MLflow only adds inputs; the rows of a run that is deleted stay)."""
        if self._run_inputs is None:  # read alone: list runs for their inputs
            for _ in self._read_runs({}, prefetch=False):  # type: ignore[attr-defined]
                pass
        old = cursor.get("digests", {})
        digests = {r: d for r, d in old.items()}
        rows: list[dict] = []
        for run_id, inputs in sorted((self._run_inputs or {}).items()):
            d = digest(inputs)
            if old.get(run_id) != d:
                rows += inputs
                digests[run_id] = d
        if rows:
            yield Rows(to_frame(rows, RUN_INPUT_SCHEMA))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    # -- logged_models ------------------------------------------------------------------------

    def _logged_models_now(self) -> list[dict]:
        """Every logged model of every experiment (versions may link to any), read once."""
        if self._logged is None:
            self._selected_experiments()  # type: ignore[attr-defined]
            ids = sorted(self._all_experiments)  # type: ignore[attr-defined]
            self._logged = list(self.backend.logged_models(ids)) if ids else []
            self._linked = version_links(self._logged)
            self._tally()  # type: ignore[attr-defined]
        return self._logged

    def _read_logged_models(self, cursor: dict) -> Iterator[Rows | Checkpoint]:
        """Logged models of the selected experiments; one gone from MLflow keeps its row,
        with status DELETED."""
        wanted = {str(e["experiment_id"]) for e in self._selected_experiments()}  # type: ignore[attr-defined]
        old = cursor.get("digests", {})
        digests, rows = {}, []
        for model in self._logged_models_now():
            row = logged_model_row(model)
            if row["experiment_id"] not in wanted:
                continue
            digests[row["model_id"]] = d = digest(row)
            if old.get(row["model_id"]) != d:
                rows.append(row)
        listed = {logged_model_row(m)["model_id"] for m in self._logged_models_now()}
        gone = sorted(set(old) - set(digests) - listed)  # not merely outside the globs
        if gone and self.warehouse is not None:
            stored = self._stored_logged_models(gone)
            rows += [dict(r, status="DELETED") for r in stored if r["status"] != "DELETED"]
        if rows:
            yield Rows(to_frame(rows, LOGGED_MODEL_SCHEMA, ("created_at",)))
        yield Checkpoint({"v": CURSOR_VERSION, "digests": digests})

    def _stored_logged_models(self, ids: list[str]) -> list[dict]:
        cols = ", ".join(
            "epoch_ms(created_at)" if c == "created_at" else c for c in LOGGED_MODEL_SCHEMA
        )
        found = self.warehouse.con.execute(
            f"SELECT {cols} FROM logged_models WHERE source = ? "
            "AND model_id IN (SELECT unnest(?::VARCHAR[]))",
            [self.name, ids],
        ).fetchall()
        return [dict(zip(LOGGED_MODEL_SCHEMA, r, strict=True)) for r in found]

    # -- links of a registered version --------------------------------------------------------

    def _model_id_of(self, version: dict) -> str | None:
        """The logged model a version was made from (``lineage.model_id_of``)."""
        found = model_id_of(version, {})
        if found is not None:
            return found
        self._logged_models_now()
        return model_id_of(version, self._linked)

    def _run_id_of(self, version: dict) -> str | None:
        """The version's run; MLflow 3 versions made from a logged model may carry only its
        ``model_id`` — then the logged model's source run."""
        if version.get("run_id"):
            return str(version["run_id"])
        model_id = self._model_id_of(version)
        if not model_id:
            return None
        for model in self._logged_models_now():
            info = model.get("info") if isinstance(model.get("info"), dict) else model
            if str(info.get("model_id")) == model_id:
                return info.get("source_run_id") or None
        return None

    def _ever_in_production(self, models: list[dict]) -> set[tuple[str, str]]:
        """(model, version) of every version that holds a production alias now or held one
        in a stored ``alias_set`` event: the versions whose artifacts each sync checks."""
        aliases = set(self.options.production_aliases)
        found = {
            (m["name"], str(a["version"]))
            for m in models
            for a in m.get("aliases") or []
            if a.get("alias") in aliases
        }
        if self.warehouse is not None and aliases:
            rows = self.warehouse.con.execute(
                "SELECT DISTINCT name, version FROM model_events WHERE source = ? "
                "AND event = 'alias_set' AND list_contains(?::VARCHAR[], key)",
                [self.name, sorted(aliases)],
            ).fetchall()
            found |= {(n, str(v)) for n, v in rows}
        return found
