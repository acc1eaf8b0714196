"""The cost ledger that travels with every result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class CostLedger:
    """What a piece of work cost. Add ledgers with ``+`` or ``merge``.

    FLOPs follow the usual estimate of about 2 x parameters x tokens, for the
    generator and for the verifier separately.
    """

    generator_calls: int = 0
    verifier_calls: int = 0
    generations: int = 0
    generated_tokens: int = 0
    verifier_tokens: int = 0
    generator_flops: float = 0.0
    verifier_flops: float = 0.0
    wall_time_s: float = 0.0

    def record_generation(self, num_completions: int, tokens: int, num_parameters: int) -> None:
        self.generations += num_completions
        self.generated_tokens += tokens
        self.generator_flops += 2.0 * num_parameters * tokens

    def record_verification(self, tokens: int, num_parameters: int) -> None:
        self.verifier_tokens += tokens
        self.verifier_flops += 2.0 * num_parameters * tokens

    @property
    def total_flops(self) -> float:
        return self.generator_flops + self.verifier_flops

    def merge(self, other: CostLedger) -> CostLedger:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def __add__(self, other: CostLedger) -> CostLedger:
        return CostLedger(**asdict(self)).merge(other)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> CostLedger:
        """Fields it does not know are dropped: older files also held ``probe_generations``
        and ``probe_tokens``, always zero since the router stopped probing."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # type: ignore[arg-type]
