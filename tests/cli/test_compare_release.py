"""Comparisons you can stake a release on: the cases of issue 12, end to end.

Real tasks (DialogSum, ViGGO) on real items from ``/work/shared/datasets``, answered by the
scripted fake backend, then ``harness report`` and ``harness gate`` on the runs they wrote.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from _cli_helpers import invoke

DATA = Path("/work/shared/datasets")

pytestmark = pytest.mark.skipif(
    not (DATA / "viggo").is_dir() or not (DATA / "dialogsum").is_dir(),
    reason="needs the viggo and dialogsum dataset folders",
)

SCRIPT = """\
default: "request(name[foo])"
answers:
  - contains: "Summarize"
    text: "Person1 and Person2 talk about the plan for the day."
adapters:
  tuned:
    default: "inform(name[x])"
    answers:
      - contains: "Summarize"
        text: "#Person1# asks #Person2# about the memo and they agree to talk."
"""


def _runs(tmp_path: Path, adapter: Path, task: str, n: int) -> dict[str, dict]:
    script = tmp_path / "answers.yaml"
    script.write_text(SCRIPT, encoding="utf-8")
    args = ["run", "--task", task, "--backend", "fake", "--model", str(script)]
    args += ["--data-dir", str(DATA), "-n", str(n), "--output-dir", str(tmp_path / "runs")]
    args += ["--adapter", str(adapter), "--base", "--cache", str(tmp_path / "cache.sqlite")]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    out = {}
    for p in (tmp_path / "runs").glob(f"*-{task}-*/run.json"):
        rec = json.loads(p.read_text(encoding="utf-8"))
        out["tuned" if rec["model"]["adapter"] else "base"] = {"path": p.parent, "record": rec}
    return out


def _gate(tmp_path: Path, policy: str, *extra: str) -> tuple[int, str, ET.Element]:
    path = tmp_path / "gate.yaml"
    path.write_text(policy, encoding="utf-8")
    junit = tmp_path / "gate.xml"
    args = ["gate", "--policy", str(path), "--candidate", str(tmp_path / "runs")]
    result = invoke([*args, "--junit", str(junit), *extra])
    return result.exit_code, result.output, ET.parse(junit).getroot()


def test_one_name_one_number_for_bleu_and_chrf(tmp_path: Path, adapter: Path) -> None:
    runs = _runs(tmp_path, adapter, "dialogsum", 12)
    rec = runs["tuned"]["record"]
    samples = [
        json.loads(line)
        for line in (runs["tuned"]["path"] / "samples.jsonl").read_text().splitlines()
    ]
    sentence = [s["scores"]["bleu"]["values"]["bleu_sentence"] for s in samples]
    assert "bleu" not in samples[0]["scores"]["bleu"]["values"]
    assert rec["metrics"]["bleu_sentence"]["value"] == pytest.approx(sum(sentence) / 12)
    assert not math.isclose(rec["metrics"]["bleu"]["value"], sum(sentence) / 12)

    policy = (
        "on_inconclusive: pass\nchecks:\n"
        "  - {task: dialogsum, metric: bleu, max_regression: 50, require_power: false}\n"
        "  - {task: dialogsum, metric: chrf, min: 1}\n"
        "  - {task: dialogsum, metric: bleu_sentence, max_regression: 50, require_power: false}\n"
    )
    code, out, xml = _gate(tmp_path, policy)
    assert code == 0, out
    cases = {c.get("name"): c for c in xml.iter("testcase")}
    base_bleu = runs["base"]["record"]["metrics"]["bleu"]["value"]
    cand_bleu = rec["metrics"]["bleu"]["value"]
    # The gate's bleu is run.json's corpus BLEU, compared by a paired corpus bootstrap.
    assert f"({base_bleu:.4f} -> {cand_bleu:.4f}, paired-bootstrap" in out
    assert "corpus metric" in out
    chrf = rec["metrics"]["chrf"]["value"]
    assert f"chrf min >= 1: {chrf:.4f} [" in out
    sent = rec["metrics"]["bleu_sentence"]["value"]
    assert f"-> {sent:.4f}, paired-bootstrap" in out
    assert "bleu regression <= 50 vs baseline" in cases

    result = invoke(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    rep = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    comps = {c["metric"]: c for c in rep["comparisons"]}
    assert comps["bleu"]["corpus"] and comps["chrf"]["corpus"]
    assert comps["bleu"]["result"]["candidate"] == pytest.approx(cand_bleu)
    assert comps["bleu"]["result"]["baseline"] == pytest.approx(base_bleu)
    assert not comps["bleu_sentence"]["corpus"]
    assert comps["bleu_sentence"]["result"]["candidate"] == pytest.approx(sent)
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    # BLEU-like (0-100) and ROUGE (0-1) never share an axis.
    assert "plots/bars_dialogsum_0-100.png" in md and "plots/bars_dialogsum_0-1.png" in md
    assert "plots/deltas_0-100.png" in md and "plots/deltas_0-1.png" in md
    cells = {r["adapter"]: r["cells"] for r in rep["leaderboard"]}
    assert cells["tuned"]["dialogsum/bleu"]["value"] == pytest.approx(cand_bleu)


def test_majority_class_guessing_is_not_green(tmp_path: Path, adapter: Path) -> None:
    """The adapter answers inform(...) for every one of 10 ViGGO items (4 distinct MRs)."""
    runs = _runs(tmp_path, adapter, "viggo", 10)
    rec = runs["tuned"]["record"]
    assert rec["metrics"]["function_accuracy"]["value"] == pytest.approx(0.6)
    assert rec["extra"]["trivial_baselines"]["function_accuracy"]["value"] == pytest.approx(0.6)
    assert rec["extra"]["answers"]["viggo_mr"] == {
        "n": 10,
        "distinct": 1,
        "top": "inform(name[x])",
        "top_share": 1.0,
    }
    policy = (
        "checks:\n"
        "  - {task: viggo, metric: function_accuracy, beat_trivial: true}\n"
        "  - {task: viggo, metric: slot_f1, max_regression: 0.0}\n"
    )
    code, out, xml = _gate(tmp_path, policy)
    assert code == 1, out
    assert "FAIL          viggo: function_accuracy beats trivial baseline 0.6" in out
    assert "n=10, 4 clusters" in out and "always answer the most frequent function (inform)" in out
    assert "paired-bootstrap-clustered" in out and "corpus metric" in out
    assert xml.find("testsuite").get("failures") == "1"  # type: ignore[union-attr]

    result = invoke(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "constant prediction: 100% of 10 answers are 'inform(name[x])'" in md
    assert "0.600 [" in md and "(trivial 0.600) ⚠️ constant prediction" in md
    rep = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    acc = next(c for c in rep["comparisons"] if c["metric"] == "function_accuracy")
    # Resampled by MR (4 clusters), +0.6 is not significant, unlike McNemar's p = 0.031.
    assert acc["result"]["clusters"] == 4 and acc["result"]["p_value"] > 0.05
    assert acc["result"]["worse"] == 0 and acc["result"]["better"] == 6


POLICY_ERRORS = """\
checks:
  - {task: gsm8k, metric: flexible_match, min: 0.1}
  - {task: gsm8k, metric: flexible_no_match, max: 0.5}
  - {task: viggo, metric: exact_match, min: 0.1}
