"""Text metrics against the reference implementations on real DialogSum summaries.

BLEU/chrF must equal the ``sacrebleu`` command line on the same files; ROUGE must equal
rouge-score called directly; BERTScore must equal bert-score called directly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import Output, Sample, read_jsonl, scorers
from harness._types import Prompt
from harness.metrics.text import BertScore, Bleu, Chrf, Rouge, default_bertscore_model

N = 40


@pytest.fixture(scope="module")
def pairs(data_dir: Path) -> tuple[list[Sample], list[Output]]:
    """Hypothesis: summary1 (or the first dialogue turn); references: summary2 and summary3."""
    rows = list(read_jsonl(data_dir / "dialogsum" / "dialogsum.test.jsonl"))[:N]
    samples, outputs = [], []
    for i, r in enumerate(rows):
        samples.append(
            Sample(id=str(i), prompt=Prompt.plain("x"), target=[r["summary2"], r["summary3"]])
        )
        first_turn = r["dialogue"].split("\n")[0].split(":", 1)[1].strip()
        outputs.append(Output(texts=[r["summary1"] if i % 2 else first_turn]))
    return samples, outputs


def _sacrebleu_cli(tmp: Path, samples: list[Sample], outputs: list[Output]) -> list[float]:
    hyp = tmp / "hyp.txt"
    hyp.write_text("".join(o.text.replace("\n", " ") + "\n" for o in outputs))
    refs = []
    for k in range(2):
        ref = tmp / f"ref{k}.txt"
        ref.write_text("".join(s.target[k].replace("\n", " ") + "\n" for s in samples))
        refs.append(str(ref))
    exe = shutil.which("sacrebleu") or str(Path(sys.executable).parent / "sacrebleu")
    out = subprocess.run(
        [exe, *refs, "-i", str(hyp), "-m", "bleu", "chrf", "-b", "-w", "4"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [float(x) for x in json.loads(out)]  # -b with two metrics prints a JSON list


def test_bleu_chrf_equal_sacrebleu_cli(tmp_path: Path, pairs) -> None:
    samples, outputs = pairs
    cli_bleu, cli_chrf = _sacrebleu_cli(tmp_path, samples, outputs)
    for scorer, expected in ((Bleu(resamples=200), cli_bleu), (Chrf(resamples=200), cli_chrf)):
        scores = scorer.score_all(samples, outputs)
        mv = scorer.aggregate(scores, samples)[scorer.name]
        assert round(mv.value, 4) == pytest.approx(expected, abs=1e-4)
        assert mv.method == "bootstrap" and mv.ci_low <= mv.value <= mv.ci_high
        assert mv.ci_high > mv.ci_low  # real spread over 40 different items
        sig = scorer.extra(scores, samples)[f"{scorer.name}_signature"]
        assert sig.startswith(("BLEU|nrefs:2|", "chrF2|nrefs:2|")) and "version:2." in sig


def test_rouge_equals_rouge_score(pairs) -> None:
    from rouge_score import rouge_scorer

    samples, outputs = pairs
    direct = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scorer = Rouge()
    scores = scorer.score_all(samples, outputs)
    for s, o, sc in zip(samples, outputs, scores, strict=True):
        ref = direct.score_multi(s.target, o.text)
        assert sc.values == {k: ref[k].fmeasure for k in ("rouge1", "rouge2", "rougeL")}
    agg = scorer.aggregate(scores, samples)
    mean_l = sum(sc.values["rougeL"] for sc in scores) / len(scores)
    assert agg["rougeL"].value == pytest.approx(mean_l)
    assert 0 < agg["rouge2"].value < agg["rouge1"].value < 1


def test_bertscore_equals_bert_score(pairs) -> None:
    import bert_score

    samples, outputs = pairs[0][:6], pairs[1][:6]
    scorer = BertScore()
    scores = scorer.score_all(samples, outputs)
    _, _, f = bert_score.score(
        [o.text for o in outputs],
        [s.target for s in samples],
        model_type=default_bertscore_model(),
        num_layers=6,
        device="cpu",
    )
    assert [sc.values["bertscore_f1"] for sc in scores] == pytest.approx(f.tolist(), abs=1e-6)
    extra = scorer.extra(scores, samples)["bertscore"]
    assert extra["num_layers"] == 6 and extra["rescale_with_baseline"] is False
    assert Path(extra["model"], "config.json").is_file()


def test_scorers_registered_by_name() -> None:
    import harness.metrics  # noqa: F401  (registers the built-in metric scorers)

    assert isinstance(scorers.get("chrf")(), Chrf)
    assert scorers.get("rouge")(types=["rouge1"]).types == ["rouge1"]
