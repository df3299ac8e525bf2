"""Classification metrics with scikit-learn: accuracy, macro P/R/F1, one-vs-rest ROC-AUC.

`Classification` works in both task modes. In *generate* mode it extracts a label from the
model's text (the earliest whole-word occurrence of any label, case-insensitive; no label means
an invalid answer, counted wrong and reported as ``invalid_rate``). In *loglikelihood* mode the
prediction is the choice with the highest summed log-probability, and a softmax over the
choices' log-probabilities gives the class probabilities used for ROC-AUC (they sum to 1 per
sample by construction; how well they are calibrated is what ROC-AUC and the stored
probabilities let you judge). Corpus metrics carry percentile-bootstrap intervals; the
confusion matrix and a per-class report go to the run record's ``extra``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from harness._aggregate import bootstrap_many, mean_metric
from harness._scorer import Scorer, scorer
from harness._types import MetricValue, Output, Sample, Score

INVALID = "<invalid>"


def extract_label(text: str, labels: Sequence[str]) -> str | None:
    """The label whose whole-word, case-insensitive occurrence comes first in ``text``."""
    best: tuple[int, str] | None = None
    for label in labels:
        m = re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text, re.IGNORECASE)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), label)
    return best[1] if best else None


def softmax(logprobs: Sequence[float]) -> list[float]:
    """Normalised probabilities from log-probabilities (stable; -inf gets 0)."""
    top = max(logprobs)
    if not math.isfinite(top):
        return [1.0 / len(logprobs)] * len(logprobs)
    exps = [math.exp(lp - top) if math.isfinite(lp) else 0.0 for lp in logprobs]
    total = sum(exps)
    return [e / total for e in exps]


def macro_prf(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> tuple[float, float, float]:
    """Macro precision, recall and F1 over ``labels`` with scikit-learn (invalid predictions
    count as misses)."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(
        list(y_true), list(y_pred), labels=list(labels), average="macro", zero_division=0
    )
    return float(p), float(r), float(f)


def roc_auc_ovr(
    y_true: Sequence[str], probs: Sequence[Sequence[float]], labels: Sequence[str]
) -> float:
    """Macro one-vs-rest ROC-AUC with scikit-learn: the mean over classes of the binary AUC of
    that class's probability (what ``roc_auc_score(multi_class="ovr")`` computes). Classes
    absent (or alone) in ``y_true`` are skipped instead of raising; NaN when none can be scored."""
    from sklearn.metrics import roc_auc_score

    aucs = []
    for k, label in enumerate(labels):
        positives = [t == label for t in y_true]
        if all(positives) or not any(positives):
            continue
        aucs.append(float(roc_auc_score(positives, [p[k] for p in probs])))
    return sum(aucs) / len(aucs) if aucs else math.nan


class _Encoded:
    """Labels as integers, so bootstrap resamples are numpy operations (scikit-learn's input
    checks cost milliseconds per call, far too much for 1000 resamples on a shared CPU).
    Tests check these statistics equal the scikit-learn functions above."""

    def __init__(self, rows: Sequence[tuple[str, str, Any]], labels: Sequence[str]) -> None:
        import numpy as np

        index = {lb: k for k, lb in enumerate(labels)}
        unknown = sorted({t for t, _, _ in rows if t not in index})
        if unknown:
            from harness._errors import DataError

            raise DataError(f"targets {unknown[:5]} are not among the labels {list(labels)}")
        self.n_labels = len(labels)
        self.true = np.array([index[t] for t, _, _ in rows], dtype=np.int64)
        self.pred = np.array([index.get(p, len(labels)) for _, p, _ in rows], dtype=np.int64)
        self.probs = (
            np.array([[pr[lb] for lb in labels] for _, _, pr in rows])
            if rows and all(r[2] is not None for r in rows)
            else None
        )
        self._groups: list[Any] | None = None

    def prf(self, idx: Any) -> tuple[float, float, float]:
        import numpy as np

        L = self.n_labels
        cm = np.bincount(self.true[idx] * (L + 1) + self.pred[idx], minlength=L * (L + 1)).reshape(
            L, L + 1
        )
        tp = np.diag(cm[:, :L]).astype(float)
        pred_n, true_n = cm[:, :L].sum(axis=0), cm.sum(axis=1)
        prec = np.divide(tp, pred_n, out=np.zeros(L), where=pred_n > 0)
        rec = np.divide(tp, true_n, out=np.zeros(L), where=true_n > 0)
        denom = pred_n + true_n
        f1 = np.divide(2 * tp, denom, out=np.zeros(L), where=denom > 0)
        return float(prec.mean()), float(rec.mean()), float(f1.mean())

    def auc(self, idx: Any) -> float:
        """Macro one-vs-rest AUC of the resample ``idx`` from item counts, without re-sorting:
        AUC = P(positive score > negative score) + 0.5 P(tie), weighted by multiplicity."""
        import numpy as np

        assert self.probs is not None
        if self._groups is None:  # per class: each item's rank among the distinct scores
            self._groups = [
                np.unique(self.probs[:, k], return_inverse=True)[1] for k in range(self.n_labels)
            ]
        counts = np.bincount(np.asarray(idx), minlength=len(self.true)).astype(float)
        aucs = []
        for k, group in enumerate(self._groups):
            pos = np.where(self.true == k, counts, 0.0)
            neg = counts - pos
            n_pos, n_neg = pos.sum(), neg.sum()
            if n_pos == 0 or n_neg == 0:
                continue
            neg_at = np.bincount(group, weights=neg)
            neg_below = np.cumsum(neg_at) - neg_at
            wins = (pos * (neg_below[group] + 0.5 * neg_at[group])).sum()
            aucs.append(wins / (n_pos * n_neg))
        return float(sum(aucs) / len(aucs)) if aucs else math.nan


