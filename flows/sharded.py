"""Sharded DVC stages: a stale shardable stage fans out over Dask, is merged, then committed to DVC.

The convention a stage follows to be shardable (tasks/simulate and tasks/qa follow it): its `dvc.yaml` command
is `python -m MODULE [ARGS]`, `python -m MODULE ARGS --shard I/N --out DIR` writes shard I of N
into DIR, and `python -m MODULE ARGS --merge DIR...` builds from the shards exactly what the plain
command writes. Which stages shard, into how many pieces and on which Dask cluster comes from the
`orchestration` section of the project's `params.yaml` (see ``Sharding``); no stage reads that
section, so changing it reruns nothing.

A sharded run replaces `dvc repro --single-item STAGE`: the shard tasks run on a
`prefect_dask.DaskTaskRunner`, the merge writes the stage's outputs and `dvc commit --force STAGE`
records them in `dvc.lock` (and the DVC cache), so DVC sees the stage as up to date afterwards. As with
`dvc repro`, the stage's previous outputs stay in place until the merge replaces them (`persist` in dvc.yaml).
With params overrides the flow runs a DVC experiment instead, and DVC runs every stage unsharded.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import wait
from prefect_dask import DaskTaskRunner
from pydantic import Field, StrictInt

from flows.dvc_stages import run_command, run_dvc, stage_changes, stage_command
from tasks.common.config import Section, validate_section

PARAMS_FILE = "params.yaml"
SECTION = "orchestration"
# Shard folders live inside the project (DVC keeps .dvc/tmp out of git): every worker that sees
# the project sees them, and the merge can hard-link them into the stage's output.
SCRATCH = Path(".dvc", "tmp", "shards")
# A Dask nanny sets this so a long-lived worker hands freed memory back to the OS at once; a shard
# process returns its memory on exit anyway, and with it the simulate stage took 3x as long here
# (114 s instead of 38 s for the 132 default motions on one thread, most of it in the kernel).
_WORKER_ONLY_ENV = ("MALLOC_TRIM_THRESHOLD_",)
# Where a LocalCluster serves its dashboard unless `orchestration.dask.dashboard_address` says otherwise.
LOCAL_DASHBOARD = "127.0.0.1:8787"


class Sharding(Section):
    """The `orchestration` params: ``shards`` > 1 fans the ``shardable`` stages out over Dask.

    ``shardable`` maps a stage name to the module its command runs. ``dask`` holds `address` (a running
    scheduler's; None starts a `distributed.LocalCluster` for the sharded stage and stops it afterwards)
    and, without an address, keyword arguments of that LocalCluster such as `n_workers`,
    `threads_per_worker` or `dashboard_address` (default LOCAL_DASHBOARD, this machine only; None switches
    the dashboard off). The workers of a cluster elsewhere must see the project folder at the same path
    (shared storage) and have the project installed, as the flow's own machine does.
    """

    shards: StrictInt = Field(1, ge=1)
    shardable: dict[str, Annotated[str, Field(min_length=1)]] = {}
    dask: dict[str, Any] = {}

    @classmethod
    def from_params(cls, section: Mapping[str, Any] | None) -> Sharding:
        """The validated section; ParamsError naming the dotted key (`orchestration.shards: ...`) if it is wrong."""
        return validate_section(cls, section, SECTION)

    def module_for(self, stage: str) -> str | None:
        """The module to shard ``stage`` with, or None if it runs as one `dvc repro`."""
        return self.shardable.get(stage) if self.shards > 1 else None

    def task_runner(self) -> DaskTaskRunner:
        cluster_kwargs = dict(self.dask)
        address = cluster_kwargs.pop("address", None)
        # With an address the cluster exists already; its sizing keys are for the local one.
        if address:
            return DaskTaskRunner(address=address)
        # Dask's own default serves the dashboard on every interface; it shows task names and logs to anyone.
        return DaskTaskRunner(cluster_kwargs={"dashboard_address": LOCAL_DASHBOARD, **cluster_kwargs})


def load_sharding(project_dir: str | Path) -> Sharding:
    """The project's `orchestration` params; unsharded if `params.yaml` or the section is missing."""
    path = Path(project_dir, PARAMS_FILE)
    params = yaml.safe_load(path.read_text()) if path.is_file() else None
    return Sharding.from_params((params or {}).get(SECTION))


def module_args(stage: str, command: str, module: str) -> list[str]:
    """The arguments after `python -m MODULE` in ``stage``'s command (refused if it runs something else).

    Shards and the merge get the same arguments, so they read the same params and write where
    the plain command writes.
    """
    words = shlex.split(command)
    if words[:3] != ["python", "-m", module]:
        raise ValueError(
            f"stage {stage}: {SECTION}.shardable says it runs {module}, but its command is {command!r} "
            f"(expected `python -m {module} ...`)"
        )
    return words[3:]


@task(task_run_name="{stage}-shard-{index}-of-{count}", cache_policy=NO_CACHE)
def run_shard(wdir: str, stage: str, module: str, args: list[str], index: int, count: int, out: str) -> None:
    """Shard ``index`` of ``count`` into ``out``, in a Dask worker.

    The shard runs as a subprocess, as `dvc repro` would run the stage: a fresh interpreter per
    shard (the worker's, with its folder first on PATH), so its memory is returned when it ends
    and a crash cannot take the worker down. It keeps the thread limits a Dask nanny gives its
    worker (OMP_NUM_THREADS=1 and the like: workers, not threads, give the parallelism).
    """
    command = [sys.executable, "-m", module, *args, "--shard", f"{index}/{count}", "--out", out]
    run_command(command, wdir, get_run_logger().info, unset_env=_WORKER_ONLY_ENV, stage=stage)


@task(task_run_name="merge-{stage}", cache_policy=NO_CACHE)
def merge_and_commit(
    project_dir: str, wdir: str, stage: str, module: str, args: list[str], shards: list[str]
) -> None:
    """Merge the shard folders into the stage's outputs and record them in `dvc.lock`."""
    logger = get_run_logger()
    run_command([sys.executable, "-m", module, *args, "--merge", *shards], wdir, logger.info, stage=stage)
    # --force: without it DVC asks before committing a stage whose recorded state changed.
    run_dvc(project_dir, ["commit", "--force", stage], logger.info)


@flow(name="sharded-stage", flow_run_name="{stage}-in-{shards}-shards")
def sharded_stage(
    project_dir: str, stage: str, module: str, shards: int, retries: int = 0, retry_delay_seconds: float = 0.0
) -> None:
    """Run ``stage`` as ``shards`` shard tasks on this flow's task runner, then merge and commit it.

    Each shard is retried on its own; the merge waits for all of them. The shard folders are
    removed whether or not the run succeeds.
    """
    command, wdir = stage_command(project_dir, stage)
    args = module_args(stage, command, module)
    retry = {"retries": retries, "retry_delay_seconds": retry_delay_seconds}
    scratch_root = Path(project_dir, SCRATCH)
    scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=re.sub(r"[^\w.-]", "_", stage) + "-", dir=scratch_root))
    try:
        outs = [str(scratch / f"{index}-of-{shards}") for index in range(shards)]
        futures = [
            run_shard.with_options(**retry).submit(str(wdir), stage, module, args, index, shards, out)
            for index, out in enumerate(outs)
        ]
        wait(futures)  # every shard ends before the first failure is raised and the folder goes
        for future in futures:
            future.result()
        merge_and_commit.with_options(**retry)(project_dir, str(wdir), stage, module, args, outs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def repro_sharded(
    project_dir: str, stage: str, sharding: Sharding, retries: int, retry_delay_seconds: float
) -> bool:
    """From a flow: run ``stage`` sharded if DVC says it is stale; return whether it ran.

    Asking DVC first means an up-to-date stage costs no Dask cluster start.
    """
    logger = get_run_logger()
    module = sharding.module_for(stage)
    if module is None:
        raise ValueError(f"stage {stage} is not sharded: see {SECTION}.shards and {SECTION}.shardable")
    changes = stage_changes(project_dir, stage)
    if not changes:
        logger.info("stage %s is up to date", stage)
        return False
    logger.info(
        "stage %s is stale: %s; running it in %d shards", stage, json.dumps(changes, default=str), sharding.shards
    )
    sharded_stage.with_options(task_runner=sharding.task_runner())(
        project_dir, stage, module, sharding.shards, retries, retry_delay_seconds
    )
    return True
