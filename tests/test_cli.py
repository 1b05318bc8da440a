"""dpoctl end to end: a real gunicorn portal, real RQ workers, the tiny model."""

import json
import subprocess
import sys
import time
import tomllib

import pytest
from django.conf import settings

from datasets_app.models import Dataset
from dpo_portal.cli.client import ApiClient
from dpo_portal.cli.main import _leaf_parsers, build_parser
from dpo_portal.cli.tus import Remembered, TusUpload, upload_key
from jobs_app import states
from jobs_app.models import DpoJob, LanguageModel
from tests.api_world import base_model, finished_job, ready_dataset, world
from tests.helpers import jsonl_bytes
from tests.live import *  # noqa: F403
from tests.live import portal_env

pytestmark = pytest.mark.django_db(transaction=True)

QUICK_FLAGS = [
    "--epochs=1",
    "--learning-rate=1e-3",
    "--batch-size=2",
    "--max-context-length=128",
    "--lora-rank=4",
    "--lora-alpha=8",
    "--warmup-ratio=0",
]


def command(member, *args):
    return [
        sys.executable,
        "-m",
        "dpo_portal.cli",
        f"--base-url={member.base_url}",
        "--account=owner",
        f"--api-key={member.key}",
        *args,
    ]


def cli_env(tmp_path, **extra):
    env = portal_env()
    env["DPOCTL_STATE_DIR"] = str(tmp_path / "dpoctl-state")
    env.update(extra)
    return env


def dpoctl(member, tmp_path, *args):
    return subprocess.run(
        command(member, *args),
        cwd=settings.BASE_DIR,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )


def write(tmp_path, body, name="prefs.jsonl"):
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_it_prints_line_numbered_errors_and_uploads_nothing(
    live_portal, cast, tmp_path
):
    path = write(tmp_path, jsonl_bytes(3) + b'{"input": 1}\n' + b"oops\n", "bad.jsonl")

    done = dpoctl(cast.owner, tmp_path, "dataset", "create", "prefs", str(path))

    assert done.returncode == 1
    assert f"{path}:4: input:" in done.stderr
    assert f"{path}:5:" in done.stderr
    assert "nothing was uploaded" in done.stderr
    assert not Dataset.objects.exists()


