"""One tqdm bar per stage, with an estimate of the time left (to stderr)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager


def stage_reporter(
    enabled: bool,
) -> Callable[..., AbstractContextManager[Callable[[int], object]]]:
    @contextmanager
    def stage(
        name: str, total: int, initial: int = 0, unit: str = "it"
    ) -> Iterator[Callable[[int], object]]:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total,
            initial=initial,
            desc=name,
            unit=unit,
            disable=not enabled,
            dynamic_ncols=True,
            mininterval=0.5,
        )
        try:
            yield bar.update
        finally:
            bar.close()

    return stage
