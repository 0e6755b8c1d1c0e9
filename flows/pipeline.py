"""The flywheel pipeline as a Prefect flow: one task per DVC stage, in DVC's order.

DVC decides what is stale; Prefect adds retries, logs, schedules and a run report. Tasks use
`NO_CACHE` because a cached Prefect result would hide a stage that DVC says must rerun, and they
run one after another because DVC locks the repository while it reproduces. A stage named in the
`orchestration` params runs in shards over Dask instead (flows/sharded.py).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.dvc_stages import experiment_args, pipeline_stages, read_metrics, run_dvc, stage_changes
from flows.metrics_report import run_markdown
from flows.sharded import load_sharding, repro_sharded

RAN = "ran"
UP_TO_DATE = "up to date"
IN_EXPERIMENT = "run by the experiment"
ARTIFACT_KEY = "flywheel-pipeline-report"


@task(task_run_name="repro-{stage}", cache_policy=NO_CACHE)
def repro_stage(project_dir: str, stage: str) -> str:
    """Reproduce one DVC stage if DVC says it is stale; return RAN or UP_TO_DATE.

    A failed stage raises DvcCommandError whose first line is the stage's own one-line message.
    """
    logger = get_run_logger()
    changes = stage_changes(project_dir, stage)
    if not changes:
        logger.info("stage %s is up to date", stage)
        return UP_TO_DATE
    logger.info("stage %s is stale: %s", stage, json.dumps(changes, default=str))
    run_dvc(project_dir, ["repro", "--single-item", stage], logger.info, stage=stage)
    return RAN


@task(task_run_name="exp-run-{name}", cache_policy=NO_CACHE)
def run_experiment(project_dir: str, name: str, params: dict[str, Any], targets: list[str]) -> None:
    """One `dvc exp run` over ``targets`` (all stages if empty); DVC skips what is unchanged."""
    logger = get_run_logger()
    args = experiment_args(name, params, targets)
    logger.info("dvc %s", " ".join(args))
    run_dvc(project_dir, args, logger.info)


@flow(name="flywheel-pipeline")
def flywheel_pipeline(
    project_dir: str = ".",
    stages: list[str] | None = None,
    params: dict[str, Any] | None = None,
    experiment_name: str | None = None,
    retries: int = 2,
    retry_delay_seconds: float = 30.0,
) -> dict[str, Any]:
    """Bring the DVC pipeline up to date and publish its metrics as a markdown artifact.

    Args:
        project_dir: the DVC project (the folder with `dvc.yaml`).
        stages: stages to bring up to date, with everything upstream of them; all if omitted.
        params: `params.yaml` overrides such as {"motion.procedural.motions_per_class": 2}. With
            overrides (or an experiment name) the run is one DVC experiment (`dvc exp run --temp`)
            instead of one task per stage, and the workspace stays as it is.
        experiment_name: the experiment's name; defaults to the flow run's name and id.
        retries: how often a failed stage (or experiment) is tried again.
        retry_delay_seconds: the pause before each retry.

    Returns:
        {"project_dir", "stages": {stage: result}, "experiment": name or None, "metrics": {file: {...}}}
    """
    logger = get_run_logger()
    root = Path(project_dir).resolve()
    order = pipeline_stages(root, stages)
    if order:
        logger.info("DVC stages in order: %s", ", ".join(order))
    else:
        logger.warning("%s declares no DVC pipeline stages", root)
    retry = {"retries": retries, "retry_delay_seconds": retry_delay_seconds}

    experiment = None
    if params or experiment_name:
        experiment = experiment_name or f"{flow_run.get_name()}-{flow_run.get_id()[:8]}"
        run_experiment.with_options(**retry)(str(root), experiment, params or {}, stages or [])
        results = {stage: IN_EXPERIMENT for stage in order}
    else:
        sharding = load_sharding(root)  # `orchestration` params: which stages fan out over Dask
        results = {}
        for stage in order:
            if sharding.module_for(stage):
                results[stage] = RAN if repro_sharded(str(root), stage, sharding, **retry) else UP_TO_DATE
            else:
                results[stage] = repro_stage.with_options(**retry)(str(root), stage)

    metrics = read_metrics(root, rev=experiment)
    create_markdown_artifact(
        markdown=run_markdown(root, results, metrics, experiment),
        key=ARTIFACT_KEY,
        description="Stages, metrics and report location of an mmFlywheel pipeline run",
    )
    # The closed flywheel loop goes here once an `evaluate` stage exists: read its per-category
    # scores, write the next round's sampling weights into params and run the next round as a
    # new experiment.
    return {"project_dir": str(root), "stages": results, "experiment": experiment, "metrics": metrics}


if __name__ == "__main__":
    flywheel_pipeline()
