"""Prefect flows that orchestrate the DVC pipeline: the only place where Prefect meets DVC.

`flows.pipeline` holds the flows, `flows.dvc_stages` the DVC glue (no Prefect in it) and
`flows.metrics_report` the run report. Deployments are declared in the project's `prefect.yaml`.
"""
