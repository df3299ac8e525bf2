"""The reused and the fresh sandbox give identical verdicts on a mixed batch of 200 programs.

The batch mixes right and wrong solutions with the cheat battery (``test_cheats.py``) and the
poisons (``test_poison.py``), shuffled, so in the reused mode many programs run in a slot a
hostile or poisoning program used just before. Also here: the memory of a program and its
children is capped in total, not only per process.
"""

from __future__ import annotations

import random
import shutil

import pytest

from harness.sandbox import Check, Limits, Sandbox
from tests.sandbox.test_cheats import CHEATS
from tests.sandbox.test_cheats import CHECK as CHEAT_CHECK
from tests.sandbox.test_cheats import PROMPT as CHEAT_PROMPT
from tests.sandbox.test_cheats import RIGHT as CHEAT_RIGHT
from tests.sandbox.test_poison import CHECK, POISONS, PROMPT, RIGHT

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")

WRONG = [
    "    return a - b\n",
    "    return a + b + 1\n",
    "    raise ValueError('no')\n",
    "    return None\n",
    "    return str(a + b)\n",
    "    return a +\n",  # a syntax error
    "    import time\n    time.sleep(30)\n",  # hangs: a timeout
]
RIGHTS = [RIGHT, "    return sum((a, b))\n", "    import operator\n    return operator.add(a, b)\n"]


def batch(size: int = 200) -> list[tuple[str, Check, bool]]:
    """(program, check, whether it is right) for a shuffled mixed batch of ``size``."""
    items: list[tuple[str, Check, bool]] = []
    # The pid burner is left out: whether it finishes within the timeout depends on speed.
    poisons = [text for name, text in POISONS.items() if name != "pid_counter_burned"]
    items += [(PROMPT + RIGHT + poison, CHECK, True) for poison in poisons]
    items += [(CHEAT_PROMPT + cheat, CHEAT_CHECK, False) for cheat in CHEATS.values()]
    items += [(PROMPT + text, CHECK, False) for text in WRONG]
    rng = random.Random(23)
    while len(items) < size:
        if rng.random() < 0.8:
            items.append((PROMPT + rng.choice(RIGHTS), CHECK, True))
        else:
            items.append((CHEAT_PROMPT + CHEAT_RIGHT, CHEAT_CHECK, True))
    rng.shuffle(items)
    return items[:size]


def verdicts(reuse: bool, items: list[tuple[str, Check, bool]]) -> list[bool]:
    # Four slots on two cores: a fresh sandbox spends most of its time waiting on bwrap.
    with Sandbox(Limits(timeout=3.0, memory_mb=512), reuse=reuse, workers=4) as sb:
        results = sb.run_many([p for p, _, _ in items], checks=[c for _, c, _ in items])
    assert not [r for r in results if r.status == "error"], "the sandbox failed to judge"
    return [r.passed for r in results]


def test_a_mixed_batch_of_200_gets_the_same_verdicts_reused_and_fresh() -> None:
    items = batch()
    assert len(items) == 200
    reused, fresh = verdicts(True, items), verdicts(False, items)
    differ = [i for i, (a, b) in enumerate(zip(reused, fresh, strict=True)) if a != b]
    assert differ == [], [items[i][0][-300:] for i in differ]
    # Every right program passes (poisons included: their own function is right) and no
    # wrong or cheating one does.
    wrong_verdicts = [i for i, (_, _, right) in enumerate(items) if reused[i] != right]
    assert wrong_verdicts == [], [items[i][0][-300:] for i in wrong_verdicts]


CHILDREN_HOLD = (
    "import os, time\n"
    "def hold(mib):\n    block = bytearray(mib << 20)\n    for i in range(0, len(block), 4096):\n"
    "        block[i] = 1\n    return block\n"
    "r, w = os.pipe()\nfor _ in range(4):\n    if os.fork() == 0:\n"
    "        keep = hold(150)\n        os.write(w, b'1')\n        time.sleep(30)\n"
    "        os._exit(0)\n"
    "got = b''\nwhile len(got) < 4:\n    got += os.read(r, 4)\nprint('all held')\n"
)


@pytest.mark.parametrize("reuse", [True, False], ids=["reused", "fresh"])
def test_children_cannot_exceed_the_memory_limit_together(reuse: bool) -> None:
    """4 children of 150 MiB each fit the 256 MiB per-process limit, not the total."""
    with Sandbox(Limits(timeout=10.0, memory_mb=256), reuse=reuse, workers=1) as sb:
        r = sb.run(CHILDREN_HOLD)
        alone = sb.run(CHILDREN_HOLD.replace("range(4)", "range(1)").replace("< 4", "< 1"))
    assert r.status == "killed" and "all held" not in r.stdout, r
    assert "more memory than the limit" in r.detail
    assert alone.ok and "all held" in alone.stdout, alone
