"""Stage 6: the artifact folder, written once and verified on every load.

Layout of an artifact folder::

    manifest.json        what produced it (model, verifier, backend, prompt config,
                         dataset and its sha256, all settings, versions, date, wall
                         time) and the sha256 of every file below
    table.json           the calibration table (calibration.analysis.table)
    problems.parquet     one row per problem: difficulty, levels in every binning
    evaluations.parquet  one row per (problem, strategy, budget, seed): accuracy, cost
    predictor.json       the difficulty predictor's fitted models as plain numbers
                         (calibration.predictor.plain_models)
    shards/              the resumable working state of `ttc calibrate` (not hashed)

The manifest is written last, so a folder without one is unfinished. Loading checks the
schema versions and every file's sha256 *before* reading it. The hash catches corruption
and accidental edits; like any unsigned manifest it does not stop someone who rewrites
both, which is why nothing in an artifact can run code: every file is JSON or Parquet.
Artifacts of schema version 1 stored the predictor as ``predictor.joblib``, a pickle,
which runs arbitrary code when loaded. This version never loads one: such an artifact is
refused with the command that refits it from its shards (``ttc calibrate --merge --out``, no
sampling), which writes predictor.json instead.

The difficulty predictor is verified with every other file but parsed only on request
(``Artifact.difficulty_predictor``): the router routes by its decision model
(sequential_model.json) and never reads the predictor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.analysis.table import TABLE_SCHEMA_VERSION, CalibrationTable
from calibration.predictor.model import DifficultyPredictor, models_from_json
from calibration.predictor.plain_models import PlainModelError
from runtime.decision_model import SequentialModel
from strategies import safe_files

ARTIFACT_SCHEMA_VERSION = 2
# version 1: identical but for the predictor, stored as a pickle (LEGACY_PREDICTOR)
READABLE_SCHEMA_VERSIONS = (1, 2)
ARTIFACT_KIND = "ttc-router calibration"

MANIFEST = "manifest.json"
TABLE = "table.json"
PROBLEMS = "problems.parquet"
EVALUATIONS = "evaluations.parquet"
PREDICTOR = "predictor.json"
LEGACY_PREDICTOR = "predictor.joblib"
SEQUENTIAL = "sequential_model.json"
SHARDS = "shards"
ARTIFACT_FILE_MODE = 0o644  # artifacts are for sharing, whatever the files they replace


class ArtifactError(ValueError):
    """A folder that cannot be used as a calibration artifact; the message says why."""


@dataclass(frozen=True)
class Manifest:
    """The typed view of manifest.json; ``raw`` keeps every field as written."""

    schema_version: int
    created: str
    package_version: str
    model: str
    verifier: str
    backend: str
    prompt_config: str
    dataset: dict[str, Any]
    settings: dict[str, Any]
    wall_time_s: float
    files: dict[str, str]
    predictor: dict[str, Any] | None
    versions: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": ARTIFACT_KIND,
            "schema_version": self.schema_version,
            "created": self.created,
            "package_version": self.package_version,
            "model": self.model,
            "verifier": self.verifier,
            "backend": self.backend,
            "prompt_config": self.prompt_config,
            "dataset": self.dataset,
            "settings": self.settings,
            "wall_time_s": self.wall_time_s,
            "files": self.files,
            "predictor": self.predictor,
            "versions": self.versions,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            schema_version=int(data["schema_version"]),
            created=str(data["created"]),
            package_version=str(data["package_version"]),
            model=str(data["model"]),
            verifier=str(data["verifier"]),
            backend=str(data["backend"]),
            prompt_config=str(data["prompt_config"]),
            dataset=dict(data["dataset"]),
            settings=dict(data["settings"]),
            wall_time_s=float(data["wall_time_s"]),
            files={str(k): str(v) for k, v in data["files"].items()},
            predictor=None if data.get("predictor") is None else dict(data["predictor"]),
            versions={str(k): str(v) for k, v in data.get("versions", {}).items()},
            raw=dict(data),
        )


@dataclass
class Artifact:
    """A verified calibration artifact, as the router and the curves read it.

    ``problems`` and ``evaluations`` are the two Parquet tables as DataFrames.
    """

    path: Path
    manifest: Manifest
    table: CalibrationTable
    problems: pd.DataFrame
    evaluations: pd.DataFrame
    sequential: SequentialModel | None = None

    def difficulty_predictor(self) -> DifficultyPredictor | None:
        """The fitted difficulty predictor (None for artifacts made without one: too few
        problems); its file was verified when the artifact was loaded."""
        return _load_predictor(self.path, self.manifest)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    safe_files.atomic_write(path, json.dumps(data, indent=1) + "\n", mode=ARTIFACT_FILE_MODE)


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    safe_files.atomic_write(
        path, lambda tmp: frame.to_parquet(tmp, index=False), mode=ARTIFACT_FILE_MODE
    )


def write_artifact(
    folder: Path,
    *,
    manifest: Manifest,
    table: CalibrationTable,
    problems: pd.DataFrame,
    evaluations: pd.DataFrame,
    predictor: DifficultyPredictor | None,
    sequential: SequentialModel | None = None,
) -> Manifest:
    """Write every file, then the manifest with their hashes; returns the manifest."""
    (folder / MANIFEST).unlink(missing_ok=True)  # the folder is unfinished until the end
    remove_stale_temporaries(folder)
    _write_json(folder / TABLE, table.to_json())
    _write_parquet(folder / PROBLEMS, problems)
    _write_parquet(folder / EVALUATIONS, evaluations)
    names = [TABLE, PROBLEMS, EVALUATIONS]
    predictor_metadata = None
    (folder / LEGACY_PREDICTOR).unlink(missing_ok=True)
    if predictor is not None:
        _write_json(folder / PREDICTOR, predictor.models_to_json())
        names.append(PREDICTOR)
        predictor_metadata = predictor.metadata()
    else:
        (folder / PREDICTOR).unlink(missing_ok=True)
    if sequential is not None:
        _write_json(folder / SEQUENTIAL, sequential.to_json())
        names.append(SEQUENTIAL)
    else:
        (folder / SEQUENTIAL).unlink(missing_ok=True)
    final = Manifest(
        schema_version=ARTIFACT_SCHEMA_VERSION,
        created=manifest.created,
        package_version=manifest.package_version,
        model=manifest.model,
        verifier=manifest.verifier,
        backend=manifest.backend,
        prompt_config=manifest.prompt_config,
        dataset=manifest.dataset,
        settings=manifest.settings,
        wall_time_s=manifest.wall_time_s,
        files={name: sha256_file(folder / name) for name in names},
        predictor=predictor_metadata,
        versions=manifest.versions,
    )
    _write_json(folder / MANIFEST, final.to_json())
    return final


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files a kill during an earlier write left behind.

    Only names this module writes are touched; callers hold the artifact lock, so no
    other writer can be half-way through one of them.
    """
    names = (MANIFEST, TABLE, PROBLEMS, EVALUATIONS, PREDICTOR, LEGACY_PREDICTOR, SEQUENTIAL)
    return safe_files.remove_stale_temporaries(*(folder / name for name in names))


