"""Recipes: every shipped one validates; unknown keys and bad values are all reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.recipe import RECIPES_DIR, load_recipe, parse_overrides
from harness._errors import HarnessError

SHIPPED = sorted(RECIPES_DIR.glob("*.yaml"))


def test_recipes_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} >= {
        "default", "cpu", "full", "full-fsdp", "lora-fsdp", "deepspeed-zero2", "deepspeed-zero3"
    }  # fmt: skip


def test_sharded_recipes_say_their_strategy() -> None:
    got = {
        name: (r.method, r.distributed.strategy, r.distributed.sharding, r.distributed.zero_stage)
        for name in ("full", "full-fsdp", "lora-fsdp", "deepspeed-zero2", "deepspeed-zero3")
        for r in [load_recipe(name)]
    }
    assert got == {
        "full": ("full", "ddp", None, None),
        "full-fsdp": ("full", "fsdp", "full_shard", None),
        "lora-fsdp": ("lora", "fsdp", "full_shard", None),
        "deepspeed-zero2": ("lora", "deepspeed", None, 2),
        "deepspeed-zero3": ("full", "deepspeed", None, 3),
    }
    assert load_recipe("deepspeed-zero3").distributed.cpu_offload


def test_method_full_and_qlora_validation() -> None:
    assert load_recipe("cpu").method == "lora"
    assert load_recipe("cpu", ["method=full"]).method == "full"
    # Two spellings of QLoRA always agree, whichever one the recipe used.
    by_method = load_recipe("default", ["method=qlora"])
    by_flag = load_recipe("default", ["lora.quantize_4bit=true"])
    for r in (by_method, by_flag):
        assert (r.method, r.lora.quantize_4bit, r.optimizer) == ("qlora", True, "paged_adamw_8bit")
    with pytest.raises(HarnessError, match="method full trains every weight"):
        load_recipe("cpu", ["method=full", "lora.quantize_4bit=true"])
    with pytest.raises(HarnessError, match=r"method qlora runs under distributed\.strategy ddp"):
        load_recipe("lora-fsdp", ["method=qlora"])
    with pytest.raises(HarnessError, match=r"method: Input should be 'lora', 'qlora' or 'full'"):
        load_recipe("cpu", ["method=dora"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["distributed.sharding=full_shard"], "sharding applies to strategy fsdp only"),
        (
            ["distributed.strategy=fsdp", "distributed.zero_stage=3"],
            "zero_stage applies to strategy deepspeed only",
        ),
        (["distributed.cpu_offload=true"], "cpu_offload needs strategy fsdp or deepspeed"),
        (["distributed.strategy=horovod"], "distributed.strategy: Input should be 'ddp'"),
        (
            ["distributed.strategy=deepspeed", "distributed.zero_stage=4"],
            "distributed.zero_stage: Input should be 1, 2 or 3",
        ),
    ],
)
def test_distributed_settings_are_checked(overrides: list[str], message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        load_recipe("cpu", overrides)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_recipe_validates_and_shows_its_command(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.lora.r >= 1
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    assert any("harness train" in line and "--recipe" in line for line in header)


def test_default_recipe_has_the_seed_paper_settings() -> None:
    r = load_recipe("default")
    assert (r.lora.r, r.lora.alpha, r.lora.dropout) == (64, 16, 0.1)
    assert (r.epochs, r.batch_size, r.lr, r.warmup_ratio, r.max_seq_length) == (
        2,
        4,
        2.5e-5,
        0.03,
        1024,
    )
    assert r.precision == "auto"


def test_all_errors_are_reported_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("lora:\n  r: 0\n  rank: 8\nlr: -1\nbatchsize: 4\ntemplate: mistral\n")
    with pytest.raises(HarnessError) as err:
        load_recipe(bad)
    msg = str(err.value)
    assert "5 error(s)" in msg and "\n" not in msg
    for part in ("lora.r:", "lora.rank: unknown key", "lr:", "batchsize: unknown key", "template:"):
        assert part in msg


def test_overrides_nest_parse_and_validate() -> None:
    assert parse_overrides(["lora.r=8", "lr=1e-3", "validation.split=null"]) == {
        "lora": {"r": 8},
        "lr": "1e-3",
        "validation": {"split": None},
    }
    r = load_recipe("cpu", ["lora.r=8", "lr=1e-3", "max_steps=3"])
    assert (r.lora.r, r.lr, r.max_steps) == (8, 1e-3, 3)
    assert r.lora.alpha == load_recipe("cpu").lora.alpha  # untouched keys keep the file's value
    with pytest.raises(HarnessError, match="not key=value"):
        load_recipe("cpu", ["lora.r"])
    with pytest.raises(HarnessError, match=r"lora\.nope: unknown key"):
        load_recipe("cpu", ["lora.nope=1"])


def test_missing_recipe_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"one of: cpu, deepspeed-zero2, .*full-fsdp"):
        load_recipe("nonexistent")
    broken = tmp_path / "broken.yaml"
    broken.write_text("lora: [unclosed\n")
    with pytest.raises(HarnessError, match="not valid YAML"):
        load_recipe(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n")
    with pytest.raises(HarnessError, match="mapping"):
        load_recipe(listing)


def test_qlora_needs_half_precision() -> None:
    with pytest.raises(HarnessError, match="quantize_4bit needs bf16"):
        load_recipe("cpu", ["lora.quantize_4bit=true", "precision=fp32"])


def test_lora_alpha_is_an_integer() -> None:
    # peft and the adapter_config.json that vLLM reads take an int lora_alpha.
    assert load_recipe("cpu", ["lora.alpha=16.0"]).lora.alpha == 16
    with pytest.raises(HarnessError, match=r"lora\.alpha: .*valid integer"):
        load_recipe("cpu", ["lora.alpha=16.5"])


def test_optim_and_gradient_checkpointing_follow_quantization() -> None:
    plain = load_recipe("cpu")
    assert (plain.optimizer, plain.checkpointing) == ("adamw_torch_fused", False)
    qlora = load_recipe("default", ["lora.quantize_4bit=true"])
    assert (qlora.optimizer, qlora.checkpointing) == ("paged_adamw_8bit", True)
    mine = load_recipe(
        "default", ["lora.quantize_4bit=true", "optim=adamw_torch", "gradient_checkpointing=false"]
    )
    assert (mine.optimizer, mine.checkpointing) == ("adamw_torch", False)
    with pytest.raises(HarnessError, match=r"optim: Input should be 'adamw_torch'"):
        load_recipe("cpu", ["optim=adam"])
    with pytest.raises(
        HarnessError, match="gradient_checkpointing: Input should be a valid boolean"
    ):
        load_recipe("cpu", ["gradient_checkpointing=sometimes"])
