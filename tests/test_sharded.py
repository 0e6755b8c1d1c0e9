"""Sharded stages: a stale shardable stage fans out over a Dask LocalCluster and ends as DVC would leave it.

The end-to-end check runs the real project's pipeline up to qa twice, plain and with simulate and qa in
two shards on two Dask workers, in separate git + DVC copies, and compares every output.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import psutil
import pytest
import yaml
from distributed import LocalCluster

from flows.dvc_stages import CommandError
from flows.pipeline import RAN, UP_TO_DATE, flywheel_pipeline
from flows.sharded import SCRATCH, Sharding, load_sharding, module_args
from tasks.common.params import ParamsError

TINY = {  # three short motions, a 16-loop radar and one short question each: seconds per stage
    "motion": {"procedural": {"motions_per_class": 1, "classes": ["walk", "wave", "squat"]}},
    "simulate": {"radar": {"preset": "default", "n_chirps": 16}},
    "qa": {"questions_per_motion": 2, "max_tokens": 32},
    # chunks of two motions: qa shard 0 asks about two motions in batches of two, shard 1 about one
    "llm": {"batch_size": 2, "max_concurrency": 1, "torch_threads": 1},
}
# No dashboard: tests run beside other Dask users, and a taken port 8787 only adds warnings.
TWO_SHARDS = {
    "shards": 2,
    "shardable": {"simulate": "tasks.simulate", "qa": "tasks.qa"},
    "dask": {"address": None, "n_workers": 2, "threads_per_worker": 1, "dashboard_address": None},
}


def assert_same_signals(sharded: Path, plain: Path) -> None:
    names = sorted(p.name for p in plain.iterdir())
    assert sorted(p.name for p in sharded.iterdir()) == names
    for name in (n for n in names if n.endswith(".npz")):
        with np.load(sharded / name) as a, np.load(plain / name) as b:
            assert sorted(a.files) == sorted(b.files), name
            for key in b.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}:{key}")
    # the data set's index holds no wall time, so the files are identical byte for byte
    assert (sharded / "index.parquet").read_bytes() == (plain / "index.parquet").read_bytes()
    for name in ("norm_stats.json", "rejects.jsonl"):
        assert (sharded / name).read_bytes() == (plain / name).read_bytes(), name


def test_sharded_simulate_and_qa_equal_plain_and_dvc_sees_them_up_to_date(
    prefect_api: None,
    tmp_path: Path,
    smollm_dir: Path,
    project_copy: Callable[..., Path],
    dvc: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = project_copy(tmp_path / "plain", TINY, smollm_dir)
    sharded = project_copy(tmp_path / "sharded", {**TINY, "orchestration": TWO_SHARDS}, smollm_dir)

    # The simulator's float32 results depend on torch's thread count (on the default data 2 of 3955
    # point coordinates of one motion moved by 5e-7 between 2 threads and 1), so the plain run gets
    # the one thread each shard gets from its Dask worker.
    expected = {"motion": RAN, "simulate": RAN, "llm_model": UP_TO_DATE, "qa": RAN}
    with monkeypatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        ran = flywheel_pipeline(project_dir=str(plain), stages=["qa"], retries=0)
    assert ran["stages"] == expected
    result = flywheel_pipeline(project_dir=str(sharded), stages=["qa"], retries=0)
    assert result["stages"] == expected

    assert_same_signals(sharded / "data/signals", plain / "data/signals")
    for name in ("qa.parquet", "rejects.parquet", "facts.parquet", "sample.md"):
        assert (sharded / "data/qa" / name).read_bytes() == (plain / "data/qa" / name).read_bytes(), name
    metrics = [json.loads((root / "metrics/simulate.json").read_text()) for root in (sharded, plain)]
    assert metrics[0]["motions"] == metrics[1]["motions"] == 3
    qa_metrics = [json.loads((root / "metrics/qa.json").read_text()) for root in (sharded, plain)]
    assert qa_metrics[0]["usage"] == qa_metrics[1]["usage"] and qa_metrics[1]["requests"] == 6
    assert qa_metrics[1]["usage"]["total"]["cached"] == 0  # each copy generated every reply itself
    assert list((sharded / SCRATCH).iterdir()) == []  # the shard folders are gone
    # dvc.lock records the same outputs as a plain `dvc repro`.
    for stage, out, nfiles in (("simulate", "data/signals", 3 + 3), ("qa", "data/qa", 4)):
        locks = [yaml.safe_load((root / "dvc.lock").read_text())["stages"][stage] for root in (sharded, plain)]
        assert locks[0]["deps"] == locks[1]["deps"] and locks[0]["params"] == locks[1]["params"]
        assert locks[0]["outs"][0]["path"] == out and locks[0]["outs"][0]["nfiles"] == nfiles
        assert locks[0]["outs"][0]["md5"] == locks[1]["outs"][0]["md5"]

    # DVC agrees the sharded result is current: status, repro and the flow all leave it alone.
    mtime = (sharded / "data/qa/qa.parquet").stat().st_mtime_ns
    assert "up to date" in dvc(sharded, "status", "qa")
    assert "Stage 'qa' didn't change" in dvc(sharded, "repro", "qa")
    again = flywheel_pipeline(project_dir=str(sharded), stages=["qa"], retries=0)
    assert again["stages"] == dict.fromkeys(expected, UP_TO_DATE)
    assert (sharded / "data/qa/qa.parquet").stat().st_mtime_ns == mtime


def test_failed_shard_fails_the_flow_before_the_merge(
    prefect_api: None, toy_project: Path, commit_all: Callable[[Path, str], None], dvc: Callable[..., str]
) -> None:
    # A shardable toy stage whose shard 1 fails: the flow fails with the shard's output, the merge
    # never runs, the scratch folder goes, and the stage stays stale for DVC. Each shard logs the
    # thread limit and malloc setting it got from its Dask worker.
    (toy_project / "toyshard.py").write_text(
        "import os, pathlib, sys\n"
        "args = sys.argv[1:]\n"
        "if '--shard' in args:\n"
        "    with open('shard-env.log', 'a') as fh:\n"
        "        print(os.getenv('OMP_NUM_THREADS'), os.getenv('MALLOC_TRIM_THRESHOLD_', 'unset'), file=fh)\n"
        "    i = args[args.index('--shard') + 1].split('/')[0]\n"
        "    if i == '1':\n"
        "        sys.exit('toyshard: shard 1 has no data')\n"
        "    pathlib.Path(args[args.index('--out') + 1]).mkdir()\n"
        "elif '--merge' in args:\n"
        "    open('merged.log', 'a').write('merged\\n')\n"
    )
    with open(toy_project / "dvc.yaml", "a") as fh:
        fh.write("  toyshard:\n    cmd: python -m toyshard\n    deps: [toyshard.py]\n")
    params = yaml.safe_load((toy_project / "params.yaml").read_text())
    params["orchestration"] = {**TWO_SHARDS, "shardable": {"toyshard": "toyshard"}}
    (toy_project / "params.yaml").write_text(yaml.safe_dump(params))
    commit_all(toy_project, "toy shardable stage")

    with pytest.raises(CommandError, match="(?s)--shard 1/2.*toyshard: shard 1 has no data") as failed:
        flywheel_pipeline(project_dir=str(toy_project), stages=["toyshard"], retries=0)
    assert str(failed.value).splitlines()[0] == "toyshard: shard 1 has no data"  # the shard's own one line leads
    assert not (toy_project / "merged.log").exists()
    assert (toy_project / "shard-env.log").read_text().splitlines() == ["1 unset", "1 unset"]
    assert list((toy_project / SCRATCH).iterdir()) == []
    assert "toyshard" in dvc(toy_project, "status")


def test_orchestration_params(tmp_path: Path) -> None:
    assert load_sharding(tmp_path) == Sharding()  # no params.yaml: nothing shards
    (tmp_path / "params.yaml").write_text("simulate: {seed: 0}\n")
    assert load_sharding(tmp_path).module_for("simulate") is None
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"orchestration": TWO_SHARDS}))
    sharding = load_sharding(tmp_path)
    assert sharding.module_for("simulate") == "tasks.simulate" and sharding.module_for("motion") is None
    assert Sharding.from_params({**TWO_SHARDS, "shards": 1}).module_for("simulate") is None

    local = sharding.task_runner()
    assert local.address is None and local.cluster_kwargs == {
        "n_workers": 2, "threads_per_worker": 1, "dashboard_address": None}
    # The dashboard listens on this machine only unless the params open it up on purpose.
    assert Sharding.from_params({"dask": {"n_workers": 2}}).task_runner().cluster_kwargs == {
        "dashboard_address": "127.0.0.1:8787", "n_workers": 2}
    assert Sharding.from_params({"dask": {"dashboard_address": "0.0.0.0:8787"}}).task_runner().cluster_kwargs == {
        "dashboard_address": "0.0.0.0:8787"}
    remote = Sharding.from_params({"dask": {"address": "tcp://10.0.0.5:8786", "n_workers": 4}}).task_runner()
    assert remote.address == "tcp://10.0.0.5:8786" and remote.cluster_kwargs == {}

    # The params pattern of every section (tasks/common/config.py): one line naming the dotted key.
    for bad, message in [
        ({"shards": 0}, "orchestration.shards: Input should be greater than or equal to 1"),
        ({"shards": True}, "orchestration.shards: Input should be a valid integer"),
        ({"shardable": ["simulate"]}, "orchestration.shardable: Input should be a valid dictionary"),
        ({"shardable": {"qa": ""}}, "orchestration.shardable.qa: String should have at least 1 character"),
        ({"dask": "local"}, "orchestration.dask: Input should be a valid dictionary"),
        ({"shard": 2}, "orchestration.shard: unknown key (did you mean 'shards'?)"),
    ]:
        with pytest.raises(ParamsError) as failed:
            Sharding.from_params(bad)
        assert str(failed.value) == f"params.yaml: {message}"


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # then Dask takes a free port: fine here
def test_local_cluster_dashboard_listens_on_this_machine_only() -> None:
    kwargs = Sharding.from_params({"dask": {"n_workers": 1, "threads_per_worker": 1}}).task_runner().cluster_kwargs
    with LocalCluster(**kwargs, processes=False) as cluster:
        port = urlsplit(cluster.dashboard_link).port  # 8787, or a free one if another cluster has it
        listening = {
            conn.laddr.ip for conn in psutil.Process().net_connections("tcp")
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
        }
    assert listening == {"127.0.0.1"}


def test_shards_keep_the_stage_commands_arguments() -> None:
    assert module_args("simulate", "python -m tasks.simulate", "tasks.simulate") == []
    assert module_args("s", "python -m tasks.simulate --params 'my params.yaml'", "tasks.simulate") == [
        "--params", "my params.yaml"]
    with pytest.raises(ValueError, match="expected `python -m tasks.simulate ...`"):
        module_args("s", "python tasks/simulate.py", "tasks.simulate")
