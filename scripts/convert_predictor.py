"""Convert an old (schema 1) artifact's pickled predictor.joblib to plain-data predictor.json.

Loading a pickle runs its author's code, so do this only for an artifact you made
yourself or got from a source you trust. Afterwards the artifact loads with no flag and
no pickle; every other file stays as it was (the manifest gets the new file's sha256).

Run: .venv/bin/python -m scripts.convert_predictor ARTIFACT_DIR [--yes]
"""

from __future__ import annotations

import argparse
import sys

from calibration.store.artifact import ArtifactError, convert_pickled_predictor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifact", help="artifact folder holding predictor.joblib")
    parser.add_argument(
        "--yes",
        action="store_true",
        help="I trust this artifact's predictor.joblib (it is unpickled once, to convert it)",
    )
    args = parser.parse_args(argv)
    if not args.yes:
        print(
            f"convert_predictor: {args.artifact}/predictor.joblib is a pickle and converting "
            "it means loading it, which runs whatever code it holds. Rerun with --yes if you "
            "made this artifact or trust where it came from.",
            file=sys.stderr,
        )
        return 2
    try:
        manifest = convert_pickled_predictor(args.artifact)
    except ArtifactError as exc:
        print(f"convert_predictor: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"convert_predictor: {args.artifact}: predictor.json written (sha256 "
        f"{manifest.files['predictor.json'][:12]}...), predictor.joblib removed, "
        f"manifest schema version {manifest.schema_version}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
