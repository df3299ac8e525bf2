"""Test helper: a small local model folder whose chat template honours ``enable_thinking``.

The template is written here from the documented behaviour of public reasoning-model
templates (Qwen3's): chat turns as ``<|im_start|>ROLE\\n…<|im_end|>``; with the generation
prompt, ``enable_thinking=false`` pre-fills an empty thinking block (``<think>\\n\\n</think>``)
so the model answers at once, and anything else leaves the thinking to the model. A second
template rejects a system turn the way Gemma's does (``raise_exception``). The tokenizer is a
word-level one over a few dozen words; the weights are a randomly initialised tiny Llama.
"""

from __future__ import annotations

from pathlib import Path

THINKING_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking is false -%}"
    "{{- '<think>\\n\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{%- endif -%}"
)

NO_SYSTEM_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' -%}"
    "{{- raise_exception('System role not supported') -}}"
    "{%- endif -%}" + THINKING_TEMPLATE
)

SPECIAL = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
WORDS = ["Question:", "Answer:", "####", "the", "a", "of", "and", "to", "is", "in", "eggs"]
WORDS += [*"1234567890", "=", "+", "-", "*"]


def think_tokenizer(template: str = THINKING_TEMPLATE) -> object:
    """A ``PreTrainedTokenizerFast`` with ``template`` as its chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*SPECIAL, *WORDS])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="<unk>",
        pad_token="<pad>",
        eos_token="<|im_end|>",
        additional_special_tokens=["<|im_start|>", "<think>", "</think>"],
    )
    tok.chat_template = template
    return tok


def think_model_dir(folder: Path, template: str = THINKING_TEMPLATE) -> Path:
    """Writes tokenizer and tiny Llama weights into ``folder`` (a local ``--model`` folder)."""
    from tests._tiny_llama import tiny_llama

    tok = think_tokenizer(template)
    size = len(SPECIAL) + len(WORDS)
    model = tiny_llama(vocab_size=size, pad_token_id=1, eos_token_id=3, bos_token_id=2)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)  # type: ignore[attr-defined]
    return folder
