"""``harness drift``: the statistics against scipy, sources, the CLI and the report section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _runs_factory import make_run
from click.testing import CliRunner

from harness.cli import cli
from harness.drift import Texts, compare, load_texts, read_drift
from harness.drift._stats import chi2_sf, chi_square, ks_test, mmd_rbf_test, wasserstein_test

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without --out or a run folder, drift.json goes to ./drift: keep the checkout clean.
    monkeypatch.chdir(tmp_path)


def _drift(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["drift", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def test_tests_match_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(0.2, 1.0, size=250)
    d, p = ks_test(a, b)
    ref = scipy_stats.ks_2samp(a, b)
    assert d == pytest.approx(ref.statistic)
    assert p == pytest.approx(scipy_stats.kstwobign.sf(d * np.sqrt(300 * 250 / 550)))
    table = [[10, 20, 30, 0], [15, 25, 20, 0]]
    stat, dof, p = chi_square(table)
    ref_stat, ref_p, ref_dof, _ = scipy_stats.chi2_contingency([r[:3] for r in table], False)
    assert (stat, dof) == (pytest.approx(ref_stat), ref_dof) and p == pytest.approx(ref_p)
    for x, k in ((3.0, 5), (300.0, 5), (50.0, 60), (0.5, 1)):
        assert chi2_sf(x, k) == pytest.approx(scipy_stats.chi2.sf(x, k), rel=1e-9)
    ea, eb = rng.normal(size=(60, 8)), rng.normal(size=(50, 8))
    w, _ = wasserstein_test(ea, eb, 19, 0)
    per_dim = [scipy_stats.wasserstein_distance(ea[:, j], eb[:, j]) for j in range(8)]
    assert w == pytest.approx(float(np.mean(per_dim)))


def test_label_chi2_equals_scipy_default_and_ks_names_its_variant() -> None:
    """At one degree of freedom scipy's chi2_contingency applies Yates' correction by default;
    the label chi-square equals that call. The KS p-value is the named limit-distribution
    variant (``ks_p_asymptotic``), which is not ks_2samp's default p on small samples."""
    for table in ([[30, 10], [18, 22]], [[5, 1], [2, 6]], [[40, 0], [38, 2]]):
        stat, dof, p = chi_square(table)
        ref = scipy_stats.chi2_contingency(table)  # the reference call, its defaults
        assert dof == 1 and (stat, p) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue))
    rec = compare(
        Texts("a", ["x"] * 20 + ["x y z"] * 10, ["A"] * 30, 30),
        Texts("b", ["x"] * 10 + ["x y z"] * 20, ["A"] * 12 + ["B"] * 18, 30),
    )
    by_name = {s.name: s for s in rec.stats}
    ks = by_name["length_ks"]
    assert ks.detail["ks_p_asymptotic"] == ks.p_value and "ks_p_asymptotic" in ks.test
    la = [1] * 20 + [3] * 10
    lb = [1] * 10 + [3] * 20
    assert ks.p_value == pytest.approx(scipy_stats.kstwobign.sf(ks.statistic * np.sqrt(15)))
    assert ks.p_value != pytest.approx(scipy_stats.ks_2samp(la, lb).pvalue)
    lab = by_name["label_chi2"]
    ref = scipy_stats.chi2_contingency([[30, 12], [0, 18]])
    assert lab.statistic == pytest.approx(ref.statistic) and lab.p_value == pytest.approx(
        ref.pvalue
    )


def test_embedding_tests_separate_shift_from_noise() -> None:
    rng = np.random.default_rng(1)
    ea, same, shifted = (rng.normal(size=(80, 16)) for _ in range(3))
    shifted += 0.5
    assert mmd_rbf_test(ea, same, 99, 0)[1] > 0.05
    assert mmd_rbf_test(ea, shifted, 99, 0)[1] == pytest.approx(1 / 100)
    assert wasserstein_test(ea, same, 99, 0)[1] > 0.05
    assert wasserstein_test(ea, shifted, 99, 0)[1] == pytest.approx(1 / 100)
    texts = Texts("a", ["x y"] * 80, None, 80)
    rec = compare(texts, texts, embeddings=(ea, shifted), embedder="m", permutations=99)
    assert {s.name for s in rec.stats if s.significant} >= {
        "embedding_wasserstein",
        "embedding_mmd",
        "embedding_mean_cosine",
    }