"""


def test_exit_2_still_writes_junit_and_says_each_problem_once(
    tmp_path: Path, adapter: Path
) -> None:
    _runs(tmp_path, adapter, "viggo", 4)
    code, out, xml = _gate(tmp_path, POLICY_ERRORS)
    assert code == 2
    assert out.count("no candidate run of task 'gsm8k'") == 1, out
    suite = xml.find("testsuite")
    assert suite is not None and suite.get("errors") == "1" and suite.get("tests") == "1"
    err = suite.find("testcase/error")
    assert err is not None and "no candidate run of task 'gsm8k'" in err.get("message", "")


def test_inconclusive_under_pass_is_skipped_and_evidence_beats_power(
    tmp_path: Path, adapter: Path
) -> None:
    _runs(tmp_path, adapter, "viggo", 10)
    policy = (
        "on_inconclusive: pass\nchecks:\n"
        "  - {task: viggo, metric: function_accuracy, max_regression: 0.05}\n"
        "  - {task: viggo, metric: function_accuracy, min: 0.5}\n"
    )
    code, out, xml = _gate(tmp_path, policy)
    assert code == 0, out
    lines = out.splitlines()
    # n=10 cannot detect a 0.05 drop, but +0.6 with a 90% interval above 0 is no drop at all.
    assert lines[0].startswith("PASS          viggo: function_accuracy regression <= 0.05")
    assert "the 90% interval excludes a worsening of more than 0.05" in lines[0]
    assert lines[1].startswith("INCONCLUSIVE  viggo: function_accuracy min >= 0.5: 0.6000 [")
    assert lines[2] == "gate PASSED: 2 checks, 0 failing, 1 let through as inconclusive"
    skipped = [c.find("skipped") for c in xml.iter("testcase")]
    messages = [s.get("message", "") for s in skipped if s is not None]
    assert messages == [m for m in messages if m.startswith("inconclusive (on_inconclusive: pass)")]
    assert len(messages) == 1 and messages[0].startswith(
        "inconclusive (on_inconclusive: pass): 0.6"
    )
    suite = xml.find("testsuite")
    assert suite is not None and suite.get("skipped") == "1" and suite.get("failures") == "0"


def test_run_with_adapter_and_base_prints_the_paired_table(
    run_args: list[str], adapter: Path
) -> None:
    result = invoke([*run_args, "--adapter", str(adapter), "--base"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    table = out[out.index("gsm8k · tuned vs base · paired") :]
    row = next(line for line in table.splitlines() if "flexible_match" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:3] == ["flexible_match", "0.3333", "0.6667"]
    assert cells[3].startswith("+0.3333 [") and cells[4] == "1" and cells[5] == "0 / 1"


def test_rescore_renames_old_per_item_bleu_without_a_model(tmp_path: Path, adapter: Path) -> None:
    runs = _runs(tmp_path, adapter, "dialogsum", 6)
    src = runs["base"]["path"]
    # Make it an old run: per-item sentence BLEU stored under the corpus metric's name.
    lines = (src / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    old = []
    for line in lines:
        s = json.loads(line)
        v = s["scores"]["bleu"]["values"]
        v["bleu"] = v.pop("bleu_sentence")
        old.append(json.dumps(s))
    (src / "samples.jsonl").write_text("\n".join(old) + "\n", encoding="utf-8")
    policy = "checks:\n  - {task: dialogsum, metric: bleu, min: 0}\n"
    (tmp_path / "gate.yaml").write_text(policy, encoding="utf-8")
    gated = invoke(["gate", "--policy", str(tmp_path / "gate.yaml"), "--candidate", str(src)])
    # Even so, the gate's bleu is run.json's corpus BLEU, recomputed from the stored outputs.
    corpus = runs["base"]["record"]["metrics"]["bleu"]["value"]
    assert gated.exit_code == 0 and f"bleu min >= 0: {corpus:.4f} [" in gated.output

    out = tmp_path / "rescored"
    result = invoke(["rescore", str(src), "--scorer", "bleu", "--scorer", "rouge", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "6 samples re-scored in" in result.stdout
    (new,) = out.iterdir()
    rec = json.loads((new / "run.json").read_text(encoding="utf-8"))
    assert rec["extra"]["rescored_from"]["run_id"] == runs["base"]["record"]["run_id"]
    assert rec["metrics"]["bleu"]["value"] == pytest.approx(
        runs["base"]["record"]["metrics"]["bleu"]["value"]
    )
    assert {"bleu", "bleu_sentence", "rouge1"} <= set(rec["metrics"])
    first = json.loads((new / "samples.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert set(first["scores"]["bleu"]["values"]) == {"bleu_sentence"}
    bad = invoke(["rescore", str(src), "--scorer", "bleux"])
    assert bad.exit_code == 2 and "unknown scorer 'bleux'" in bad.output


def test_baseline_promote_copies_with_a_manifest(tmp_path: Path, adapter: Path) -> None:
    runs = _runs(tmp_path, adapter, "viggo", 4)
    dest = tmp_path / "baselines"
    result = invoke(["baseline", "promote", str(runs["base"]["path"]), "--to", str(dest)])
    assert result.exit_code == 0, result.output
    run_id = runs["base"]["record"]["run_id"]
    manifest = json.loads((dest / run_id / "baseline.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == run_id and manifest["task"] == "viggo"
    assert manifest["adapter"] is None and "promoted_at" in manifest
    assert (dest / run_id / "samples.jsonl").read_bytes() == (
        runs["base"]["path"] / "samples.jsonl"
    ).read_bytes()


ROOT = Path(__file__).resolve().parents[2]


def _gate_example(tmp_path: Path, candidate: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(ROOT)  # the policy names runs/baselines relative to the checkout
    junit = tmp_path / "junit.xml"
    args = ["gate", "--policy", "examples/gate.yaml", "--candidate", str(candidate)]
    result = invoke([*args, "--junit", str(junit)])
    assert result.exit_code == 0, result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "0"
    return result.stdout


def test_example_policy_gates_against_the_committed_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    (committed,) = (ROOT / "runs" / "baselines").glob("*-gsm8k-base-*")
    manifest = json.loads((committed / "baseline.json").read_text(encoding="utf-8"))
    assert manifest["model"] == "smollm2-135m" and manifest["n_evaluated"] == 8
    shutil.copytree(committed, tmp_path / "candidate")
    out = _gate_example(tmp_path, tmp_path / "candidate", monkeypatch)
    assert "0 right->wrong / 0 wrong->right, paired" in out
    assert "gate PASSED: 2 checks, 0 failing" in out


@pytest.mark.slow
def test_example_policy_runs_as_written_on_a_fresh_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two commands of examples/gate.yaml's header, with the bundled model."""
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache.sqlite"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(DATA))
    args = ["run", "--task", "gsm8k", "-T", "num_fewshot=0", "-n", "8", "--max-new-tokens"]
    result = invoke([*args, "160", "-o", str(tmp_path / "candidate")])
    assert result.exit_code == 0, result.output
    out = _gate_example(tmp_path, tmp_path / "candidate", monkeypatch)
    assert "0 right->wrong / 0 wrong->right, paired by item id" in out