def load_artifact(folder: str | Path) -> Artifact:
    """Load and verify an artifact folder; raises ArtifactError with the reason."""
    path = Path(folder)
    manifest = read_manifest(path)
    if LEGACY_PREDICTOR in manifest.files or (path / LEGACY_PREDICTOR).exists():
        raise ArtifactError(
            f"{path / LEGACY_PREDICTOR} is a pickle (an artifact of schema version 1), and "
            "loading a pickle runs whatever code its author put in it, so this version never "
            f"loads one. Refit the artifact from its recorded shards: `ttc calibrate --merge --out "
            f"{path}` (no sampling; it writes the predictor as plain JSON), or recalibrate"
        )
    for name, expected in manifest.files.items():
        _verify_file(path, name, expected)
    for required in (TABLE, PROBLEMS, EVALUATIONS):
        if required not in manifest.files:
            raise ArtifactError(f"{path / MANIFEST} lists no sha256 for {required}")
    table_data = _read_json(path / TABLE)
    table_version = table_data.get("schema_version")
    if table_version != TABLE_SCHEMA_VERSION:
        raise ArtifactError(
            f"{path / TABLE} has table schema version {table_version}; this version of "
            f"ttc-router reads version {TABLE_SCHEMA_VERSION}. Recalibrate with `ttc calibrate`."
        )
    try:
        table = CalibrationTable.from_json(table_data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path / TABLE} is malformed: {exc!r}") from None
    _check_predictor_listing(path, manifest)
    sequential = _load_sequential(path, manifest)
    return Artifact(
        path=path,
        manifest=manifest,
        table=table,
        problems=pd.read_parquet(path / PROBLEMS),
        evaluations=pd.read_parquet(path / EVALUATIONS),
        sequential=sequential,
    )


