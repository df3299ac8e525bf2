"""Bad input gives one line and exit 2, or is kept as it is (issue 23, case 7).

A model reply holding a lone surrogate (``"\\ud800"``: a tokenizer can split a character) is
stored in the cache and the run record without loss and scored; an ``--output-dir`` that is a
file or cannot be created is refused before anything is loaded; a data file with bytes that
are not UTF-8 is named with the offset of the first bad byte.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from _cli_helpers import invoke

from harness import read_samples
from harness.record import read_run

# A JSON script (YAML cannot hold a lone surrogate): every prompt gets this reply.
REPLY = "The answer is \ud800 18. #### 18"


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps({"default": REPLY}), encoding="ascii")
    return path


def _args(tmp_path: Path, data_dir: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--task", "gsm8k",
        "--limit", "2",
        "--backend", "fake",
        "--model", str(_script(tmp_path)),
        "--data-dir", str(data_dir),
        "--cache", str(tmp_path / "cache.sqlite"),
        *extra,
    ]  # fmt: skip


def test_a_reply_with_a_lone_surrogate_is_stored_losslessly_and_scored(
    tmp_path: Path, data_dir: Path
) -> None:
    for attempt in ("generated", "from the cache"):
        runs = tmp_path / attempt.replace(" ", "-")
        result = invoke([*_args(tmp_path, data_dir), "-o", str(runs), "--json"])
        assert result.exit_code == 0, (attempt, result.output)
        (folder,) = [p.parent for p in runs.glob("*/run.json")]
        samples = read_samples(folder)
        assert [s.outputs for s in samples] == [[REPLY], [REPLY]], attempt
        # Scored: the first gsm8k test item's answer is 18.
        values = {k: v for sc in samples[0].scores.values() for k, v in sc.values.items()}
        assert values["strict_match"] == 1.0, samples[0].scores
        record = read_run(folder)
        assert record.status == "complete" and record.counts.samples == 2
        assert record.counts.cache_hits == (2 if attempt == "from the cache" else 0)
    raw = (folder / "samples.jsonl").read_bytes()
    assert b"\\ud800" in raw and raw.decode("utf-8")  # escaped, valid UTF-8


def test_an_output_dir_that_is_a_file_is_refused_before_loading(
    tmp_path: Path, data_dir: Path
) -> None:
    target = tmp_path / "runs.txt"
    target.write_text("not a folder", encoding="utf-8")
    result = invoke([*_args(tmp_path, data_dir), "-o", str(target)])
    assert result.exit_code == 2
    assert result.output == (
        f"error: --output-dir {target} is a file, not a folder; pass a folder for the runs\n"
    )
    assert not (tmp_path / "cache.sqlite").exists()  # refused before the cache was opened


def test_an_output_dir_that_cannot_be_created_is_refused(tmp_path: Path, data_dir: Path) -> None:
    """(Root writes through file modes, so a read-only mount is the other case; not here.)"""
    (tmp_path / "file").write_text("x", encoding="utf-8")
    target = tmp_path / "file" / "runs"
    result = invoke([*_args(tmp_path, data_dir), "-o", str(target)])
    assert result.exit_code == 2
    assert result.output == (
        f"error: --output-dir {target} cannot hold runs ({tmp_path / 'file'} is a file); "
        "pass a writable folder\n"
    )


def test_a_data_file_that_is_not_utf8_names_the_file_and_byte(
    tmp_path: Path, data_dir: Path
) -> None:
    bad_dir = tmp_path / "data"
    (bad_dir / "gsm8k").mkdir(parents=True)
    for name in ("train.jsonl", "test.jsonl"):
        shutil.copy(data_dir / "gsm8k" / name, bad_dir / "gsm8k" / name)
    test = bad_dir / "gsm8k" / "test.jsonl"
    data = test.read_bytes()
    offset = data.index(b"\n") + 5  # inside the second row
    test.write_bytes(data[:offset] + b"\xff\xfe" + data[offset:])
    result = invoke([*_args(tmp_path, data_dir), "--data-dir", str(bad_dir), "-o", "runs"])
    assert result.exit_code == 2
    assert result.output == (
        f"error: {test}: not UTF-8 text (byte 0xff at byte offset {offset}); "
        "re-save the file as UTF-8\n"
    )
