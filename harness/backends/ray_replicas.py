"""N replicas of a backend as Ray actors, behind the ordinary `Backend` interface.

`RayReplicas` is what ``harness run --ray [ADDRESS] --replicas N`` evaluates on. Each replica
is a Ray actor that builds the named backend (``hf``, ``vllm`` ...) with the same options and
prepares the same adapters, so every replica holds the base model and every adapter. The
driver keeps everything else: the runner renders prompts through replica 0 (the same tokenizer
and template as one process), looks requests up in the cache, and gets answers streamed back
here chunk by chunk as replicas finish them, committing each to the cache as usual; one run
record per variant is written exactly as in a single process. The cache key is the wrapped
backend's, so answers are shared with single-process runs (greedy outputs are the same).

Work is a queue of contiguous chunks of the request list; an idle replica takes the next one.
A replica that dies (``ray.kill``, a crashed node) loses only its current chunk, which goes
back on the queue for the others; when no replica is left, the unanswered requests end as
errors (the run is incomplete and a rerun answers only those). Sampled requests are seeded by
their position in the whole request list, not in the chunk.

Without an address a private Ray is started on 127.0.0.1 (dashboard and usage statistics off)
and shut down on `close`, at exit and on SIGTERM, so no Ray process outlives harness. With an
address (``ray start --head`` printed it, or ``auto``) harness joins that cluster and leaves it
running; every node then needs harness, the model folder and the adapters at the same paths.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness._errors import BackendError, HarnessError
from harness._types import Generation, GenerationParams, Prompt
from harness.backends import _cleanup
from harness.backends._base import (
    AdapterSpec,
    Backend,
    Loglikelihood,
    LoglikelihoodRequest,
    ModelInfo,
    Rendered,
    backends,
)

#: Variables the private Ray is started with: nothing phones home.
RAY_QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_usage_stats_enabled": "0"}


@dataclass(frozen=True)
class RayOptions:
    """Where the replicas run and how many.

    Attributes:
        address: A Ray cluster to join (``host:port`` or ``auto``); None: a private local Ray.
        replicas: Number of backend replicas (actors).
        replica_gpus: GPUs per replica (None: 1 when the cluster has a GPU per replica, else 0).
        chunk_size: Requests per unit of work (None: about a quarter of each replica's share).
        num_cpus: CPUs the private local Ray offers (None: the machine's, at least ``replicas``).
    """

    address: str | None = None
    replicas: int = 1
    replica_gpus: float | None = None
    chunk_size: int | None = None
    num_cpus: int | None = None


class Replica:
    """One backend inside a Ray actor (Ray wraps this class; it is plain Python here)."""

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        from harness.backends import build_backend

        self.backend = build_backend(name, **options)

    def info(self) -> dict[str, Any]:
        b = self.backend
        return {
            "model_info": b.model_info(),
            "cache_identity": b.cache_identity(),
            "chat_template": b.chat_template,
            "batch_size": b.batch_size,
            "engine_start_s": getattr(b, "engine_start_s", None),
            "pid": os.getpid(),
        }

    def prepare(self, adapters: list[AdapterSpec]) -> None:
        self.backend.prepare(adapters)

    def render(self, prompts: list[Prompt]) -> list[Rendered]:
        return [self.backend.render(p) for p in prompts]

    def generate(
        self,
        prompts: list[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None,
        start: int,
    ) -> list[tuple[int, Generation]]:
        # Seeds follow the position in the whole request list, as in one process.
        params = replace(params, seed=params.seed + start)
        return list(self.backend.generate(prompts, params, adapter))

    def loglikelihood(
        self, requests: list[LoglikelihoodRequest], adapter: AdapterSpec | None, start: int
    ) -> list[tuple[int, Loglikelihood]]:
        return list(self.backend.loglikelihood(requests, adapter))

    def close(self) -> None:
        self.backend.close()


class RayReplicas(Backend):
    """``backend`` replicated as Ray actors; started on first use, stopped by `close`.

    Args:
        backend: Registry name of the backend each replica runs.
        options: Its `build_backend` options (same for every replica).
        ray: Cluster address, replica count, GPUs per replica.
    """

    def __init__(self, backend: str, options: dict[str, Any], ray: RayOptions) -> None:
        cls = backends.get(backend)  # an unknown name fails here, before Ray starts
        super().__init__(chat_template=options.get("chat_template"))
        self.name = backend
        self.supports_loglikelihood = cls.supports_loglikelihood
        self.supports_adapters = cls.supports_adapters
        self.engine_packages = cls.engine_packages
        self.options, self.ray = dict(options), ray
        self.actors: list[Any] = []
        self._info: dict[str, Any] = {}
        self._adapters: list[AdapterSpec] | None = None
        self._owns_cluster = False
        self.engine_start_s: float | None = None

    # -- start and stop -------------------------------------------------------------------

    def _start(self) -> None:
        ray = _import_ray()
        t0 = time.monotonic()
        self._init_cluster(ray)
        _cleanup.register(self)
        gpus = self._replica_gpus(ray)
        actor_cls = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=0)(Replica)
        self.actors = [actor_cls.remote(self.name, self.options) for _ in range(self.ray.replicas)]
        infos = self._get([a.info.remote() for a in self.actors], "starting")
        self._check_same(infos)
        self._info = infos[0]
        self.chat_template = self._info["chat_template"]
        self.batch_size = self._info["batch_size"]
        self.engine_start_s = time.monotonic() - t0

    def _init_cluster(self, ray: Any) -> None:
        if ray.is_initialized():
            return  # the caller's Ray (library use): use it, leave it running
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.ray.address is None:
            kwargs.update(
                address="local",
                num_cpus=self.ray.num_cpus or max(os.cpu_count() or 1, self.ray.replicas),
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                runtime_env={"env_vars": {"PYTHONPATH": _python_path()}},
            )
        else:
            kwargs["address"] = self.ray.address
        saved = {k: os.environ.get(k) for k in RAY_QUIET_ENV}
        os.environ.update(RAY_QUIET_ENV)  # read by ray.init and the processes it starts
        try:
            ray.init(**kwargs)
        except Exception as e:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError ...
            where = self.ray.address or "a local Ray on 127.0.0.1"
            raise BackendError(f"could not start or join {where}: {_one_line(e)}") from None
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self._owns_cluster = True

    def _replica_gpus(self, ray: Any) -> float:
        if self.ray.replica_gpus is not None:
            return self.ray.replica_gpus
        return 1.0 if ray.cluster_resources().get("GPU", 0) >= self.ray.replicas else 0.0

    def _check_same(self, infos: list[dict[str, Any]]) -> None:
        """Replicas on other nodes must serve the same weights with the same settings."""
        first = infos[0]
        for k, info in enumerate(infos[1:], start=1):
            for key in ("cache_identity", "chat_template"):
                if info[key] != first[key]:
                    raise BackendError(
                        f"Ray replica {k} differs from replica 0 in {key} ({info[key]!r} vs "
                        f"{first[key]!r}); install the same packages and model on every node"
                    )
            if info["model_info"].weight_sha256 != first["model_info"].weight_sha256:
                raise BackendError(
                    f"Ray replica {k} loaded different weights than replica 0; "
                    f"put the same model folder on every node"
                )

    def close(self) -> None:
        _cleanup.unregister(self)
        actors, self.actors = self.actors, []
        if not actors and not self._owns_cluster:
            return
        ray = _import_ray()
        if ray.is_initialized():
            for actor in actors:
                try:
                    ray.get(actor.close.remote(), timeout=60)
                except Exception:  # noqa: BLE001 - a dead replica has nothing to close
                    pass
                ray.kill(actor)
            if self._owns_cluster:
                ray.shutdown()
        self._owns_cluster = False

    # -- the Backend interface ------------------------------------------------------------

    def _ensure_started(self) -> None:
        if not self.actors:
            self._start()

    def model_info(self) -> ModelInfo:
        self._ensure_started()
        info: ModelInfo = replace(self._info["model_info"])
        info.extra = {
            **info.extra,
            "ray": {
                "address": self.ray.address or "local",
                "replicas": self.ray.replicas,
                "replica_gpus": self._replica_gpus(_import_ray()),
            },
        }
        return info

    def cache_identity(self) -> dict[str, Any]:
        self._ensure_started()
        return dict(self._info["cache_identity"])

    def prepare(self, adapters: Sequence[AdapterSpec]) -> None:
        self._ensure_started()
        adapters = list(adapters)
        self._get([a.prepare.remote(adapters) for a in self.actors], "loading adapters")
        if self._adapters is None:  # the engine started now: its start time is the replicas'
            infos = self._get([a.info.remote() for a in self.actors], "starting")
            starts = [i["engine_start_s"] for i in infos if i["engine_start_s"] is not None]
            if starts:
                self.engine_start_s = (self.engine_start_s or 0.0) + max(starts)
        self._adapters = adapters

    def render(self, prompt: Prompt) -> Rendered:
        self._ensure_started()
        return self._get([self.actors[0].render.remote([prompt])], "rendering")[0][0]

    def generate(
        self,
        prompts: Sequence[Rendered],
        params: GenerationParams,
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Generation]]:
        yield from self._fan_out("generate", list(prompts), params, adapter)

    def loglikelihood(
        self,
        requests: Sequence[LoglikelihoodRequest],
        adapter: AdapterSpec | None = None,
    ) -> Iterator[tuple[int, Loglikelihood]]:
        if not self.supports_loglikelihood:
            raise NotImplementedError(f"backend {self.name!r} cannot score log-likelihoods")
        yield from self._fan_out("loglikelihood", list(requests), adapter)

    # -- work distribution ----------------------------------------------------------------

    def _chunks(self, n: int) -> deque[tuple[int, int]]:
        size = self.ray.chunk_size or max(1, math.ceil(n / (4 * max(1, len(self.actors)))))
        return deque((s, min(s + size, n)) for s in range(0, n, size))

    def _fan_out(self, method: str, items: list[Any], *args: Any) -> Iterator[tuple[int, Any]]:
        """Yields ``(index into items, result)`` as chunks come back from the replicas."""
        ray = _import_ray()
        from ray.exceptions import RayActorError

        self._ensure_started()
        todo, idle = self._chunks(len(items)), list(self.actors)
        pending: dict[Any, tuple[Any, int, int]] = {}
        while todo or pending:
            while todo and idle:
                actor, (s, e) = idle.pop(0), todo.popleft()
                ref = getattr(actor, method).remote(items[s:e], *args, s)
                pending[ref] = (actor, s, e)
            if not pending:  # every replica is gone: the rest stay unanswered (rerun)
                _warn(f"no Ray replica left; {sum(e - s for s, e in todo)} requests unanswered")
                return
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            actor, s, e = pending.pop(ref)
            try:
                results = self._get([ref], "answering")[0]
            except RayActorError as err:
                self._drop(actor, err)
                todo.appendleft((s, e))  # another replica answers these
                continue
            idle.append(actor)
            for i, result in results:
                yield s + i, result

    def _drop(self, actor: Any, err: BaseException) -> None:
        self.actors = [a for a in self.actors if a is not actor]
        _warn(
            f"a Ray replica died ({_one_line(err)[:120]}); its requests go to the "
            f"{len(self.actors)} left"
        )

    def _get(self, refs: list[Any], doing: str) -> list[Any]:
        """``ray.get`` with a harness error from a replica re-raised as itself (one line)."""
        ray = _import_ray()
        from ray.exceptions import RayActorError, RayTaskError

        try:
            return list(ray.get(refs))
        except RayActorError:
            if doing == "answering":
                raise
            raise BackendError(
                f"a Ray replica died while {doing}; see the Ray logs (/tmp/ray/session_latest)"
            ) from None
        except RayTaskError as e:
            cause = getattr(e, "cause", None)
            if isinstance(cause, HarnessError):
                raise cause from None
            if isinstance(cause, BaseException):
                raise cause from e
            raise


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BackendError(
            "--ray needs the ray package: pip install 'ray==2.60.0' (or scripts/setup.sh)"
        ) from None
    return ray


def _python_path() -> str:
    """Where the replicas import harness and its plugins from: where this driver does."""
    roots = [str(Path(__file__).resolve().parents[2])]  # harness/backends/this file
    given = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(roots + [p for p in given if p not in roots])


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr, flush=True)