def _load_sequential(folder: Path, manifest: Manifest) -> SequentialModel | None:
    """The router's decision model (plain JSON numbers, verified by its sha256)."""
    if SEQUENTIAL not in manifest.files:
        return None
    try:
        return SequentialModel.from_json(_read_json(folder / SEQUENTIAL))
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{folder / SEQUENTIAL} is malformed: {exc!r}") from None


def read_manifest(path: Path) -> Manifest:
    """The manifest of an artifact folder, with its kind and schema version checked."""
    if not path.is_dir():
        raise ArtifactError(f"{path} is not a folder; a calibration artifact is a folder")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        hint = (
            " It holds unfinished calibration work: rerun the same `ttc calibrate` command "
            "(or `ttc calibrate --merge --out` it) to finish it."
            if (path / SHARDS).is_dir()
            else " Make one with `ttc calibrate --out FOLDER`."
        )
        raise ArtifactError(f"{path} is not a calibration artifact: it has no {MANIFEST}.{hint}")
    data = _read_json(manifest_path)
    if data.get("kind") != ARTIFACT_KIND:
        raise ArtifactError(f"{manifest_path} is not a ttc-router calibration manifest")
    version = data.get("schema_version")
    if version not in READABLE_SCHEMA_VERSIONS:
        raise ArtifactError(
            f"{manifest_path} has schema version {version}; this version of ttc-router "
            f"reads version {ARTIFACT_SCHEMA_VERSION}. Recalibrate with `ttc calibrate` "
            "(or use the ttc-router version that wrote it)."
        )
    try:
        return Manifest.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{manifest_path} is malformed: {exc!r}") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} does not hold a JSON object")
    return data


def _verify_file(folder: Path, name: str, expected: str) -> None:
    if Path(name).name != name:
        raise ArtifactError(f"{folder / MANIFEST} names a file outside the folder: {name!r}")
    path = folder / name
    if not path.is_file():
        raise ArtifactError(f"{path} is missing (listed in {MANIFEST})")
    actual = sha256_file(path)
    if actual != expected:
        raise ArtifactError(
            f"{path} does not match the sha256 recorded in {MANIFEST} (expected {expected[:12]}..., "
            f"found {actual[:12]}...): it was changed or corrupted after calibration. "
            "Refusing to load it; recalibrate or restore the original file."
        )


def _check_predictor_listing(folder: Path, manifest: Manifest) -> None:
    """The manifest and the folder agree on the predictor (its hash is checked with the
    other files'): an entry removed, or a file nobody listed, means the folder was edited."""
    if PREDICTOR in manifest.files:
        if manifest.predictor is None:
            raise ArtifactError(f"{folder / MANIFEST} lists {PREDICTOR} but no predictor metadata")
        return
    if manifest.predictor is not None:
        raise ArtifactError(
            f"{folder / MANIFEST} describes a difficulty predictor but lists no {PREDICTOR}: "
            "the file entry was removed; restore the manifest or recalibrate"
        )
    if (folder / PREDICTOR).exists():
        raise ArtifactError(
            f"{folder / PREDICTOR} is not listed in {MANIFEST}, so it cannot be verified; "
            "restore the manifest or recalibrate"
        )


def _load_predictor(folder: Path, manifest: Manifest) -> DifficultyPredictor | None:
    if PREDICTOR not in manifest.files or manifest.predictor is None:
        return None
    try:
        models = models_from_json(_read_json(folder / PREDICTOR), str(folder / PREDICTOR))
    except PlainModelError as exc:
        raise ArtifactError(str(exc)) from None
    try:
        return DifficultyPredictor.from_parts(models, manifest.predictor)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{folder / PREDICTOR}: {exc}") from None
