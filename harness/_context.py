"""The run context: every setting an evaluation needs beyond the task, model and data.

One frozen value, built once (by the command line from its flags and the environment, or by
library code directly) and passed down to the runner and to every scorer's ``preflight`` and
``score_all``. Nothing in harness, tasks, judges or adapters reads a harness setting from
``os.environ``: environment variables are only defaults the command line reads at its edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness._cache import RequestCache
from harness._prompting import PromptOptions
from harness._ui import Reporter
from harness.reasoning import ReasoningOptions


@dataclass(frozen=True)
class CodeExecution:
    """Whether scorers may run model-written programs, and how.

    Attributes:
        allow: Code tasks may execute completions (``--allow-code-execution``).
        sandbox: Run them inside the bubblewrap sandbox; False only with
            ``--unsafe-no-sandbox``.
        python: Interpreter the programs run with (``$HARNESS_SANDBOX_PYTHON`` for the
            command line; None: the system python3).
    """

    allow: bool = False
    sandbox: bool = True
    python: str | None = None

    def __post_init__(self) -> None:
        if not self.sandbox and not self.allow:
            from harness._errors import HarnessError

            raise HarnessError("--unsafe-no-sandbox also needs --allow-code-execution")


@dataclass(frozen=True)
class TokenPrice:
    """What the model's endpoint charges, for the cost estimate in each run record.

    Attributes:
        per_1k_in: Price of 1,000 prompt tokens.
        per_1k_out: Price of 1,000 generated tokens.
    """

    per_1k_in: float
    per_1k_out: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        """The estimated cost of ``tokens_in`` prompt and ``tokens_out`` generated tokens."""
        return (tokens_in * self.per_1k_in + tokens_out * self.per_1k_out) / 1000


@dataclass(frozen=True)
class RunContext:
    """Settings shared by one evaluation's runner and scorers.

    Attributes:
        code: Code-execution policy for scorers that run programs.
        judge: Default judge for judge scorers (a ``judges.JudgeConfig``; harness itself never
            imports ``judges``). Task parameters override its fields; None: no judge.
        cache: Request cache (None: every request goes to the model).
        runs_dir: Where run folders are written (None: nothing written).
        reporter: Progress events.
        command: The argv recorded in each run (None: ``sys.argv``).
        price: The model endpoint's price per token (None: no cost estimate).
        reasoning: How outputs are split into thinking and answer (``--reasoning-markers``,
            ``--no-reasoning-split``).
        prompting: Few-shot turns and too-long prompts (``--fewshot-as-multiturn``,
            ``--truncate-prompt``).
    """

    code: CodeExecution = CodeExecution()
    judge: Any = None
    cache: RequestCache | None = None
    runs_dir: Path | None = Path("runs")
    reporter: Reporter = field(default_factory=Reporter)
    command: Sequence[str] | None = None
    price: TokenPrice | None = None
    reasoning: ReasoningOptions = ReasoningOptions()
    prompting: PromptOptions = PromptOptions()