def test_gsm8k_train_vs_test_no_length_drift(data_dir: Path, tmp_path: Path) -> None:
    code, out, err = _drift("gsm8k:train", "gsm8k:test", "--no-embed", "--json")
    assert code == 0, err
    stats = {s["name"]: s for s in json.loads(out)["stats"]}
    assert stats["length_ks"]["significant"] is False and stats["length_ks"]["p_value"] > 0.05
    assert json.loads(out)["a"] == {"source": "gsm8k:train", "n": 500, "n_total": 7473}


def test_gsm8k_vs_dialogsum_drifts_on_text_stats(data_dir: Path, tmp_path: Path) -> None:
    a = f"{data_dir}/gsm8k/test.jsonl:question"
    b = f"{data_dir}/dialogsum/dialogsum.test.jsonl:dialogue"
    code, out, err = _drift(a, b, "--no-embed", "--out", str(tmp_path / "d"))
    assert code == 0, err
    rec = read_drift(tmp_path / "d")
    assert [s.name for s in rec.stats] == ["length_ks", "token_chi2"]
    assert all(s.significant for s in rec.stats) and rec.embedder is None
    assert "drift on: length_ks, token_chi2" in out


def test_labels_from_a_csv_and_a_task(data_dir: Path, tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("text,label\n" + "good movie,pos\n" * 30 + "bad movie,neg\n" * 30)
    other = tmp_path / "b.csv"
    other.write_text("text,label\n" + "good movie,pos\n" * 55 + "bad movie,neg\n" * 5)
    rec = compare(load_texts(f"{csv}:text:label"), load_texts(f"{other}:text:label"))
    label = next(s for s in rec.stats if s.name == "label_chi2")
    assert label.significant and label.detail["counts_b"] == {"neg": 5, "pos": 55}
    side = load_texts("tweeteval_sentiment:val:target", max_items=50)
    assert side.labels is not None and set(side.labels) <= {"negative", "neutral", "positive"}
    assert len(side.texts) == 50 and side.n_total == 2000


def test_run_outputs_as_a_source_and_the_report_section(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", "r1", [1.0, 0.0] * 10)
    code, out, err = _drift(f"{run}:prompts", f"{run}:outputs", "--no-embed")
    assert code == 0, err
    assert (run / "drift.json").is_file() and f"wrote {run / 'drift.json'}" in out
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "runs"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert f"Drift: {run}:outputs (n=20) against {run}:prompts (n=20)" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nofield.jsonl", "gsm8k:test"], "drift source 'nofield.jsonl': write FILE.jsonl:FIELD"),
        (["missing.jsonl:q", "gsm8k:test"], "missing.jsonl does not exist"),
        (["gsm8k:test:answer", "gsm8k:test"], "a task's label can only be ':target'"),
        (["gsm8k:test:target", "gsm8k:train"], "a label field is given on one side only"),
    ],
)
def test_bad_sources_are_one_line_exit_2(args: list[str], message: str, data_dir: Path) -> None:
    code, out, err = _drift(*args, "--no-embed")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


@pytest.mark.slow
def test_every_statistic_with_minilm_embeddings(data_dir: Path, tmp_path: Path) -> None:
    """The Done-when of issue 14 with the real embeddings: train vs test has no length drift;
    gsm8k questions vs dialogsum dialogues drift on every statistic; a PCA PNG is written."""
    code, out, err = _drift("gsm8k:train", "gsm8k:test", "--max-items", "200", "--json")
    assert code == 0, err
    same = {s["name"]: s for s in json.loads(out)["stats"]}
    assert not same["length_ks"]["significant"]
    assert not same["embedding_mmd"]["significant"]
    a = f"{data_dir}/gsm8k/test.jsonl:question"
    b = f"{data_dir}/dialogsum/dialogsum.test.jsonl:dialogue"
    out_dir = tmp_path / "d"
    code, out, err = _drift(a, b, "--max-items", "200", "--out", str(out_dir))
    assert code == 0, err
    rec = read_drift(out_dir)
    assert [s.name for s in rec.stats] == [
        "length_ks",
        "token_chi2",
        "embedding_wasserstein",
        "embedding_mmd",
        "embedding_mean_cosine",
    ]
    assert all(s.significant for s in rec.stats), rec.stats
    assert (out_dir / "drift_pca.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
