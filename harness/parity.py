"""Backend parity: do two backends give the same greedy outputs, and do adapters do anything?

`run_parity` renders each item once per backend (the strings must be identical), then asks
both backends for greedy completions of the base model and every adapter on the same items.
Per variant it reports how many items agree exactly, and for each adapter whether its outputs
differ from the base's on each backend. An adapter whose outputs equal the base's on every
item "had no effect": it was not loaded, was ignored by the backend, or its weights are zero —
a failure other harnesses report as a silent zero difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from harness._errors import HarnessError
from harness._types import GenerationParams, Sample
from harness.backends._base import AdapterSpec, Backend


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


def _greedy(
    backend: Backend,
    prompts: list[object],
    params: GenerationParams,
    adapter: AdapterSpec | None,
    ids: list[str],
    errors: list[str],
) -> list[str]:
    texts = [""] * len(prompts)
    for i, gen in backend.generate(prompts, params, adapter):
        texts[i] = gen.text
        if gen.error:
            errors.append(f"{backend.name}: {ids[i]}: {gen.error}")
    return texts


def run_parity(
    samples: Sequence[Sample],
    first: Backend,
    second: Backend,
    adapters: Sequence[AdapterSpec] = (),
    params: GenerationParams | None = None,
) -> ParityReport:
    """Greedy outputs of ``first`` and ``second`` for the base and each adapter.

    Raises:
        HarnessError: The backends render some prompt differently (parity would be moot).
    """
    params = replace(params or GenerationParams(), temperature=0.0, n=1)
    rendered = [first.render(s.prompt) for s in samples]
    other = [second.render(s.prompt) for s in samples]
    for s, a, b in zip(samples, rendered, other, strict=True):
        if a != b:
            raise HarnessError(
                f"{first.name} and {second.name} render item {s.id} differently; use the same "
                f"model and --chat-template setting for both"
            )
    first.prepare(list(adapters))
    second.prepare(list(adapters))
    ids = [s.id for s in samples]
    variants: list[VariantParity] = []
    base_out: dict[str, list[str]] = {}
    for adapter in [None, *adapters]:
        errors: list[str] = []
        outs = {b.name: _greedy(b, rendered, params, adapter, ids, errors) for b in (first, second)}
        a_out, b_out = outs[first.name], outs[second.name]
        v = VariantParity(
            variant=adapter.name if adapter else "base",
            n=len(samples),
            agree=sum(x == y for x, y in zip(a_out, b_out, strict=True)),
            mismatches=[(i, x, y) for i, x, y in zip(ids, a_out, b_out, strict=True) if x != y],
            errors=errors,
        )
        if adapter is None:
            base_out = outs
        else:
            v.differs_from_base = {
                name: sum(x != y for x, y in zip(texts, base_out[name], strict=True))
                for name, texts in outs.items()
            }
        variants.append(v)
    return ParityReport((first.name, second.name), len(samples), params, variants)


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
