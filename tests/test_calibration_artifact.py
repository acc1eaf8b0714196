"""The artifact: verified loading, and refusal of tampered or foreign folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from calibration.config import CalibrationConfig
from calibration.pipeline import run_calibration
from calibration.store.artifact import (
    MANIFEST,
    PREDICTOR,
    TABLE,
    ArtifactError,
    load_artifact,
    sha256_file,
)
from calibration.store.work_state import read_samples, shards_folder
from runtime.sample_features import FEATURE_NAMES, sample_features


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("artifact") / "sim"
    config = CalibrationConfig(
        problems="simulator:24",
        model="simulator",
        backend="simulator",
        verifier="simulator",
        prompt_config="llama-math",
        samples=8,
        budgets=(1, 2, 4),
        strategies=("majority", "weighted_best_of_n", "beam_search"),
        seeds=1,
        draws=16,
        probe_k=3,
        probe_draws=4,
        bootstrap=50,
        cv_repeats=2,
        batch_size=12,
        out=out,
        progress=False,
    )
    run_calibration(config)
    return out


@pytest.fixture
def copy_of(artifact_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(artifact_dir, target)
    return target


def test_load_gives_typed_verified_artifact(artifact_dir):
    artifact = load_artifact(artifact_dir)
    assert artifact.manifest.model == "simulator"  # the simulator needs no model
    assert artifact.manifest.backend == "simulator"
    assert artifact.manifest.dataset["num_used"] == 24
    assert set(artifact.manifest.files) == {
        TABLE,
        PREDICTOR,
        "problems.parquet",
        "evaluations.parquet",
        "sequential_model.json",
    }
    assert artifact.sequential is not None and artifact.sequential.rungs[0] == 0
    assert artifact.table.budgets == (1, 2, 4)
    assert set(artifact.table.binnings) == {"oracle", "verifier", "absolute", "predicted"}
    assert len(artifact.problems) == 24
    predictor = artifact.difficulty_predictor()
    assert predictor is not None and predictor.probe_k == 3
    assert artifact.manifest.settings["samples"] == 8
    assert artifact.manifest.wall_time_s > 0


def test_predictor_reads_samples_with_the_training_feature_function(artifact_dir):
    predictor = load_artifact(artifact_dir).difficulty_predictor()
    samples = read_samples(shards_folder(artifact_dir))
    pool = next(iter(samples.values()))
    probe = [s.to_candidate() for s in pool.samples[:3]]
    assert predictor is not None
    features = predictor.features(probe)
    assert features.shape == (len(FEATURE_NAMES),)
    assert np.array_equal(features, sample_features(probe))
    distribution = predictor.bin_distribution(probe)
    assert sorted(distribution) == [1, 2, 3, 4, 5]
    assert sum(distribution.values()) == pytest.approx(1.0)
    prediction = predictor.predict(probe, binning="absolute")
    assert sorted(prediction.distribution) == [1, 2, 3]
    assert 0.0 <= prediction.pass_at_1 <= 1.0


def test_tampered_predictor_is_refused(copy_of):
    with open(copy_of / PREDICTOR, "ab") as stream:
        stream.write(b" ")
    with pytest.raises(ArtifactError, match=r"predictor\.json does not match the sha256"):
        load_artifact(copy_of)


def test_wrong_manifest_schema_version_is_refused(copy_of):
    manifest = json.loads((copy_of / MANIFEST).read_text())
    manifest["schema_version"] = 99
    (copy_of / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="schema version 99"):
        load_artifact(copy_of)


def test_wrong_table_schema_version_is_refused_even_with_a_fixed_hash(copy_of):
    table = json.loads((copy_of / TABLE).read_text())
    table["schema_version"] = 2
    (copy_of / TABLE).write_text(json.dumps(table))
    with pytest.raises(ArtifactError, match=r"table\.json does not match the sha256"):
        load_artifact(copy_of)
    manifest = json.loads((copy_of / MANIFEST).read_text())
    manifest["files"][TABLE] = sha256_file(copy_of / TABLE)
    (copy_of / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="table schema version 2"):
        load_artifact(copy_of)


def test_missing_file_is_refused(copy_of):
    (copy_of / "problems.parquet").unlink()
    with pytest.raises(ArtifactError, match=r"problems\.parquet is missing"):
        load_artifact(copy_of)


def test_folders_that_are_not_artifacts_get_clear_messages(tmp_path, copy_of):
    with pytest.raises(ArtifactError, match="is not a folder"):
        load_artifact(tmp_path / "nowhere")
    with pytest.raises(ArtifactError, match=r"has no manifest\.json.*ttc calibrate --out"):
        load_artifact(tmp_path)
    (copy_of / MANIFEST).unlink()
    with pytest.raises(ArtifactError, match="unfinished calibration work"):
        load_artifact(copy_of)