@scorer(
    "classification",
    metrics=(
        "accuracy",
        "invalid_rate",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "roc_auc_ovr",
    ),
)
class Classification(Scorer):
    """Scores single-label classification against ``sample.target`` (a label string).

    Args:
        labels: The class labels, in the order of ``sample.choices`` for log-likelihood tasks.
        resamples: Bootstrap resamples for the corpus metrics' intervals.
    """

    name = "classification"

    def __init__(self, labels: Sequence[str], resamples: int = 1000) -> None:
        super().__init__(labels=list(labels), resamples=resamples)
        self.labels = list(labels)
        self.resamples = resamples

    def __call__(self, sample: Sample, output: Output) -> Score:
        target = str(sample.target)
        if output.choice_logprobs:
            probs = softmax(output.choice_logprobs)
            pred = self.labels[max(range(len(probs)), key=probs.__getitem__)]
            meta: dict[str, Any] = {"probs": dict(zip(self.labels, probs, strict=True))}
            values: dict[str, float | None] = {"accuracy": float(pred == target)}
        else:
            found = extract_label(output.text, self.labels)
            pred = found if found is not None else INVALID
            meta = {}
            values = {"accuracy": float(pred == target), "invalid_rate": float(found is None)}
        return Score(values=values, answer=pred, metadata=meta)

    def _rows(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> list[tuple[str, str, Any]]:
        return [
            (str(sm.target), str(sc.answer), sc.metadata.get("probs"))
            for sc, sm in zip(scores, samples, strict=True)
        ]

    def aggregate(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, MetricValue]:
        rows = self._rows(scores, samples)
        out = {"accuracy": mean_metric([s.values.get("accuracy") for s in scores])}
        if any("invalid_rate" in s.values for s in scores):
            out["invalid_rate"] = mean_metric([s.values.get("invalid_rate") for s in scores])
        enc = _Encoded(rows, self.labels)
        names = ["macro_precision", "macro_recall", "macro_f1"]
        points = list(macro_prf([r[0] for r in rows], [r[1] for r in rows], self.labels))
        if enc.probs is not None:
            names.append("roc_auc_ovr")
            probs = [[r[2][lb] for lb in self.labels] for r in rows]
            points.append(roc_auc_ovr([r[0] for r in rows], probs, self.labels))

        def stats(idx: Any) -> list[float]:
            values = list(enc.prf(idx))
            if enc.probs is not None:  # a resample holding one class only counts at the point
                values.append(_nan_to(enc.auc(idx), points[3]))
            return values

        if rows:
            out.update(
                zip(names, bootstrap_many(len(rows), stats, points, self.resamples), strict=True)
            )
        if "roc_auc_ovr" in out and math.isnan(points[3]):
            out["roc_auc_ovr"] = MetricValue(math.nan, n=len(rows))
        return out

    def corpus_statistics(
        self, scores: Sequence[Score], samples: Sequence[Sample]
    ) -> dict[str, Callable[[Any], float]]:
        """Macro P/R/F1 (and ROC-AUC with probabilities) of any resample of the items."""
        enc = _Encoded(self._rows(scores, samples), self.labels)
        out: dict[str, Callable[[Any], float]] = {
            name: partial(lambda k, idx: enc.prf(idx)[k], k)
            for k, name in enumerate(("macro_precision", "macro_recall", "macro_f1"))
        }
        if enc.probs is not None:
            out["roc_auc_ovr"] = enc.auc
        return out

    def extra(self, scores: Sequence[Score], samples: Sequence[Sample]) -> dict[str, Any]:
        """The confusion matrix (rows: true label, columns: predicted) and a per-class report."""
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

        rows = self._rows(scores, samples)
        y_true, y_pred = [r[0] for r in rows], [r[1] for r in rows]
        columns = self.labels + ([INVALID] if INVALID in y_pred else [])
        matrix = confusion_matrix(y_true, y_pred, labels=columns)[: len(self.labels)]
        p, r, f, support = precision_recall_fscore_support(
            y_true, y_pred, labels=self.labels, zero_division=0
        )
        return {
            "confusion_matrix": {
                "rows_true": self.labels,
                "columns_predicted": columns,
                "matrix": matrix.tolist(),
            },
            "per_class": {
                lb: {
                    "precision": float(p[k]),
                    "recall": float(r[k]),
                    "f1": float(f[k]),
                    "support": int(support[k]),
                }
                for k, lb in enumerate(self.labels)
            },
        }


def _nan_to(value: float, fallback: float) -> float:
    return fallback if math.isnan(value) else value
