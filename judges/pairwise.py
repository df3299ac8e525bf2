"""Pairwise judging: is run A's answer better than run B's, asked in both orders.

Each item is judged twice, once with A's answer shown first and once with B's first. Two
verdicts that agree (after undoing the swap) stand; verdicts that disagree become a tie and
count as *inconsistent*. When the judge picks the same position both times (first/first or
second/second) that is position bias, reported as rates for each position. Items where either
reply cannot be read count as parse failures and are left out of win rates, never turned into
ties silently. Human verdicts in ``metadata["human_winner"]`` ("a", "b", "tie") give Cohen's
kappa.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import DataError, HarnessError, SampleRecord, read_run, read_samples
from judges.agreement import verdict_agreement
from judges.client import JudgeClient, JudgeReply, JudgeRequest
from judges.config import JudgeConfig
from judges.parse import PAIR_SCHEMA, Verdict, parse_brackets, parse_winner
from judges.templates import JudgeTemplate, load_template
from judges.turns import pair_fields


@dataclass
class PairItem:
    """One item to compare: the question and the two answers (and, for a multi-turn item,
    every user turn and each side's answer to each, and a reference per turn)."""

    id: str
    question: str
    answer_a: str
    answer_b: str
    human: str | None = None
    questions: list[str] = field(default_factory=list)
    turns_a: list[str] = field(default_factory=list)
    turns_b: list[str] = field(default_factory=list)
    refs: list[str | None] = field(default_factory=list)

    def turns(self) -> tuple[list[str], list[str], list[str]]:
        """(questions, A's answers, B's answers), one per turn; the last turn is judged."""
        if self.questions and len(self.turns_a) == len(self.turns_b) == len(self.questions):
            return self.questions, self.turns_a, self.turns_b
        return [self.question], [self.answer_a], [self.answer_b]


@dataclass
class PairVerdict:
    """The judgement of one item.

    Attributes:
        id: Item id.
        first: Verdict with A shown first, in run terms ("a", "b", "tie"; None: unreadable).
        second: Verdict with B shown first, mapped back to run terms.
        final: The combined verdict ("a", "b", "tie"), None on a parse failure.
        consistent: Both orders agree (None on a parse failure).
        position: "first" or "second" when the judge picked that slot both times.
    """

    id: str
    first: str | None
    second: str | None
    final: str | None
    consistent: bool | None
    position: str | None
    reasons: list[str | None] = field(default_factory=list)
    turn: int | None = None


@dataclass
class PairwiseResult:
    """Win rates of A over B, with the judge's consistency and position bias."""

    n: int
    wins_a: int
    wins_b: int
    ties: int
    parse_failures: int
    inconsistent: int
    first_position_bias: int
    second_position_bias: int
    judge: dict[str, Any]
    template_sha256: str
    human_kappa: dict[str, Any] | None = None
    verdicts: list[PairVerdict] = field(default_factory=list)

    def rates(self) -> dict[str, float | None]:
        """Win/tie rates over judged items; consistency and bias over the same items."""
        judged = self.n - self.parse_failures

        def r(k: int) -> float | None:
            return k / judged if judged else None

        return {
            "win_rate_a": r(self.wins_a),
            "win_rate_b": r(self.wins_b),
            "tie_rate": r(self.ties),
            "consistency_rate": r(judged - self.inconsistent),
            "position_bias_rate": r(self.first_position_bias + self.second_position_bias),
            "first_position_rate": r(self.first_position_bias),
            "second_position_rate": r(self.second_position_bias),
            "parse_failure_rate": self.parse_failures / self.n if self.n else None,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rates"] = self.rates()
        return d


def combine(first: str | None, second: str | None) -> tuple[str | None, bool | None, str | None]:
    """Combines the two orders' raw verdicts ("A", "B", "tie" as shown to the judge).

    Returns:
        (final verdict in run terms, consistent, position the judge favoured twice).
    """
    if first is None or second is None:
        return None, None, None
    to_run_1 = {"A": "a", "B": "b", "tie": "tie"}[first]
    to_run_2 = {"A": "b", "B": "a", "tie": "tie"}[second]
    position = None
    if first == second and first != "tie":
        position = "first" if first == "A" else "second"
    if to_run_1 == to_run_2:
        return to_run_1, True, position
    return "tie", False, position


def pair_requests(
    item: PairItem, tmpl: JudgeTemplate, turn: int | None = None
) -> list[JudgeRequest]:
    """The two judge calls of one item's turn (default: the last), A shown first then B.

    The judge sees the task's user turn(s) as the question, never the rendered chat prompt;
    the request asks for the template's declared verdict format (free text for "regex").
    """
    questions, ta, tb = item.turns()
    turn = turn or len(questions)
    schema = None if tmpl.format == "regex" else PAIR_SCHEMA
    out = []
    for first, second in ((ta, tb), (tb, ta)):
        fields = pair_fields(questions, first, second, item.refs, turn, tmpl.wrap)
        out.append(
            JudgeRequest(
                tmpl.messages(**fields),
                tmpl.sha256,
                schema,
                tmpl.format,
                tmpl.temperature,
                max_tokens=tmpl.max_tokens,
            )
        )
    return out


def _read(tmpl: JudgeTemplate, reply: JudgeReply) -> Verdict | None:
    if reply.error:
        return None
    return parse_brackets(reply.text) if tmpl.format == "regex" else parse_winner(reply.text)


def judge_pairs(
    items: Sequence[PairItem],
    config: JudgeConfig | None = None,
    template: str | Path | JudgeTemplate = "pairwise",
    client: JudgeClient | None = None,
    multi_turn_template: str | Path | JudgeTemplate | None = None,
) -> PairwiseResult:
    """Judges every item in both orders (all requests concurrently) and tallies the verdicts.

    With ``multi_turn_template`` every turn of a multi-turn item is judged (the first with
    ``template``, later ones with it: FastChat's ``pair-v2-multi-turn``); each turn is then
    one judged unit. Otherwise the last turn is judged with ``template``.
    """
    tmpl = load_template(template, kind="pairwise")
    later = load_template(multi_turn_template, "pairwise") if multi_turn_template else None
    client = client or JudgeClient(JudgeConfig.resolve(config, {}))
    units: list[tuple[PairItem, JudgeTemplate, int | None]] = []
    for it in items:
        n = len(it.turns()[0])
        if later is None or n == 1:
            units.append((it, tmpl if later is None or n == 1 else later, None))
        else:
            units += [(it, tmpl if k == 1 else later, k) for k in range(1, n + 1)]
    requests = [r for it, t, k in units for r in pair_requests(it, t, k)]
    replies = client.complete(requests)
    verdicts = []
    for i, (it, t, turn) in enumerate(units):
        v1, v2 = (_read(t, r) for r in replies[2 * i : 2 * i + 2])
        raw1 = v1.value if v1 is not None else None
        raw2 = v2.value if v2 is not None else None
        final, consistent, position = combine(
            raw1 if isinstance(raw1, str) else None, raw2 if isinstance(raw2, str) else None
        )
        first = {"A": "a", "B": "b", "tie": "tie"}.get(str(raw1))
        second = {"A": "b", "B": "a", "tie": "tie"}.get(str(raw2))
        reasons = [v.reason or v.failure if v else "request failed" for v in (v1, v2)]
        verdicts.append(
            PairVerdict(it.id, first, second, final, consistent, position, reasons, turn)
        )
    finals = [v.final for v in verdicts]
    humans = [it.human for it, _, _ in units]
    kappa = verdict_agreement(finals, humans)
    return PairwiseResult(
        n=len(units),
        wins_a=finals.count("a"),
        wins_b=finals.count("b"),
        ties=finals.count("tie"),
        parse_failures=finals.count(None),
        inconsistent=sum(v.consistent is False for v in verdicts),
        first_position_bias=sum(v.position == "first" for v in verdicts),
        second_position_bias=sum(v.position == "second" for v in verdicts),
        judge=client.identity(),
        template_sha256=tmpl.sha256,
        human_kappa=kappa.to_dict() if kappa else None,
        verdicts=verdicts,
    )


def pairs_from_runs(run_a: Path, run_b: Path) -> list[PairItem]:
    """The items two run records share (matched by sample id), with each run's first output.

    Raises:
        HarnessError: The runs are of different tasks or share no items.
    """
    rec_a, rec_b = read_run(Path(run_a)), read_run(Path(run_b))
    if rec_a.task.name != rec_b.task.name:
        raise HarnessError(
            f"runs are of different tasks ({rec_a.task.name} vs {rec_b.task.name}); "
            "pairwise judging compares two runs of the same task"
        )
    folder_a = Path(run_a).parent if Path(run_a).is_file() else Path(run_a)
    folder_b = Path(run_b).parent if Path(run_b).is_file() else Path(run_b)
    by_id = {s.id: s for s in read_samples(folder_b)}
    items = []
    for s in read_samples(folder_a):
        other = by_id.get(s.id)
        if other is None:
            continue
        questions, ta, tb = record_questions(s, run_a), record_answers(s), record_answers(other)
        items.append(
            PairItem(
                s.id,
                questions[-1],
                ta[-1],
                tb[-1],
                _human(s.metadata.get("human_winner")),
                questions=questions,
                turns_a=ta,
                turns_b=tb,
            )
        )
    if not items:
        raise DataError(
            f"runs {run_a} and {run_b} share no sample ids; judge runs on the same items"
        )
    return items


def record_questions(s: SampleRecord, run: Path | str = "") -> list[str]:
    """A recorded item's user turns as the task wrote them, never its rendered prompt:
    ``user_turns``, else ``metadata["question"]``, else the last user message of a chat prompt.

    Raises:
        DataError: The record holds only a rendered text prompt.
    """
    if s.user_turns:
        turns = list(s.user_turns)
        if s.metadata.get("question"):
            turns[0] = str(s.metadata["question"])
        return turns
    if s.metadata.get("question"):
        return [str(s.metadata["question"])]
    if isinstance(s.prompt, list):
        users = [
            m.get("content", "")
            for m in s.prompt
            if isinstance(m, dict) and m.get("role") == "user"
        ]
        if users:
            return [str(users[-1])]
    raise DataError(
        f"{run}: item {s.id} records only its rendered prompt, not the question; re-run it "
        "with this harness (it records user_turns) or give the task metadata.question"
    )


def record_answers(s: SampleRecord) -> list[str]:
    """A recorded item's answer to each turn (first completion)."""
    if s.turn_outputs and s.turn_outputs[0]:
        return list(s.turn_outputs[0])
    return [s.outputs[0] if s.outputs else ""]


def _human(value: Any) -> str | None:
    return None if value is None else {"a": "a", "b": "b", "tie": "tie"}.get(str(value).lower())
