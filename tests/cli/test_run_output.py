"""``harness run`` on the fake backend: the whole table, the whole ``--json``, cache reruns.

Each expected output is one constant next to its test; `normalise` (in ``_cli_helpers``) has
replaced only the temporary folder, run ids and timings. To update one after an intended
change, print ``normalise(result.stdout, tmp_path)`` and paste it.
"""

from __future__ import annotations

from pathlib import Path

from _cli_helpers import invoke, normalise

from harness.record import read_run, read_samples

TABLES = """\
                  gsm8k · fake:answers · n=3
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━┓
┃ metric            ┃  value ┃         95% CI ┃ ± stderr ┃ n ┃
┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━┩
│ strict_match      │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
│ strict_no_match   │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
│ flexible_match    │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
│ flexible_no_match │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
└───────────────────┴────────┴────────────────┴──────────┴───┘
  3 model calls, 0 cached, 0 failed · 1726 tokens in, 25 out · <s> s wall · <rate> tok/s · reasoning_truncated_rate 0.0000 · length_cut_rate 0.0000 · run: <tmp>/runs/<ts>-gsm8k-base-<hex>
              gsm8k · fake:answers + tuned · n=3
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━┓
┃ metric            ┃  value ┃         95% CI ┃ ± stderr ┃ n ┃
┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━┩
│ strict_match      │ 0.6667 │ [0.208, 0.939] │   0.3333 │ 3 │
│ strict_no_match   │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
│ flexible_match    │ 0.6667 │ [0.208, 0.939] │   0.3333 │ 3 │
│ flexible_no_match │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
└───────────────────┴────────┴────────────────┴──────────┴───┘
  3 model calls, 0 cached, 0 failed · 1726 tokens in, 13 out · <s> s wall · <rate> tok/s · reasoning_truncated_rate 0.0000 · length_cut_rate 0.0000 · run: <tmp>/runs/<ts>-gsm8k-tuned-<hex>
                               gsm8k · tuned vs base · paired
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━┳━━━━━━━━━━━┳━━━━━━━━━┓
┃ metric            ┃   base ┃  tuned ┃              delta [95%] ┃ p ┃ flips -/+ ┃ detect. ┃
┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━╇━━━━━━━━━━━╇━━━━━━━━━┩
│ strict_match      │ 0.3333 │ 0.6667 │ +0.3333 [-0.326, +0.726] │ 1 │     0 / 1 │   0.667 │
│ strict_no_match   │ 0.3333 │ 0.3333 │ +0.0000 [-0.392, +0.392] │ 1 │     0 / 0 │   0.497 │
│ flexible_match    │ 0.3333 │ 0.6667 │ +0.3333 [-0.326, +0.726] │ 1 │     0 / 1 │   0.667 │
│ flexible_no_match │ 0.3333 │ 0.3333 │ +0.0000 [-0.392, +0.392] │ 1 │     0 / 0 │   0.497 │
└───────────────────┴────────┴────────┴──────────────────────────┴───┴───────────┴─────────┘
  flips: right->wrong / wrong->right; detect.: detectable Δ (one-sided α=0.05, 80% power), the smallest difference detected; `harness report` lists the flipped items
"""  # noqa: E501

PROGRESS = """\
gsm8k · base ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 3/3 <rate> it/s <rate> tok/s <clock> ETA <clock>
gsm8k · tuned ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 3/3 <rate> it/s <rate> tok/s <clock> ETA <clock>
"""  # noqa: E501


def test_run_prints_one_table_per_variant(
    tmp_path: Path, run_args: list[str], adapter: Path
) -> None:
    result = invoke([*run_args, "--adapter", str(adapter), "--base"])
    assert result.exit_code == 0
    assert normalise(result.stdout, tmp_path) == TABLES
    assert normalise(result.stderr, tmp_path) == PROGRESS


RERUN = """\
                  gsm8k · fake:answers · n=3
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━┓
┃ metric            ┃  value ┃         95% CI ┃ ± stderr ┃ n ┃
┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━┩
│ strict_match      │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
│ strict_no_match   │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
│ flexible_match    │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
│ flexible_no_match │ 0.3333 │ [0.061, 0.792] │   0.3333 │ 3 │
└───────────────────┴────────┴────────────────┴──────────┴───┘
  0 model calls, 3 cached, 0 failed · 1726 tokens in, 25 out · <s> s wall · <rate> tok/s · reasoning_truncated_rate 0.0000 · length_cut_rate 0.0000 · run: <tmp>/runs/<ts>-gsm8k-base-<hex>
"""  # noqa: E501

RERUN_PROGRESS = """\
gsm8k · base ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━ 3/3 3 cached <clock> ETA -:--:--
"""


