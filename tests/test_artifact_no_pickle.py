"""Artifacts never run code: the predictor is plain JSON data, an old artifact's pickle is
refused and never loaded (it is refitted from its shards instead), plain models against
scikit-learn, and a scan of the product for pickle loaders."""

from __future__ import annotations

import builtins
import json
import re
import shutil
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from sim_calibration import calibrate_simulator

from calibration.predictor import plain_models
from calibration.predictor.model import new_classifier, new_regressor
from calibration.store.artifact import (
    LEGACY_PREDICTOR,
    MANIFEST,
    PREDICTOR,
    ArtifactError,
    load_artifact,
    sha256_file,
)
from router.cli import main
from runtime.sample_features import FEATURE_NAMES

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "artifacts" / "smollm2-arithmetic"


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "sim"
    return calibrate_simulator(out, problems="simulator:24", samples=4, strategies=("majority",))


def _fitted_sklearn_models(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, len(FEATURE_NAMES)))
    oracle = rng.integers(1, 6, size=60)
    absolute = rng.integers(1, 4, size=60)
    return {
        "classifiers": {
            "oracle": new_classifier(oracle).fit(x, oracle),
            "absolute": new_classifier(absolute).fit(x, absolute),
        },
        "regressor": new_regressor().fit(x, rng.uniform(size=60)),
    }


def _as_schema_1(folder: Path, pickled: object) -> None:
    """Turn a fresh artifact into what version 1 wrote: the predictor as a pickle."""
    joblib.dump(pickled, folder / LEGACY_PREDICTOR)
    (folder / PREDICTOR).unlink()
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["schema_version"] = 1
    del manifest["files"][PREDICTOR]
    manifest["files"][LEGACY_PREDICTOR] = sha256_file(folder / LEGACY_PREDICTOR)
    (folder / MANIFEST).write_text(json.dumps(manifest))


