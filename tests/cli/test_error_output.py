"""User errors in ``harness run --backend fake``: exit code 2, one line on stderr, no stdout."""

from __future__ import annotations

from pathlib import Path

import pytest
from _cli_helpers import invoke, normalise

MISSING = (
    "error: fake backend script <tmp>/missing.yaml cannot be read (No such file or directory); "
    "pass a YAML or JSON script with --model\n"
)
MISTYPED = (
    "error: fake backend script <tmp>/bad.yaml: answers.0.txt: Extra inputs are not permitted\n"
)
NOT_YAML = "error: fake backend script <tmp>/bad.yaml is not valid YAML at line 2: expected the node content, but found '<stream end>'\n"  # noqa: E501


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("missing.yaml", None, MISSING),
        ("bad.yaml", "answers:\n  - contains: x\n    txt: y\n", MISTYPED),
        ("bad.yaml", "answers: [\n", NOT_YAML),
    ],
)
def test_bad_script_is_one_line_and_exit_2(
    tmp_path: Path, run_args: list[str], name: str, text: str | None, expected: str
) -> None:
    script = tmp_path / name
    if text is not None:
        script.write_text(text, encoding="utf-8")
    args = list(run_args)
    args[args.index("--model") + 1] = str(script)
    result = invoke(args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert normalise(result.stderr, tmp_path) == expected
    assert not (tmp_path / "runs").exists()  # failed before any run was written


@pytest.mark.parametrize(
    ("flag", "value", "rule"),
    [
        ("--limit", "-1", "-1: pass at least 1 item, or a fraction 0<x<1"),
        ("--limit", "0", "0: pass at least 1 item, or a fraction 0<x<1"),
        ("--limit", "1.5", "1.5: a fraction must lie strictly between 0 and 1"),
        ("--limit", "ten", "'ten' is neither a count (100) nor a fraction (0.1)"),
        ("--sample", "0", "0: pass at least 1 item, or a fraction 0<x<1"),
        ("--samples", "0", "0 is not in the range x>=1"),
        ("--temperature", "-0.5", "-0.5 is not in the range x>=0.0"),
        ("--max-new-tokens", "0", "0 is not in the range x>=1"),
    ],
)
def test_out_of_range_options_exit_2_before_any_work(
    tmp_path: Path, run_args: list[str], flag: str, value: str, rule: str
) -> None:
    args = list(run_args)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    result = invoke(args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.strip().splitlines()[-1].endswith(rule + ".")
    assert not (tmp_path / "runs").exists()


def test_corrupt_cache_file_is_one_line_and_exit_2(tmp_path: Path, run_args: list[str]) -> None:
    bad = tmp_path / "cache.sqlite"
    bad.write_bytes(b"not a database, just text " * 40)
    result = invoke(run_args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert normalise(result.stderr, tmp_path) == (
        "error: request cache <tmp>/cache.sqlite cannot be used (file is not a database); "
        "move it away, pass --cache OTHER_FILE, or --no-cache\n"
    )
    assert bad.read_bytes() == b"not a database, just text " * 40  # left as it was
    assert invoke([*run_args, "--no-cache"]).exit_code == 0


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (
            "max_tokens=5",
            (
                "error: unknown generation parameter 'max_tokens'; known: max_new_tokens, "
                "temperature, top_p, stop, n, seed\n"
            ),
        ),
        ("top_p=0", "error: generation top_p=0: must be a number in (0, 1]\n"),
        ("n=two", "error: generation n='two': must be an integer >= 1\n"),
        ("top_p", "error: -G 'top_p': expected key=value\n"),
    ],
)
def test_bad_generation_parameter_is_one_line_before_any_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pair: str, expected: str
) -> None:
    import harness._eval

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("a backend was built")

    monkeypatch.setattr(harness._eval, "build_backend", no_model)
    # --backend hf: the real default, which would load the bundled model
    result = invoke(["run", "--task", "gsm8k", "--limit", "1", "-G", pair, "-o", str(tmp_path)])
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected)


def test_generation_parameters_reach_the_record(tmp_path: Path, run_args: list[str]) -> None:
    import json

    result = invoke([*run_args, "-G", "top_p=0.5", "-G", 'stop=["\\n\\n"]', "--json"])
    assert result.exit_code == 0, result.stderr
    (run,) = (tmp_path / "runs").glob("*/run.json")
    generation = json.loads(run.read_text())["generation"]
    assert (generation["top_p"], generation["stop"]) == (0.5, ["\n\n"])
