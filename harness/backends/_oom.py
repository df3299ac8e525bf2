"""Out-of-memory recovery for batched work: halve the batch and rerun what had not finished.

A GPU batch size picked from free memory can still be too large (long prompts, activation
peaks, another process taking memory). Instead of losing the run, `halving` catches PyTorch's
``OutOfMemoryError``, frees the cached blocks, logs one line and reruns the items not yet
yielded at half the batch, down to one row; an out-of-memory error at one row is a
`BackendError` (a clear line), not a traceback. Greedy decoding and per-prompt sampling streams
make a rerun give the same outputs as an uninterrupted run.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from harness._device import is_oom, release_cuda_memory
from harness._errors import BackendError

T = TypeVar("T")
log = logging.getLogger("harness.backends")


def halving(
    run: Callable[[list[int], int], Iterator[tuple[int, T]]],
    items: Sequence[int],
    batch_size: int,
    what: str,
) -> Iterator[tuple[int, T]]:
    """Yields ``run(items, batch_size)``; on out-of-memory, reruns the rest at half the batch.

    Args:
        run: Does the work for the given item ids at the given batch size, yielding
            ``(item id, result)`` as each finishes.
        items: Item ids.
        batch_size: Starting batch size.
        what: Names the work in the log line ("generation", "log-likelihood").

    Raises:
        BackendError: Out of memory at batch size 1.
    """
    todo, size = list(items), max(1, batch_size)
    while todo:
        done: set[int] = set()
        try:
            for i, out in run(todo, size):
                done.add(i)
                yield i, out
            return
        except Exception as e:  # only out-of-memory is handled; the rest is re-raised
            if not is_oom(e):
                raise
            failed_at = size
        release_cuda_memory()
        if failed_at == 1:
            raise BackendError(
                f"out of GPU memory at batch size 1 during {what}; use a smaller model, "
                "--dtype bfloat16/float16, fewer --max-new-tokens, or a GPU with more memory"
            )
        todo = [i for i in todo if i not in done]
        size = failed_at // 2
        msg = (
            f"harness: out of GPU memory at batch size {failed_at} during {what}; "
            f"retrying {len(todo)} unfinished item(s) at batch size {size}"
        )
        log.warning(msg)
        print(msg, file=sys.stderr, flush=True)
