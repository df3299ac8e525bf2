"""The ``SFTTrainer`` subclass `adapters.train` runs: the plain loss on CPU, and the
warmup-stable-decay schedule (`adapters.schedule`) in place of transformers' schedulers."""

from __future__ import annotations

from typing import Any

from adapters.schedule import Budget, wsd_scheduler


def trainer_class() -> type:
    """The trainer class (built here: trl and transformers are heavy imports)."""
    from transformers import Trainer
    from trl import SFTTrainer

    class HarnessSFTTrainer(SFTTrainer):  # type: ignore[misc]
        """SFTTrainer with the plain full-logits loss on CPU.

        TRL computes the loss with a vocabulary-tiled LM head that is recomputed in the backward
        pass: it saves GPU memory, and on a CPU (memory to spare, compute scarce) it costs time:
        on the bundled model, whose 49k-token head is a fifth of its weights, 12 LoRA steps
        took 60.8 s with it vs 55.1 s for a plain loop (bench/train.py). The loss is the same
        completion-only token mean either way.
        """

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            if self.args.use_cpu:
                return Trainer.compute_loss(
                    self,
                    model,
                    inputs,
                    return_outputs=return_outputs,
                    num_items_in_batch=num_items_in_batch,
                )
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

        wsd: tuple[Budget, int, float] | None = None  # (budget, warm-up steps, decay ratio)

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            if self.wsd is None or self.lr_scheduler is not None:
                return super().create_scheduler(num_training_steps, optimizer)
            budget, warmup, decay_ratio = self.wsd
            self.lr_scheduler = wsd_scheduler(
                optimizer or self.optimizer, budget, warmup, decay_ratio
            )
            return self.lr_scheduler

    return HarnessSFTTrainer