def test_a_file_becomes_a_trained_model_through_dpoctl(
    live_portal, cast, tmp_path, run_worker, tiny_model_dir
):
    path = write(tmp_path, jsonl_bytes(6))
    base_model(tiny_model_dir)

    validating = subprocess.Popen(
        command(
            cast.owner,
            "dataset",
            "create",
            "prefs",
            str(path),
            "--display-name",
            "Support prefs",
            "--chunk-size=100",
            "--wait",
        ),
        cwd=settings.BASE_DIR,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_row(Dataset, state=Dataset.STATE_VALIDATING)
    run_worker(["default"])
    out, err = validating.communicate(timeout=120)
    assert validating.returncode == 0, err
    assert "READY" in out

    follow = subprocess.Popen(
        command(
            cast.owner,
            "dpoj",
            "create",
            "--base-model=tiny-base",
            "--dataset=prefs",
            "--output-model=tiny-tuned",
            "--job-id=cli-run",
            *QUICK_FLAGS,
            "--wait",
            "--poll-interval=0.5",
        ),
        cwd=settings.BASE_DIR,
        env=cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_row(DpoJob, job_id="cli-run")
    run_worker(["training"])
    out, err = follow.communicate(timeout=120)

    assert follow.returncode == 0, err
    assert "JOB_STATE_COMPLETED" in out
    assert "accounts/owner/models/tiny-tuned" in out
    assert "step" in err  # the progress bar
    assert Dataset.objects.get().display_name == "Support prefs"
    assert LanguageModel.objects.filter(model_id="tiny-tuned").exists()


def _wait_for_row(model, **lookup):
    for _ in range(600):
        if model.objects.filter(**lookup).exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"no {model.__name__} {lookup}")


def test_wait_exits_non_zero_when_the_job_fails(
    live_portal, cast, tmp_path, run_worker
):
    ready_dataset(cast.account)
    base_model(tmp_path / "missing-model")
    created = dpoctl(
        cast.owner,
        tmp_path,
        "dpo-job",
        "create",
        "--base-model=tiny-base",
        "--dataset=prefs",
        "--output-model=never",
        "--job-id=doomed",
        *QUICK_FLAGS,
    )
    assert created.returncode == 0, created.stderr

    run_worker(["training"])
    followed = dpoctl(cast.owner, tmp_path, "dpo-job", "get", "doomed", "--wait")

    assert followed.returncode == 1
    assert "ended JOB_STATE_FAILED" in followed.stderr


def test_a_second_run_goes_on_with_a_dataset_still_waiting_for_its_file(
    live_portal, cast, tmp_path
):
    cast.owner.call("POST", "/datasets", json={"datasetId": "prefs"})
    path = write(tmp_path, jsonl_bytes(4))

    done = dpoctl(cast.owner, tmp_path, "dataset", "create", "prefs", str(path))

    assert done.returncode == 0, done.stderr
    assert Dataset.objects.get().state == Dataset.STATE_VALIDATING


def test_it_refuses_to_upload_into_a_ready_dataset(live_portal, cast, tmp_path):
    ready_dataset(cast.account)
    path = write(tmp_path, jsonl_bytes(4))

    done = dpoctl(cast.owner, tmp_path, "dataset", "create", "prefs", str(path))

    assert done.returncode == 1
    assert "already exists and is READY" in done.stderr


def test_it_reads_the_key_account_and_address_from_the_environment(
    live_portal, cast, tmp_path
):
    ready_dataset(cast.account)
    env = cli_env(
        tmp_path,
        DPO_API_KEY=cast.owner.key,
        DPO_ACCOUNT="owner",
        DPO_BASE_URL=live_portal,
    )

    done = subprocess.run(
        [sys.executable, "-m", "dpo_portal.cli", "dataset", "list", "-o", "json"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert [d["datasetId"] for d in json.loads(done.stdout)["datasets"]] == ["prefs"]


def test_it_lists_jobs_by_state_as_text(live_portal, cast, tmp_path):
    dataset = ready_dataset(cast.account)
    base = base_model()
    finished_job(dataset, base, "done-one")
    finished_job(dataset, base, "failed-one", state=states.FAILED)

    done = dpoctl(cast.owner, tmp_path, "dpo-job", "list", "--state", "FAILED")

    assert done.returncode == 0, done.stderr
    assert "failed-one" in done.stdout
    assert "done-one" not in done.stdout


def test_it_cancels_a_pending_job(live_portal, cast, tmp_path):
    dataset = ready_dataset(cast.account)
    finished_job(dataset, base_model(), state=states.PENDING)

    done = dpoctl(cast.owner, tmp_path, "dpoj", "cancel", "job-one")

    assert done.returncode == 0, done.stderr
    assert DpoJob.objects.get().state == states.CANCELLED


def test_it_deletes_a_finished_job_and_then_its_dataset(live_portal, cast, tmp_path):
    world(cast.account)

    job = dpoctl(cast.owner, tmp_path, "dpo-job", "delete", "job-one")
    dataset = dpoctl(cast.owner, tmp_path, "dataset", "delete", "prefs")

    assert job.returncode == 0 and dataset.returncode == 0, dataset.stderr
    assert not Dataset.objects.exists()


def test_it_exports_metrics_as_json_lines(live_portal, cast, tmp_path):
    world(cast.account)
    target = tmp_path / "metrics.jsonl"

    done = dpoctl(
        cast.owner,
        tmp_path,
        "dpo-job",
        "export-metrics",
        "job-one",
        "--file",
        str(target),
    )

    assert done.returncode == 0, done.stderr
    steps = [json.loads(line)["step"] for line in target.read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_it_prints_the_servers_error_and_exits_1(live_portal, cast, tmp_path):
    done = dpoctl(cast.viewer, tmp_path, "dataset", "get", "missing")

    assert done.returncode == 1
    assert "NOT_FOUND: Dataset 'missing' not found" in done.stderr


def test_an_interrupted_upload_resumes_where_the_server_stopped(
    live_portal, cast, tmp_path
):
    body = jsonl_bytes(20)
    path = write(tmp_path, body)
    cast.owner.call("POST", "/datasets", json={"datasetId": "prefs"})
    client = ApiClient(live_portal, cast.owner.key, "owner")
    endpoint = client.post("/datasets/prefs:getUploadEndpoint")
    remembered = Remembered(tmp_path / "state.json")
    key = upload_key(client, "prefs", path)

    def stop_after_first_chunk(offset, size, resumed_from):
        if offset > 0:
            raise KeyboardInterrupt

    first = TusUpload(client, endpoint, path, key, 256, remembered)
    with pytest.raises(KeyboardInterrupt):
        first.run(stop_after_first_chunk)
    resumed_from = TusUpload(client, endpoint, path, key, 256, remembered).run(
        lambda *a: None
    )

    assert resumed_from == 256
    dataset = Dataset.objects.get()
    assert dataset.state == Dataset.STATE_VALIDATING
    assert dataset.file_path.read_bytes() == body
    assert remembered.get(key) is None


def test_every_flag_of_every_command_has_help_text():
    leaves = _leaf_parsers(build_parser())

    missing = [
        (leaf.prog, action.dest)
        for leaf in leaves
        for action in leaf._actions
        if not action.help
    ]
    assert len(leaves) >= 11
    assert missing == []


def test_the_project_installs_dpoctl_as_a_console_script():
    project = tomllib.loads((settings.BASE_DIR / "pyproject.toml").read_text())
    target = project["project"]["scripts"]["dpoctl"]

    module, function = target.split(":")
    assert callable(getattr(__import__(module, fromlist=[function]), function))
