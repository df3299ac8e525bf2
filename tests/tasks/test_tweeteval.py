"""tweeteval_sentiment on the real data: loading, label extraction, metrics, and a real
log-likelihood run of the bundled model through `harness.evaluate`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sklearn.metrics import f1_score, roc_auc_score

from harness import DataError, DataOptions, Output, get_task, load_dataset
from harness.metrics.classification import Classification, extract_label, roc_auc_ovr, softmax
from tasks.tweeteval import LABELS


def test_loads_real_test_split(data_dir: Path) -> None:
    ds = load_dataset(get_task("tweeteval_sentiment"), DataOptions(data_dir=data_dir, limit=6))
    assert ds.info.n_total == 12284
    assert set(ds.info.files) == {"test_text.txt", "test_labels.txt", "mapping.txt"}
    assert [s.target for s in ds.samples] == [
        "neutral",
        "neutral",
        "neutral",
        "positive",
        "negative",
        "neutral",
    ]
    assert ds.samples[0].choices == [" negative", " neutral", " positive"]
    assert ds.samples[0].prompt.text.endswith("Sentiment:")
    gen = get_task("tweeteval_sentiment", mode="generate").load(
        DataOptions(data_dir=data_dir, limit=1)
    )
    assert gen.samples[0].choices is None


def test_misaligned_files_name_both(tmp_path: Path) -> None:
    folder = tmp_path / "tweeteval_sentiment"
    folder.mkdir()
    (folder / "mapping.txt").write_text("0\tnegative\n1\tneutral\n2\tpositive\n")
    (folder / "test_text.txt").write_text("a\nb\n")
    (folder / "test_labels.txt").write_text("1\n")
    with pytest.raises(DataError, match=r"test_text\.txt has 2 lines but .*test_labels\.txt has 1"):
        load_dataset(get_task("tweeteval_sentiment"), DataOptions(data_dir=tmp_path))


def test_extract_label_takes_earliest_whole_word() -> None:
    assert extract_label("Positive, not negative.", LABELS) == "positive"
    assert extract_label("It is NEUTRAL", LABELS) == "neutral"
    assert extract_label("nonnegative feelings", LABELS) is None


def test_generate_mode_metrics_match_sklearn(data_dir: Path) -> None:
    ds = load_dataset(
        get_task("tweeteval_sentiment", mode="generate"), DataOptions(data_dir=data_dir, limit=30)
    )
    answers = ["The sentiment is positive", "negative", "neutral.", "I don't know"] * 8
    outputs = [Output(texts=[a]) for a in answers[:30]]
    scorer = Classification(LABELS, resamples=100)
    scores = scorer.score_all(ds.samples, outputs)
    agg = scorer.aggregate(scores, ds.samples)
    y_true = [s.target for s in ds.samples]
    y_pred = [sc.answer for sc in scores]
    assert agg["macro_f1"].value == pytest.approx(
        f1_score(y_true, y_pred, labels=list(LABELS), average="macro")
    )
    assert agg["invalid_rate"].value == pytest.approx(y_pred.count("<invalid>") / 30)
    assert "roc_auc_ovr" not in agg
    cm = scorer.extra(scores, ds.samples)["confusion_matrix"]
    assert cm["columns_predicted"] == [*LABELS, "<invalid>"]
    assert sum(map(sum, cm["matrix"])) == 30 and len(cm["matrix"]) == 3


def test_auc_matches_sklearn_ovr() -> None:
    y = ["negative", "neutral", "positive", "neutral", "negative", "positive", "neutral"]
    logits = [
        [0.1, -1, -2],
        [-1, 0.3, -0.5],
        [-2, 0, 1],
        [0, 0.1, 0.2],
        [0.5, 0.4, -3],
        [-1, -1, 0],
        [-1, 1, -1],
    ]
    probs = [softmax(lp) for lp in logits]
    expected = roc_auc_score([LABELS.index(t) for t in y], probs, multi_class="ovr")
    assert roc_auc_ovr(y, probs, LABELS) == pytest.approx(expected)
    assert math.isnan(roc_auc_ovr(["neutral"] * 3, probs[:3], LABELS))


def test_bootstrap_statistics_equal_sklearn() -> None:
    import random

    from sklearn.metrics import precision_recall_fscore_support

    from harness.metrics.classification import _Encoded

    rng = random.Random(3)
    labels = list(LABELS)
    rows = []
    for _ in range(200):
        probs = [round(p, 1) for p in softmax([rng.gauss(0, 1) for _ in labels])]  # with ties
        pred = rng.choice([*labels, "<invalid>"])
        rows.append((rng.choice(labels), pred, dict(zip(labels, probs, strict=True))))
    enc = _Encoded(rows, labels)
    idx = [rng.randrange(200) for _ in range(200)]  # a resample with repeats
    y_true, y_pred = [rows[i][0] for i in idx], [rows[i][1] for i in idx]
    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    assert enc.prf(idx) == pytest.approx((p, r, f))
    probs = [[rows[i][2][lb] for lb in labels] for i in idx]
    # Rounded scores tie, and no longer sum to 1, so compare with sklearn's binary AUC per class.
    expected = [
        roc_auc_score([t == lb for t in y_true], [p[k] for p in probs])
        for k, lb in enumerate(labels)
    ]
    assert enc.auc(idx) == pytest.approx(sum(expected) / 3)
    assert enc.auc(list(range(200))) == pytest.approx(
        roc_auc_ovr([r[0] for r in rows], [[r[2][lb] for lb in labels] for r in rows], labels)
    )


@pytest.mark.slow
def test_loglikelihood_run_on_bundled_model(data_dir: Path, tmp_path: Path) -> None:
    from harness import RunContext, evaluate
    from harness.backends.hf import HFBackend

    task = get_task("tweeteval_sentiment", mode="loglikelihood")
    with HFBackend(chat_template=False) as backend:
        (result,) = evaluate(
            task,
            backend,
            data=DataOptions(data_dir=data_dir, limit=6),
            context=RunContext(runs_dir=tmp_path),
        )
    rec = result.record
    assert rec.task.mode == "loglikelihood" and rec.counts.errors == 0
    for s in result.samples:
        assert len(s.choice_logprobs) == 3 and all(lp < 0 for lp in s.choice_logprobs)
        probs = s.scores["classification"].metadata["probs"]
        assert sum(probs.values()) == pytest.approx(1.0)
        assert (
            s.scores["classification"].answer
            == LABELS[max(range(3), key=lambda k: s.choice_logprobs[k])]
        )
    stored = json.loads((result.folder / "run.json").read_text())
    matrix = stored["extra"]["confusion_matrix"]["matrix"]
    assert len(matrix) == 3 and all(len(row) == 3 for row in matrix)
    assert [sum(row) for row in matrix] == [1, 4, 1]  # true labels of the first 6 test tweets
    assert 0.0 <= stored["metrics"]["roc_auc_ovr"]["value"] <= 1.0
    assert stored["metrics"]["accuracy"]["n"] == 6
