"""Parsing the ``harness run`` options that choose items, prompts and prices.

Each parser turns one flag's text into a typed value, or a one-line error naming the flag.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness._context import TokenPrice
from harness._errors import HarnessError


class CountType(click.ParamType):
    """A number of items (``100``) or a fraction of them (``0.1``, strictly between 0 and 1)."""

    name = "N|FRACTION"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            self.fail(f"{text!r} is neither a count (100) nor a fraction (0.1).", param, ctx)
        if number.is_integer() and "." not in text and "e" not in text.lower():
            if number < 1:
                self.fail(f"{text}: pass at least 1 item, or a fraction 0<x<1.", param, ctx)
            return int(number)
        if not 0 < number < 1:
            self.fail(f"{text}: a fraction must lie strictly between 0 and 1.", param, ctx)
        return number


COUNT = CountType()


def parse_price(value: str | None) -> TokenPrice | None:
    """``--price-per-1k-tokens IN,OUT`` (one number: the same price both ways).

    Raises:
        HarnessError: Not one or two non-negative numbers.
    """
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    try:
        prices = [float(p) for p in parts]
    except ValueError:
        prices = []
    if len(prices) not in (1, 2) or any(p < 0 for p in prices):
        raise HarnessError(
            f"--price-per-1k-tokens {value!r}: pass IN,OUT prices per 1,000 tokens, e.g. 0.15,0.60"
        )
    return TokenPrice(prices[0], prices[-1])


def read_system_prompt(value: str | None) -> str | None:
    """``--system-prompt TEXT`` or ``@FILE`` (the file's text, trailing newline dropped).

    Raises:
        HarnessError: ``@FILE`` cannot be read, or the prompt is empty.
    """
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8").rstrip("\n")
        except OSError as e:
            raise HarnessError(
                f"--system-prompt {value}: cannot read {path} ({e.strerror}); pass TEXT or "
                f"@FILE naming a readable file"
            ) from None
    if not text.strip():
        raise HarnessError("--system-prompt is empty; pass the text or @FILE, or drop the flag")
    return text
