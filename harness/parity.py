"""Backend parity: do two backends give the same greedy outputs, and do adapters do anything?

`compare_backends` takes the runs of the base model and every adapter on two backends (made by
`harness.run_eval` on identical items; the rendered prompts must be identical) and compares
their greedy completions.
Per variant it reports how many items agree exactly, and for each adapter whether its outputs
differ from the base's on each backend. An adapter whose outputs equal the base's on every
item "had no effect": it was not loaded, was ignored by the backend, or its weights are zero —
a failure other harnesses report as a silent zero difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness._errors import HarnessError
from harness._types import GenerationParams

if TYPE_CHECKING:
    from harness._runner import EvalResult


@dataclass
class VariantParity:
    """Agreement of one variant (base or an adapter) across the two backends.

    Attributes:
        variant: "base" or the adapter name.
        n: Items compared.
        agree: Items whose outputs are identical on both backends.
        differs_from_base: Per backend name, items whose output differs from the base's
            (adapters only).
        mismatches: ``(sample id, output of backend A, output of backend B)`` for disagreements.
        errors: Failed requests, as ``"backend: sample id: error"``.
    """

    variant: str
    n: int
    agree: int
    differs_from_base: dict[str, int] = field(default_factory=dict)
    mismatches: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        """Fraction of items with identical outputs."""
        return self.agree / self.n if self.n else 0.0

    @property
    def no_effect_on(self) -> list[str]:
        """Backends on which this adapter's outputs equal the base's on every item."""
        return [b for b, d in self.differs_from_base.items() if d == 0 and self.n]


@dataclass
class ParityReport:
    """The result of `run_parity`."""

    backends: tuple[str, str]
    n_items: int
    params: GenerationParams
    variants: list[VariantParity]

    def failures(self, min_agreement: float) -> list[str]:
        """One line per problem: low agreement, an adapter with no effect, failed requests."""
        out = []
        for v in self.variants:
            if v.errors:
                out.append(f"{v.variant}: {len(v.errors)} failed requests ({v.errors[0]})")
            if v.agreement < min_agreement:
                out.append(f"{v.variant}: agreement {v.agreement:.0%} is below {min_agreement:.0%}")
            if v.no_effect_on:
                out.append(f"{v.variant}: adapter had no effect on {', '.join(v.no_effect_on)}")
        return out


def compare_backends(
    first: Sequence[EvalResult], second: Sequence[EvalResult], params: GenerationParams
) -> ParityReport:
    """Compares two backends' runs of the same variants (base first, then each adapter).

    Raises:
        HarnessError: The backends rendered some prompt differently (parity would be moot).
    """
    a_name, b_name = first[0].record.model.backend, second[0].record.model.backend
    base = first[0].record.model.adapter is None
    variants: list[VariantParity] = []
    for ra, rb in zip(first, second, strict=True):
        _same_prompts(ra, rb, a_name, b_name)
        variants.append(_variant(ra, rb, a_name, b_name))
    if base:
        base_out = {a_name: _texts(first[0]), b_name: _texts(second[0])}
        for v, ra, rb in zip(variants[1:], first[1:], second[1:], strict=True):
            v.differs_from_base = {
                name: sum(x != y for x, y in zip(_texts(r), base_out[name], strict=True))
                for name, r in ((a_name, ra), (b_name, rb))
            }
    return ParityReport((a_name, b_name), len(first[0].samples), params, variants)


def _same_prompts(ra: EvalResult, rb: EvalResult, a_name: str, b_name: str) -> None:
    for sa, sb in zip(ra.samples, rb.samples, strict=True):
        if sa.prompt != sb.prompt:
            raise HarnessError(
                f"{a_name} and {b_name} render item {sa.id} differently; use the same "
                f"model and --chat-template setting for both"
            )


def _texts(result: EvalResult) -> list[str]:
    return [s.outputs[0] if s.outputs else "" for s in result.samples]


def _variant(ra: EvalResult, rb: EvalResult, a_name: str, b_name: str) -> VariantParity:
    ids = [s.id for s in ra.samples]
    a_out, b_out = _texts(ra), _texts(rb)
    errors = [
        f"{name}: {s.id}: {e}"
        for name, r in ((a_name, ra), (b_name, rb))
        for s in r.samples
        for e in s.errors
    ]
    adapter = ra.record.model.adapter
    return VariantParity(
        variant=adapter.name if adapter else "base",
        n=len(ids),
        agree=sum(x == y for x, y in zip(a_out, b_out, strict=True)),
        mismatches=[(i, x, y) for i, x, y in zip(ids, a_out, b_out, strict=True) if x != y],
        errors=errors,
    )


def format_report(report: ParityReport, title: str) -> list[str]:
    """Lines of a plain-text table for the terminal."""
    a, b = report.backends
    lines = [title, f"{'variant':<20} {'agree':>12}  {a + '≠base':>10} {b + '≠base':>12}"]
    for v in report.variants:
        agree = f"{v.agree}/{v.n} {v.agreement:>4.0%}"
        da = "" if not v.differs_from_base else f"{v.differs_from_base[a]}/{v.n}"
        db = "" if not v.differs_from_base else f"{v.differs_from_base[b]}/{v.n}"
        note = "  adapter had no effect" if v.no_effect_on else ""
        lines.append(f"{v.variant[:20]:<20} {agree:>12}  {da:>10} {db:>12}{note}")
    return lines
