"""submit, list, get, status, results, suspend, resume, retry, delete: requests, output formats, shared options."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from .conftest import report_summary

NS = "default"
BASE = "/apis/ensemw2s.io/v1alpha1/namespaces"


def path(name: str, namespace: str = NS, sub: str = "") -> str:
    return f"{BASE}/{namespace}/ensemw2sexperiments/{name}{sub}"


def record(cluster: Any) -> list[tuple[str, str, str, str]]:
    """Every request from now on: (method, path, query string, content type)."""
    seen: list[tuple[str, str, str, str]] = []
    cluster.observer = lambda raw: seen.append(
        (raw.method, raw.path, raw.query_string, raw.headers.get("Content-Type", ""))
    )
    return seen


STATUS = {
    "observedGeneration": 1,
    "phase": "Running",
    "stage": "weak-s1-r1",
    "round": "1/2",
    "stages": [
        {"name": "prepare-s1", "phase": "Succeeded", "attempts": 1, "summary": {"seconds": 2.0, "metrics": {}}},
        {
            "name": "weak-s1-r0",
            "phase": "Succeeded",
            "attempts": 2,
            "retries": 1,
            "job": "exp-weak-s1-r0",
            "summary": {"seconds": 125.0, "metrics": {"accuracy": 0.7, "eps": 0.3}},
        },
        {"name": "weak-s1-r1", "phase": "Running", "attempts": 1, "reason": None},
    ],
    "stageCounts": {"total": 6, "waiting": 3, "active": 1, "succeeded": 2},
    "succeededStages": ["prepare-s1", "weak-s1-r0"],
}


async def submitted(cluster: Any, w2sctl: Any, experiment_file: Any, name: str = "exp", **status: Any) -> None:
    result = await w2sctl("submit", str(experiment_file(name)))
    assert result.code == 0, result.err
    if status:
        code, data = await cluster.call("PATCH", path(name, sub="/status"), {"status": status})
        assert code < 300, data


async def test_submit_is_a_server_side_apply_by_w2sctl_then_an_update(cluster, w2sctl, experiment_file):
    seen = record(cluster)
    file = experiment_file("exp")

    created = await w2sctl("submit", str(file))
    data = yaml.safe_load(file.read_text())
    data["spec"]["weak"]["rounds"] = 3
    file.write_text(yaml.safe_dump(data))
    updated = await w2sctl("submit", str(file), "-o", "name")

    assert created.code == 0 and created.out == "ensemw2sexperiment.ensemw2s.io/exp serverside-applied\n"
    assert updated.code == 0 and updated.out == "ensemw2sexperiment.ensemw2s.io/exp\n"
    applies = [s for s in seen if s[0] == "PATCH" and s[1] == path("exp")]
    assert len(applies) == 2
    assert all(s[3] == "application/apply-patch+yaml" and "fieldManager=w2sctl" in s[2] for s in applies)
    stored = cluster.experiment(NS, "exp")
    assert stored["spec"]["weak"]["rounds"] == 3 and stored["metadata"]["generation"] == 2


async def test_submit_checks_the_file_as_validate_cluster_does_before_any_request(cluster, w2sctl, experiment_file):
    seen = record(cluster)
    file = experiment_file("nostore", storage=None)

    result = await w2sctl("submit", str(file))

    assert result.code == 1
    assert "spec.storage: needs pvc or uri on a cluster" in result.err
    assert result.error_lines == [f"Error: {file}: 1 error(s)"]
    assert seen == []


async def test_the_namespace_comes_from_n_else_the_file_and_a_mismatch_is_refused(cluster, w2sctl, experiment_file):
    assert (await w2sctl("submit", str(experiment_file("plain")), "-n", "team-a")).code == 0
    assert (await w2sctl("submit", str(experiment_file("own", namespace="team-b")))).code == 0
    clash = await w2sctl("-n", "team-a", "submit", str(experiment_file("clash", namespace="team-b")))

    assert cluster.experiment_or_none("team-a", "plain") and cluster.experiment_or_none("team-b", "own")
    assert clash.code == 1 and clash.error_lines[0].startswith(
        "Error: " + str(experiment_file("clash", namespace="team-b"))
        + ": metadata.namespace does not match -n (got 'team-b', -n 'team-a')"
    )  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "team-a", "-o", "name", "list"],
        ["list", "-n", "team-a", "-o", "name"],
        ["--namespace=team-a", "list", "--output=name"],
        ["-o", "name", "list", "-nteam-a"],
    ],
)
async def test_shared_options_work_before_or_after_the_verb(cluster, w2sctl, experiment_file, argv):
    await w2sctl("submit", str(experiment_file("exp", namespace="team-a")))
    await w2sctl("submit", str(experiment_file("elsewhere")))

    result = await w2sctl(*argv)

    assert result.code == 0, result.err
    assert result.out == "ensemw2sexperiment.ensemw2s.io/exp\n"


async def test_list_shows_the_printer_columns_and_all_namespaces(cluster, w2sctl, experiment_file):
    await submitted(cluster, w2sctl, experiment_file, "exp", **STATUS, pgr="0.41")
    await w2sctl("submit", str(experiment_file("other", namespace="team-a")))

    table = await w2sctl("list")
    everywhere = await w2sctl("list", "-A", "-o", "wide")
    listed = await w2sctl("list", "-o", "json")
    empty = await w2sctl("list", "-n", "nobody")

    assert table.out.splitlines()[0].split() == ["NAME", "PHASE", "STAGE", "ROUND", "PGR", "AGE"]
    assert table.out.splitlines()[1].split()[:5] == ["exp", "Running", "weak-s1-r1", "1/2", "0.41"]
    assert len(table.out.splitlines()) == 2
    assert everywhere.out.splitlines()[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert [line.split()[:2] for line in everywhere.out.splitlines()[1:]] == [["default", "exp"], ["team-a", "other"]]
    assert "STAGES DONE" in everywhere.out and "2/6" in everywhere.out
    assert [item["metadata"]["name"] for item in json.loads(listed.out)["items"]] == ["exp"]
    assert empty.code == 0 and empty.out == "" and "No experiments found in namespace nobody." in empty.err


async def test_status_shows_stages_with_attempts_durations_and_metrics(cluster, w2sctl, experiment_file):
    await submitted(cluster, w2sctl, experiment_file, "exp", **STATUS)

    table = await w2sctl("status", "exp")
    wide = await w2sctl("status", "exp", "-o", "wide")
    as_yaml = await w2sctl("status", "exp", "-o", "yaml")
    every = await w2sctl("status")

    lines = table.out.splitlines()
    assert lines[0] == "default/exp: Running, stage weak-s1-r1, round 1/2, PGR -, 2/6 stages done"
    assert lines[1].split() == ["STAGE", "PHASE", "ATTEMPTS", "DURATION", "REASON"]
    assert lines[3].split() == ["weak-s1-r0", "Succeeded", "2", "2m05s"]
    assert "accuracy=0.7 eps=0.3" in wide.out and "exp-weak-s1-r0" in wide.out
    document = yaml.safe_load(as_yaml.out)
    assert document["metadata"] == {"name": "exp", "namespace": "default"}
    assert document["status"]["round"] == "1/2" and document["status"]["stages"][1]["retries"] == 1
    assert every.out.splitlines()[1].split()[:2] == ["exp", "Running"]


async def test_get_shows_every_stage_of_the_graph_as_a_tree(cluster, w2sctl, experiment_file):
    await submitted(cluster, w2sctl, experiment_file, "exp", **STATUS)

    tree = await w2sctl("get", "exp", "-o", "wide")
    whole = await w2sctl("get", "exp", "-o", "json")

    rows = [line.split() for line in tree.out.splitlines()[2:]]
    assert rows[0] == ["├──", "seed", "1"]
    assert [r[2:4] for r in rows[1:6]] == [
        ["prepare-s1", "Succeeded"],
        ["weak-s1-r0", "Succeeded"],
        ["weak-s1-r1", "Running"],
        ["aggregate-s1", "Waiting"],
        ["strong-s1-ensemble", "Waiting"],
    ]
    assert rows[6][:3] == ["└──", "report", "Waiting"]
    assert "weak-s1-r0,weak-s1-r1" in tree.out  # what aggregate-s1 needs
    body = json.loads(whole.out)
    assert body["spec"]["weak"]["rounds"] == 2 and body["status"]["phase"] == "Running"
    assert "managedFields" not in body["metadata"]


async def test_results_prints_the_report_table_once_there_is_one(cluster, w2sctl, experiment_file):
    results = report_summary("exp", pgr=0.25).results
    await submitted(cluster, w2sctl, experiment_file, "exp", phase="Succeeded", results=results)
    await submitted(cluster, w2sctl, experiment_file, "young", **STATUS)

    table = await w2sctl("results", "exp")
    missing = await w2sctl("results", "young")

    assert table.code == 0 and table.out.splitlines()[0] == "exp: mean over 1 seed(s), accuracies on hard-test"
    assert "EnsemW2S student" in table.out and "0.25" in table.out
    assert missing.code == 1 and missing.error_lines == [
        "Error: default/young: no results yet (phase Running, round 1/2); "
        "`w2sctl wait young --for succeeded` waits for the report"
    ]


async def test_suspend_and_resume_merge_patch_the_run_policy(cluster, w2sctl, experiment_file):
    await submitted(cluster, w2sctl, experiment_file, "exp")
    seen = record(cluster)

    suspended = await w2sctl("suspend", "exp")
    stored = cluster.experiment(NS, "exp")["spec"]
    resumed = await w2sctl("resume", "exp", "-o", "yaml")

    assert suspended.out == "ensemw2sexperiment.ensemw2s.io/exp suspended\n"
    assert stored["runPolicy"] == {"backoffLimit": 2, "suspend": True}
    assert yaml.safe_load(resumed.out)["spec"]["runPolicy"]["suspend"] is False
    patches = [s for s in seen if s[0] == "PATCH"]
    assert [s[3] for s in patches] == ["application/merge-patch+json"] * 2


async def test_retry_needs_a_failed_stage_and_redo_names_known_stages(cluster, w2sctl, experiment_file):
    await submitted(cluster, w2sctl, experiment_file, "exp", **STATUS)

    nothing = await w2sctl("retry", "exp")
    unknown = await w2sctl("retry", "exp", "--stage", "weak-s1-r9")
    redo = await w2sctl("retry", "exp", "--stage", "weak-s1-r1")

    assert nothing.code == 1 and nothing.error_lines[0].startswith(
        "Error: default/exp: nothing to retry: no stage failed (got phase Running)"
    )
    assert unknown.code == 1 and unknown.error_lines == [
        "Error: --stage: must name stages of exp (got 'weak-s1-r9'); its stages: prepare-s1, weak-s1-r0, "
        "weak-s1-r1, aggregate-s1, strong-s1-ensemble, report"
    ]
    value = cluster.experiment(NS, "exp")["metadata"]["annotations"]["ensemw2s.io/redo"]
    assert value.startswith("weak-s1-r1@") and value in redo.out
    assert "redoing weak-s1-r1 and the 3 stages downstream" in redo.out


async def test_delete_with_artifacts_sets_delete_artifacts_first(cluster, w2sctl, experiment_file):
    await submitted(cluster, w2sctl, experiment_file, "exp")
    seen = record(cluster)

    deleted = await w2sctl("delete", "exp", "--artifacts")

    assert deleted.code == 0 and deleted.out.startswith("ensemw2sexperiment.ensemw2s.io/exp deleted")
    assert [(s[0], s[1]) for s in seen] == [("PATCH", path("exp")), ("DELETE", path("exp"))]
    assert cluster.experiment_or_none(NS, "exp") is None


async def test_list_and_get_do_not_import_torch(cluster, w2sctl, experiment_file, kubeconfig, tmp_path):
    """A real process (imports are process-wide): ``list`` and ``get`` against the emulator, then sys.modules."""
    import asyncio
    import os
    import sys

    await submitted(cluster, w2sctl, experiment_file, "exp")
    code = (
        "import sys\nfrom ensemw2s.cli.main import main\n"
        "assert main(['list']) == 0 and main(['get', 'exp']) == 0\n"
        "print('HEAVY', sorted(m for m in ('torch', 'transformers', 'kopf') if m in sys.modules))\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=tmp_path, env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()

    assert process.returncode == 0, err.decode()
    assert "HEAVY []" in out.decode()