def test_rerun_is_answered_from_the_cache(
    tmp_path: Path, run_args: list[str], script: Path
) -> None:
    assert invoke(run_args).exit_code == 0
    again = invoke(run_args)
    assert again.exit_code == 0
    assert normalise(again.stdout, tmp_path) == RERUN
    assert normalise(again.stderr, tmp_path) == RERUN_PROGRESS
    # Another script is another model: nothing from the cache.
    script.write_text(script.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    edited = invoke(run_args)
    assert "  3 model calls, 0 cached, 0 failed" in edited.stdout  # the rest is RERUN's


JSON = """\
[
  {
    "run_id": "<ts>-gsm8k-base-<hex>",
    "group_id": "g-<ts>-<hex>",
    "folder": "<tmp>/runs/<ts>-gsm8k-base-<hex>",
    "task": "gsm8k",
    "model": "fake:answers",
    "adapter": null,
    "metrics": {
      "strict_match": {
        "value": 0.3333333333333333,
        "stderr": 0.33333333333333337,
        "ci_low": 0.06149194472039621,
        "ci_high": 0.7923403991979522,
        "n": 3,
        "method": "wilson"
      },
      "strict_no_match": {
        "value": 0.3333333333333333,
        "stderr": 0.33333333333333337,
        "ci_low": 0.06149194472039621,
        "ci_high": 0.7923403991979522,
        "n": 3,
        "method": "wilson"
      },
      "flexible_match": {
        "value": 0.3333333333333333,
        "stderr": 0.33333333333333337,
        "ci_low": 0.06149194472039621,
        "ci_high": 0.7923403991979522,
        "n": 3,
        "method": "wilson"
      },
      "flexible_no_match": {
        "value": 0.3333333333333333,
        "stderr": 0.33333333333333337,
        "ci_low": 0.06149194472039621,
        "ci_high": 0.7923403991979522,
        "n": 3,
        "method": "wilson"
      },
      "reasoning_truncated_rate": {
        "value": 0.0,
        "stderr": 0.0,
        "ci_low": 0.0,
        "ci_high": 0.5614970317550454,
        "n": 3,
        "method": "wilson"
      },
      "length_cut_rate": {
        "value": 0.0,
        "stderr": 0.0,
        "ci_low": 0.0,
        "ci_high": 0.5614970317550454,
        "n": 3,
        "method": "wilson"
      }
    },
    "counts": {
      "samples": 3,
      "requests": 3,
      "cache_hits": 0,
      "model_calls": 3,
      "errors": 0
    },
    "timing": {
      "wall_s": <s>,
      "model_s": <s>,
      "tokens_in": 1726,
      "tokens_out": 25,
      "tokens_per_s": <s>,
      "items_per_s": <s>,
      "engine_start_s": <s>,
      "setup_s": <s>
    },
    "usage": {
      "model_tokens_in": 1726,
      "model_tokens_out": 25,
      "model_reasoning_tokens": 0,
      "reasoning_tokens_method": "none",
      "judge_tokens_in": null,
      "judge_tokens_out": null,
      "judge_calls": null,
      "ragas_calls": null,
      "ragas_tokens_in": null,
      "ragas_tokens_out": null,
      "price_per_1k_in": null,
      "price_per_1k_out": null,
      "cost": null,
      "reasoning_cost": null
    }
  },
  {
    "run_id": "<ts>-gsm8k-tuned-<hex>",
    "group_id": "g-<ts>-<hex>",
    "folder": "<tmp>/runs/<ts>-gsm8k-tuned-<hex>",
    "task": "gsm8k",
    "model": "fake:answers",
    "adapter": "tuned",
    "metrics": {
      "strict_match": {
        "value": 0.6666666666666666,
        "stderr": 0.33333333333333337,
        "ci_low": 0.2076596008020477,
        "ci_high": 0.9385080552796037,
        "n": 3,
        "method": "wilson"
      },
      "strict_no_match": {
        "value": 0.3333333333333333,
        "stderr": 0.33333333333333337,
        "ci_low": 0.06149194472039621,
        "ci_high": 0.7923403991979522,
        "n": 3,
        "method": "wilson"
      },
      "flexible_match": {
        "value": 0.6666666666666666,
        "stderr": 0.33333333333333337,
        "ci_low": 0.2076596008020477,
        "ci_high": 0.9385080552796037,
        "n": 3,
        "method": "wilson"
      },
      "flexible_no_match": {
        "value": 0.3333333333333333,
        "stderr": 0.33333333333333337,
        "ci_low": 0.06149194472039621,
        "ci_high": 0.7923403991979522,
        "n": 3,
        "method": "wilson"
      },
      "reasoning_truncated_rate": {
        "value": 0.0,
        "stderr": 0.0,
        "ci_low": 0.0,
        "ci_high": 0.5614970317550454,
        "n": 3,
        "method": "wilson"
      },
      "length_cut_rate": {
        "value": 0.0,
        "stderr": 0.0,
        "ci_low": 0.0,
        "ci_high": 0.5614970317550454,
        "n": 3,
        "method": "wilson"
      }
    },
    "counts": {
      "samples": 3,
      "requests": 3,
      "cache_hits": 0,
      "model_calls": 3,
      "errors": 0
    },
    "timing": {
      "wall_s": <s>,
      "model_s": <s>,
      "tokens_in": 1726,
      "tokens_out": 13,
      "tokens_per_s": <s>,
      "items_per_s": <s>,
      "engine_start_s": <s>,
      "setup_s": <s>
    },
    "usage": {
      "model_tokens_in": 1726,
      "model_tokens_out": 13,
      "model_reasoning_tokens": 0,
      "reasoning_tokens_method": "none",
      "judge_tokens_in": null,
      "judge_tokens_out": null,
      "judge_calls": null,
      "ragas_calls": null,
      "ragas_tokens_in": null,
      "ragas_tokens_out": null,
      "price_per_1k_in": null,
      "price_per_1k_out": null,
      "cost": null,
      "reasoning_cost": null
    }
  }
]
"""


def test_run_json_summary(tmp_path: Path, run_args: list[str], adapter: Path) -> None:
    result = invoke([*run_args, "--adapter", str(adapter), "--base", "--json"])
    assert result.exit_code == 0
    assert normalise(result.stdout, tmp_path) == JSON
    assert result.stderr == ""  # no progress bars with --json


# Failed requests: a scripted 503 on item 2 is never scored (the metrics are over the 2
# answered items), the run is recorded as incomplete, the command exits 3 with one line, and
# the rerun asks the backend for the failed request again (it was not cached).
ERRORS_SCRIPT = """\
default: "I cannot say."
answers:
  - contains: "Janet’s ducks lay 16 eggs"
    text: "#### 18"
  - contains: "A robe takes 2 bolts"
    error: "HTTP 503: server overloaded"
"""

ERRORS_TABLE = """\
            gsm8k · fake:errors · n=2 of 3 scored
┏━━━━━━━━━━━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━━┳━━━━━━━━━━┳━━━┓
┃ metric            ┃  value ┃         95% CI ┃ ± stderr ┃ n ┃
┡━━━━━━━━━━━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━━╇━━━━━━━━━━╇━━━┩
│ strict_match      │ 0.5000 │ [0.095, 0.905] │   0.5000 │ 2 │
│ strict_no_match   │ 0.5000 │ [0.095, 0.905] │   0.5000 │ 2 │
│ flexible_match    │ 0.5000 │ [0.095, 0.905] │   0.5000 │ 2 │
│ flexible_no_match │ 0.5000 │ [0.095, 0.905] │   0.5000 │ 2 │
└───────────────────┴────────┴────────────────┴──────────┴───┘
  3 model calls, 0 cached, 1 failed · 1726 tokens in, 5 out · <s> s wall · <rate> tok/s · reasoning_truncated_rate 0.0000 · length_cut_rate 0.0000 · run: <tmp>/runs/<ts>-gsm8k-base-<hex>
"""  # noqa: E501


ERRORS_LINE = (
    "error: 1 of 3 requests failed (first: HTTP 503: server overloaded); their items were not "
    "scored and the run is recorded as incomplete; fix the cause and rerun the same command "
    "(answered requests come from the cache)\n"
)


def test_failed_requests_are_not_scored_and_the_run_exits_3(
    tmp_path: Path, run_args: list[str]
) -> None:
    script = tmp_path / "errors.yaml"
    script.write_text(ERRORS_SCRIPT, encoding="utf-8")
    args = list(run_args)
    args[args.index("--model") + 1] = str(script)
    result = invoke(args)
    assert result.exit_code == 3
    assert normalise(result.stdout, tmp_path) == ERRORS_TABLE
    assert result.stderr.endswith(ERRORS_LINE)
    (folder,) = (tmp_path / "runs").iterdir()
    record = read_run(folder)
    assert (record.status, record.counts.errors) == ("incomplete", 1)
    samples = read_samples(folder)
    assert [bool(s.errors) for s in samples] == [False, True, False]
    assert samples[1].scores == {} and samples[0].scores["strict"].values["strict_match"] == 1.0
    # A failed request is not cached: the rerun asks the backend for it again.
    rerun = invoke(args)
    assert rerun.exit_code == 3
    assert "  1 model calls, 2 cached, 1 failed" in rerun.stdout  # the rest is ERRORS_TABLE's
