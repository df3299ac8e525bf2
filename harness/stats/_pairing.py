"""How two runs' samples line up: pairing by id, with the same targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from harness.stats._comparison import canonical

# A task declares that its items come in clusters (the same source phrased several ways) by
# putting the cluster label under this key of each sample's metadata; comparisons then
# resample whole clusters.
CLUSTER_KEY = "cluster"


@dataclass
class Pairing:
    """How two runs' samples line up.

    Attributes:
        paired: True when both runs hold exactly the same item ids with identical targets.
        ids: The ids to compare, in the baseline's order (all shared ids when paired).
        reason: Why the runs could not be paired (None when paired).
    """

    paired: bool
    ids: list[str]
    reason: str | None = None


def pair_samples(base: Sequence[Any], cand: Sequence[Any]) -> Pairing:
    """Pairs two runs' samples by id, checking the items are the same.

    Args:
        base: Baseline `harness.record.SampleRecord`s (anything with ``id`` and ``target``).
        cand: Candidate sample records.

    Returns:
        A `Pairing`; unpaired (with the reason) when ids differ, repeat, or targets differ.
    """
    b_ids = [s.id for s in base]
    c_ids = [s.id for s in cand]
    if len(set(b_ids)) != len(b_ids) or len(set(c_ids)) != len(c_ids):
        return Pairing(False, [], "sample ids repeat within a run")
    if set(b_ids) != set(c_ids):
        only_b, only_c = len(set(b_ids) - set(c_ids)), len(set(c_ids) - set(b_ids))
        return Pairing(
            False, [], f"item ids differ ({only_b} only in baseline, {only_c} only in candidate)"
        )
    c_by_id = {s.id: s for s in cand}
    diff = [s.id for s in base if canonical(s.target) != canonical(c_by_id[s.id].target)]
    if diff:
        return Pairing(False, [], f"targets differ on {len(diff)} items (first: {diff[0]!r})")
    return Pairing(True, b_ids)