class _RunsCode:
    """Unpickling this object writes a file: what a hostile artifact would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


def test_the_predictor_is_stored_as_plain_json(artifact_dir):
    data = json.loads((artifact_dir / PREDICTOR).read_text())
    assert set(data["classifiers"]) == {"oracle", "absolute"}
    assert data["regressor"]["estimator"]["kind"] == "linear_regressor"
    assert not (artifact_dir / LEGACY_PREDICTOR).exists()
    assert load_artifact(artifact_dir).manifest.schema_version == 2


def test_a_hostile_pickle_with_a_matching_hash_is_refused_without_running_it(
    artifact_dir, tmp_path
):
    folder = tmp_path / "hostile"
    shutil.copytree(artifact_dir, folder)
    marker = tmp_path / "code-ran"
    _as_schema_1(folder, _RunsCode(marker))  # manifest hashes fixed up, as an attacker would
    with pytest.raises(ArtifactError, match=r"predictor\.joblib is a pickle.*never loads one"):
        load_artifact(folder)
    assert not marker.exists()
    out = tmp_path / "answers.jsonl"
    code = main(["solve", "simulator:3:1", "--calibration", str(folder), "--out", str(out)])
    assert code == 2 and not marker.exists() and not out.exists()


def test_an_old_artifact_is_refitted_from_its_shards_without_unpickling(artifact_dir, tmp_path):
    """What replaces the pickle path: `ttc calibrate --merge --out` rebuilds a schema-1 artifact
    from its recorded shards (no sampling) and writes the predictor as plain JSON; the
    pickle, hostile here, is deleted unread."""
    folder = tmp_path / "old"
    shutil.copytree(artifact_dir, folder)
    marker = tmp_path / "code-ran"
    _as_schema_1(folder, _RunsCode(marker))
    out = tmp_path / "answers.jsonl"
    args = ["solve", "simulator:3:1", "--calibration", str(folder), "--out", str(out)]
    assert main([*args, "--no-progress"]) == 2
    with pytest.raises(ArtifactError, match=r"ttc calibrate --merge --out .*old`"):
        load_artifact(folder)
    assert main(["calibrate", "--merge", "--out", str(folder), "--no-progress"]) == 0
    assert not marker.exists() and not (folder / LEGACY_PREDICTOR).exists()
    refitted = load_artifact(folder)
    assert refitted.manifest.schema_version == 2 and PREDICTOR in refitted.manifest.files
    assert refitted.difficulty_predictor() is not None
    assert main([*args, "--no-progress"]) == 0
    assert len(out.read_text().splitlines()) == 3 and not marker.exists()


def test_a_manifest_without_its_predictor_entry_is_refused(artifact_dir, tmp_path):
    folder = tmp_path / "cut"
    shutil.copytree(artifact_dir, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    del manifest["files"][PREDICTOR]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"lists no predictor\.json.*entry was removed"):
        load_artifact(folder)
    manifest["predictor"] = None
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"predictor\.json is not listed"):
        load_artifact(folder)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["regressor"]["estimator"].update(coef=[1.0]), "has 1 entries, expected 13"),
        (lambda d: d["classifiers"]["oracle"].update(format=7), "format is 7"),
        (lambda d: d["classifiers"]["oracle"]["estimator"].update(kind="exec"), "kind is 'exec'"),
        (lambda d: d.update(regressor=d["classifiers"]["oracle"]), "expected a regressor"),
        (lambda d: d["regressor"].update(estimator=None), "must be a JSON object"),
    ],
)
def test_a_malformed_predictor_json_names_the_field(artifact_dir, tmp_path, edit, message):
    """Parsed only when asked for (the router never reads it), and refused then."""
    folder = tmp_path / "bad"
    shutil.copytree(artifact_dir, folder)
    data = json.loads((folder / PREDICTOR).read_text())
    edit(data)
    (folder / PREDICTOR).write_text(json.dumps(data))
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"][PREDICTOR] = sha256_file(folder / PREDICTOR)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    artifact = load_artifact(folder)
    with pytest.raises(ArtifactError, match=re.escape(message)):
        artifact.difficulty_predictor()


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_plain_models_predict_as_scikit_learn(classes):
    rng = np.random.default_rng(classes)
    x = rng.normal(size=(80, 6)) * rng.uniform(0.5, 20, size=6) + rng.normal(size=6)
    labels = rng.integers(0, classes, size=80) + 1
    rows = rng.normal(size=(9, 6)) * 5
    classifier = new_classifier(labels).fit(x, labels)
    plain = plain_models.from_json(json.loads(json.dumps(plain_models.to_json(
        plain_models.from_sklearn(classifier)))))  # fmt: skip
    np.testing.assert_allclose(
        plain.predict_proba(rows), classifier.predict_proba(rows), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_array_equal(plain.predict(rows), classifier.predict(rows))
    np.testing.assert_array_equal(plain.classes_, classifier.classes_)
    regressor = new_regressor().fit(x, rng.uniform(size=80))
    plain_regressor = plain_models.from_json(
        json.loads(json.dumps(plain_models.to_json(plain_models.from_sklearn(regressor))))
    )
    np.testing.assert_allclose(plain_regressor.predict(rows), regressor.predict(rows), rtol=1e-12)
    single = new_classifier(np.ones(5, dtype=int)).fit(x[:5], np.ones(5, dtype=int))
    plain_single = plain_models.from_sklearn(single)
    np.testing.assert_allclose(plain_single.predict_proba(rows), single.predict_proba(rows))


def test_models_outside_the_fixed_list_are_refused():
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=2).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(plain_models.PlainModelError, match="RandomForestClassifier cannot be"):
        plain_models.from_sklearn(forest)


PICKLE_LOADERS = re.compile(
    r"joblib\.load\(|pickle\.loads?\(|Unpickler\(|read_pickle\(|allow_pickle\s*=\s*True"
    r"|torch\.load\(|cloudpickle|dill\."
)


def test_no_pickle_loader_in_the_product():
    """A grep of the product code: nothing loads a pickle."""
    found = []
    for package in ("strategies", "runtime", "calibration", "router"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if PICKLE_LOADERS.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}")
    assert found == []


def test_loading_artifacts_and_solving_unpickle_nothing(artifact_dir, tmp_path):
    """At run time: no unpickler resolves a class while artifacts load and solve runs."""
    events: list[tuple] = []
    watching = [True]

    def hook(event: str, args: tuple) -> None:
        if watching[0] and event == "pickle.find_class":
            events.append(args)

    sys.addaudithook(hook)  # cannot be removed; ``watching`` switches it off
    try:
        load_artifact(SHIPPED)
        out = tmp_path / "answers.jsonl"
        args = ["solve", "simulator:4:1", "--calibration", str(artifact_dir), "--out", str(out)]
        assert main([*args, "--no-progress"]) == 0
    finally:
        watching[0] = False
    assert events == []


def test_the_shipped_artifact_has_no_pickle():
    manifest = json.loads((SHIPPED / MANIFEST).read_text())
    assert manifest["schema_version"] == 2 and PREDICTOR in manifest["files"]
    assert not (SHIPPED / LEGACY_PREDICTOR).exists()
    assert load_artifact(SHIPPED).difficulty_predictor() is not None
