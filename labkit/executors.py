"""Where a sweep's trials run: here, one after another (``"local"``), or as Ray tasks (``"ray"``).

The driver (the process that called :func:`labkit.sweep.run_sweep`) stays the only writer of the
results file and of MLflow: an executor only hands back each trial's outcome, in the order the
trials finish. With Ray each trial is a task using ``threads_per_trial`` torch threads and as many
of the cluster's CPUs; a worker process killed mid-trial has its task retried (``max_retries``),
and a trial that still fails comes back as :class:`TrialFailed`, recorded as failed, never as a row.
Ray reuses worker processes, so a trial's per-process caches (Lab 2's decoded dataset) load once
per worker. A trial that saves files (Lab 2's ``save_models``) writes them from the worker: on a
multi-node cluster keep ``reports/`` on storage every node sees.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

EXECUTORS = ("local", "ray")
RAY_INSTALL = "pip install 'labkit[ray]'   (or: pip install 'ray[default]')"

Config = dict[str, Any]
Outcome = Callable[[], dict[str, Any]]  # runs (local) or fetches (Ray) one trial's metrics


class TrialFailed(Exception):
    """A trial that failed for good under Ray (after its retries); ``reason`` is what Ray reported."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Executor:
    """How to run trials. ``kind``: ``"local"`` or ``"ray"``; ``ray_address``: an existing cluster
    (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``; default ``$RAY_ADDRESS``, else the cluster that
    ``ray start`` started on this machine, else a new Ray instance on its cores); ``threads_per_trial``:
    torch threads per trial (default: torch's own locally, 1 under Ray); ``max_retries``: re-runs of a Ray
    task whose worker died."""

    kind: str = "local"
    ray_address: str | None = None
    threads_per_trial: int | None = None
    max_retries: int = 3

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ValueError(f"executor={self.kind!r} is not one of {EXECUTORS}: 'local' runs trials one after "
                             "another in this process, 'ray' runs them as Ray tasks")
        if self.threads_per_trial is not None and (
                isinstance(self.threads_per_trial, bool) or not isinstance(self.threads_per_trial, int)
                or self.threads_per_trial < 1):
            raise ValueError(f"threads_per_trial={self.threads_per_trial!r}: give a whole number >= 1, or None")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries={self.max_retries!r}: give a whole number >= 0")
        if self.kind == "local" and self.ray_address:
            raise ValueError("ray_address is set but executor='local': set executor='ray' to use the cluster")


def as_executor(executor: "str | Executor | None") -> Executor:
    """An :class:`Executor` from a name (``"local"``/``"ray"``), an Executor, or None (local)."""
    if executor is None:
        return Executor()
    return executor if isinstance(executor, Executor) else Executor(kind=executor)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (None: leave the setting alone), then restore it."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def outcomes(pending: list[tuple[Config, str]], trial: Callable[[Config], dict[str, Any]],
             executor: Executor) -> Iterator[tuple[Config, str, Outcome]]:
    """Yield ``(config, key, outcome)`` per pending trial as it finishes; ``outcome()`` returns its metrics or
    raises (locally: the trial's own error, after running it; under Ray: :class:`TrialFailed`)."""
    if executor.kind == "local":
        for config, key in pending:
            yield config, key, _Local(trial, config, executor.threads_per_trial)
        return
    yield from _ray_outcomes(pending, trial, executor)


class _Local:
    def __init__(self, trial: Callable[[Config], dict[str, Any]], config: Config, threads: int | None) -> None:
        self.trial, self.config, self.threads = trial, config, threads

    def __call__(self) -> dict[str, Any]:
        with torch_threads(self.threads):
            return self.trial(self.config)


class _Done:
    def __init__(self, value: Any = None, failure: TrialFailed | None = None) -> None:
        self.value, self.failure = value, failure

    def __call__(self) -> dict[str, Any]:
        if self.failure is not None:
            raise self.failure
        return self.value


def connect_ray(address: str | None = None) -> Any:
    """Import Ray and connect: to ``address`` (or ``$RAY_ADDRESS``) when given, else to a cluster started on this
    machine with ``ray start``, else to a new local instance (Ray's own order)."""
    try:
        import ray
    except ImportError:
        raise ImportError(f"executor='ray' needs Ray, which is not installed here: {RAY_INSTALL}") from None
    if not ray.is_initialized():  # address None: Ray itself reads $RAY_ADDRESS, then looks for `ray start`
        ray.init(address=address or None, include_dashboard=False, logging_level="warning", log_to_driver=False)
    return ray


def _run_in_worker(trial: Callable[[Config], dict[str, Any]], config: Config, threads: int) -> dict[str, Any]:
    """A Ray task: one trial with ``threads`` torch threads."""
    import torch

    torch.set_num_threads(threads)
    return trial(config)


def _reason(error: BaseException) -> str:
    """The last line of Ray's report of a failed task (the cause, not the whole traceback)."""
    cause = getattr(error, "cause", None)
    if cause is not None and not isinstance(cause, type(error)):
        return f"{type(cause).__name__}: {cause}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"[:2000]


def _ray_outcomes(pending: list[tuple[Config, str]], trial: Callable[[Config], dict[str, Any]],
                  executor: Executor) -> Iterator[tuple[Config, str, Outcome]]:
    if not pending:
        return
    ray = connect_ray(executor.ray_address)
    threads = executor.threads_per_trial or 1
    task = ray.remote(num_cpus=threads, max_retries=executor.max_retries, retry_exceptions=False)(_run_in_worker)
    shared_trial = ray.put(trial)  # shipped to the object store once, not once per task
    running = {task.remote(shared_trial, config, threads): (config, key) for config, key in pending}
    try:
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            config, key = running.pop(ref)
            try:
                done = _Done(ray.get(ref))
            except Exception as error:  # RayTaskError (the trial raised), WorkerCrashedError after the retries, ...
                done = _Done(failure=TrialFailed(_reason(error)))
            yield config, key, done
    finally:  # interrupted, or the driver stopped reading: stop the tasks still queued or running
        for ref in running:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
