"""The REST API over real HTTP against a gunicorn process: shapes, paging, errors."""

import json

import pytest
import requests
from openapi_spec_validator import validate

from datasets_app.models import Dataset
from dpo_portal.models import ApiKey
from jobs_app import states
from jobs_app.models import DpoJob, LanguageModel
from tests.api_world import base_model, finished_job, ready_dataset, world
from tests.helpers import jsonl_bytes
from tests.live import *  # noqa: F403

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_serves_a_valid_openapi_3_schema(live_portal):
    schema = requests.get(f"{live_portal}/v1/openapi.json", timeout=10).json()

    validate(schema)
    assert "/v1/accounts/{account}/datasets/{dataset}:upload" in schema["paths"]


def test_the_schema_names_every_training_option_with_its_range(live_portal):
    schema = requests.get(f"{live_portal}/v1/openapi.json", timeout=10).json()
    config = schema["components"]["schemas"]["TrainingConfig"]["properties"]

    assert config["loraRank"]["maximum"] == 256
    assert (
        "DPO beta"
        in schema["components"]["schemas"]["DpoJob"]["properties"]["beta"][
            "description"
        ]
    )


def test_it_refuses_a_request_without_a_key_as_json(live_portal, cast):
    response = requests.get(f"{live_portal}/v1/accounts/owner/datasets", timeout=10)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


def test_it_refuses_a_wrong_key(live_portal, cast):
    response = requests.get(
        f"{live_portal}/v1/accounts/owner/datasets",
        headers={"Authorization": "Bearer dpo_not-a-key"},
        timeout=10,
    )

    assert response.status_code == 401
    assert "not valid" in response.json()["error"]["message"]


def test_a_revoked_key_no_longer_opens_the_api(live_portal, cast):
    ApiKey.objects.filter(user=cast.owner.user).update(revoked_at="2026-01-01T00:00Z")

    assert cast.owner.call("GET", "/datasets").status_code == 401


def test_a_key_records_when_it_was_last_used(live_portal, cast):
    cast.owner.call("GET", "/datasets")

    assert ApiKey.objects.get(user=cast.owner.user).last_used_at is not None


def test_an_unknown_api_path_is_a_json_404(live_portal, cast):
    response = cast.owner.call("GET", "/v1/nothing/here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_a_wrong_method_is_a_json_405(live_portal, cast):
    response = cast.owner.call("PUT", "/datasets")

    assert response.status_code == 405
    assert "GET, POST" in response.json()["error"]["message"]


def test_it_creates_a_dataset_entry_in_the_hosted_shape(live_portal, cast):
    body = {
        "datasetId": "support-prefs",
        "dataset": {"userUploaded": {}, "exampleCount": 6, "displayName": "Support"},
    }

    response = cast.owner.call("POST", "/datasets", json=body)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["name"] == "accounts/owner/datasets/support-prefs"
    assert answer["state"] == "UPLOADING"
    assert answer["displayName"] == "Support"
    assert Dataset.objects.get().declared_example_count == 6


def test_it_refuses_a_bad_dataset_id_quoting_it_and_the_rule(live_portal, cast):
    response = cast.owner.call("POST", "/datasets", json={"datasetId": "Bad_ID"})

    error = response.json()["error"]
    assert response.status_code == 400
    assert "'Bad_ID' is not valid" in error["message"]
    assert "starting with a letter" in error["message"]
    assert error["details"][0]["field"] == "datasetId"


def test_it_refuses_a_dataset_id_already_used(live_portal, cast):
    ready_dataset(cast.account)

    response = cast.owner.call("POST", "/datasets", json={"datasetId": "prefs"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ALREADY_EXISTS"


def test_the_two_step_flow_uploads_multipart_and_validates(
    live_portal, cast, run_worker
):
    cast.owner.call("POST", "/datasets", json={"datasetId": "prefs"})
    files = {"file": ("prefs.jsonl", jsonl_bytes(5), "application/jsonl")}

    uploaded = cast.owner.call("POST", "/datasets/prefs:upload", files=files)
    run_worker(["default"])

    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["state"] == "VALIDATING"
    answer = cast.owner.call("GET", "/datasets/prefs").json()
    assert answer["state"] == "READY"
    assert answer["exampleCount"] == 5
    assert answer["fileName"] == "prefs.jsonl"


def test_the_validation_report_lists_errors_by_line(live_portal, cast, run_worker):
    cast.owner.call("POST", "/datasets", json={"datasetId": "prefs"})
    body = jsonl_bytes(4) + b"not json\n"
    cast.owner.call("POST", "/datasets/prefs:upload", files={"file": ("f", body)})
    run_worker(["default"])

    report = cast.owner.call("GET", "/datasets/prefs:validationReport").json()

    assert report["valid"] is False
    assert report["report"]["errors"][0]["line"] == 5


def test_an_upload_without_a_file_field_names_the_field(live_portal, cast):
    cast.owner.call("POST", "/datasets", json={"datasetId": "prefs"})

    response = cast.owner.call(
        "POST", "/datasets/prefs:upload", files={"other": ("f", b"x")}
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "file"


def test_a_ready_dataset_takes_no_second_file(live_portal, cast):
    ready_dataset(cast.account)

    response = cast.owner.call(
        "POST", "/datasets/prefs:upload", files={"file": ("f", jsonl_bytes(3))}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "FAILED_PRECONDITION"


def test_the_upload_endpoint_answers_the_tus_url_that_takes_the_key(
    live_portal, cast, run_worker
):
    cast.owner.call("POST", "/datasets", json={"datasetId": "prefs"})
    body = jsonl_bytes(4)

    endpoint = cast.owner.call(
        "POST", "/datasets/prefs:getUploadEndpoint", json={"fileName": "big.jsonl"}
    ).json()
    metadata = ",".join(
        f"{k} {__import__('base64').b64encode(v.encode()).decode()}"
        for k, v in endpoint["metadata"].items()
    )
    created = cast.owner.call(
        "POST",
        endpoint["uploadUrl"].removeprefix(live_portal),
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(body)),
            "Upload-Metadata": metadata,
        },
    )
    assert created.status_code == 201, created.text
    sent = cast.owner.call(
        "PATCH",
        created.headers["Location"].removeprefix(live_portal),
        data=body,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    run_worker(["default"])

    assert endpoint["uploadUrl"] == f"{live_portal}/uploads/"
    assert created.status_code == 201, created.text
    assert sent.status_code == 204
    dataset = Dataset.objects.get()
    assert dataset.state == Dataset.STATE_READY
    assert dataset.file_name == "big.jsonl"


def test_lists_come_in_pages_with_a_next_page_token(live_portal, cast):
    for n in range(5):
        Dataset.objects.create(account=cast.account, dataset_id=f"set-{n}")

    first = cast.owner.call("GET", "/datasets", params={"pageSize": 2}).json()
    seen = [d["datasetId"] for d in first["datasets"]]
    token = first["nextPageToken"]
    while token:
        page = cast.owner.call(
            "GET", "/datasets", params={"pageSize": 2, "pageToken": token}
        ).json()
        seen += [d["datasetId"] for d in page["datasets"]]
        token = page["nextPageToken"]

    assert len(first["datasets"]) == 2
    assert sorted(seen) == [f"set-{n}" for n in range(5)]
    assert first["totalSize"] == 5


@pytest.mark.parametrize(
    "params", [{"pageSize": "0"}, {"pageSize": "abc"}, {"pageToken": "nonsense"}]
)
def test_it_refuses_bad_paging_with_a_clear_error(live_portal, cast, params):
    response = cast.owner.call("GET", "/datasets", params=params)

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] in params


def test_deleting_a_dataset_removes_its_files(live_portal, cast):
    dataset = ready_dataset(cast.account)

    response = cast.owner.call("DELETE", "/datasets/prefs")

    assert response.status_code == 200
    assert not Dataset.objects.exists()
    assert not dataset.folder.exists()


def test_it_refuses_to_delete_a_dataset_an_active_job_uses(live_portal, cast):
    dataset = ready_dataset(cast.account)
    finished_job(dataset, base_model(), state=states.RUNNING)

    response = cast.owner.call("DELETE", "/datasets/prefs")

    assert response.status_code == 409
    assert "job-one" in response.json()["error"]["message"]
    assert Dataset.objects.exists()


def job_body(**overrides):
    body = {
        "dataset": "accounts/owner/datasets/prefs",
        "trainingConfig": {
            "baseModel": "accounts/shared/models/tiny-base",
            "outputModel": "tuned",
            "epochs": 2,
            "learningRate": 1e-4,
            "loraRank": 4,
            "maxContextLength": 256,
        },
        "beta": 0.3,
        "lossType": "ipo",
    }
    body.update(overrides)
    return body


def test_it_creates_a_dpo_job_with_every_option_named_as_in_the_form(
    live_portal, cast, redis_queues
):
    ready_dataset(cast.account)
    base_model()

    response = cast.owner.call("POST", "/dpoJobs", json=job_body(dpoJobId="run-1"))

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["name"] == "accounts/owner/dpoJobs/run-1"
    assert answer["state"] == "JOB_STATE_PENDING"
    assert answer["trainingConfig"]["loraRank"] == 4
    job = DpoJob.objects.get()
    assert job.params["beta"] == 0.3
    assert job.params["loss_type"] == "ipo"
    assert job.params["learning_rate"] == 1e-4
    assert redis_queues.llen("rq:queue:training") == 1


def test_it_generates_a_job_id_when_none_is_given(live_portal, cast, redis_queues):
    ready_dataset(cast.account)
    base_model()

    answer = cast.owner.call("POST", "/dpoJobs", json=job_body()).json()

    assert answer["dpoJobId"].startswith("dpo-")


def test_a_job_without_an_output_model_takes_the_first_free_name(
    live_portal, cast, redis_queues
):
    ready_dataset(cast.account)
    base_model()
    body = job_body()
    del body["trainingConfig"]["outputModel"]

    names = [
        cast.owner.call("POST", "/dpoJobs", json=body).json()["trainingConfig"][
            "outputModel"
        ]
        for _ in range(2)
    ]

    assert names == [
        "accounts/owner/models/prefs-dpo",
        "accounts/owner/models/prefs-dpo-2",
    ]


def test_it_names_the_field_of_a_bad_beta(live_portal, cast):
    ready_dataset(cast.account)
    base_model()

    response = cast.owner.call("POST", "/dpoJobs", json=job_body(beta=0))

    error = response.json()["error"]
    assert response.status_code == 400
    assert error["details"] == [
        {"field": "beta", "message": "beta is 0.0; it must be greater than 0."}
    ]


def test_a_number_no_float_can_hold_is_refused_by_name(live_portal, cast):
    ready_dataset(cast.account)
    base_model()
    body = json.dumps(job_body(beta=1)).replace('"beta": 1', '"beta": 1' + "0" * 400)

    response = cast.owner.call(
        "POST", "/dpoJobs", data=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "beta"
    assert "finite number" in detail["message"]


def test_it_refuses_unknown_fields_and_wrong_types_by_name(live_portal, cast):
    ready_dataset(cast.account)
    base_model()
    body = job_body()
    body["trainingConfig"]["loraRank"] = "eight"
    body["trainingConfig"]["learning_rate"] = 0.1

    error = cast.owner.call("POST", "/dpoJobs", json=body).json()["error"]

    fields = {d["field"] for d in error["details"]}
    assert fields == {"trainingConfig.loraRank", "trainingConfig.learning_rate"}


def test_a_job_cannot_train_on_another_accounts_dataset(live_portal, cast):
    ready_dataset(cast.outsider.user.accounts.get(), "theirs")
    base_model()

    body = job_body(dataset="accounts/outsider/datasets/theirs")
    error = cast.owner.call("POST", "/dpoJobs", json=body).json()["error"]

    assert error["details"][0]["field"] == "dataset"
    assert not DpoJob.objects.exists()


def test_a_job_answers_its_state_progress_metrics_and_model(live_portal, cast):
    world(cast.account)

    answer = cast.owner.call("GET", "/dpoJobs/job-one").json()

    assert answer["state"] == "JOB_STATE_COMPLETED"
    assert answer["progress"]["percent"] == 100
    assert answer["latestMetrics"] == {"loss": 0.5}
    assert answer["fineTunedModel"] == "accounts/owner/models/tuned-job-one"
    assert answer["beta"] == 0.2


def test_jobs_are_listed_by_state(live_portal, cast):
    dataset = ready_dataset(cast.account)
    base = base_model()
    finished_job(dataset, base, "done-one")
    finished_job(dataset, base, "failed-one", state=states.FAILED)

    answer = cast.owner.call("GET", "/dpoJobs", params={"state": "FAILED"}).json()

    assert [j["dpoJobId"] for j in answer["dpoJobs"]] == ["failed-one"]


def test_it_refuses_an_unknown_state_filter(live_portal, cast):
    response = cast.owner.call("GET", "/dpoJobs", params={"state": "SLEEPING"})

    assert response.status_code == 400
    assert "JOB_STATE_RUNNING" in response.json()["error"]["message"]


def test_cancelling_a_pending_job_cancels_it(live_portal, cast):
    dataset = ready_dataset(cast.account)
    finished_job(dataset, base_model(), state=states.PENDING)

    answer = cast.owner.call("POST", "/dpoJobs/job-one:cancel").json()

    assert answer["state"] == states.CANCELLED
    assert DpoJob.objects.get().state == states.CANCELLED


def test_cancelling_a_running_job_asks_it_to_stop(live_portal, cast):
    dataset = ready_dataset(cast.account)
    finished_job(dataset, base_model(), state=states.RUNNING)

    answer = cast.owner.call("POST", "/dpoJobs/job-one:cancel").json()

    assert answer["state"] == states.CANCELLING


def test_a_finished_job_cannot_be_cancelled(live_portal, cast):
    world(cast.account)

    response = cast.owner.call("POST", "/dpoJobs/job-one:cancel")

    assert response.status_code == 409
    assert DpoJob.objects.get().state == states.COMPLETED


def test_only_a_finished_job_can_be_deleted(live_portal, cast):
    dataset = ready_dataset(cast.account)
    finished_job(dataset, base_model(), state=states.RUNNING)

    response = cast.owner.call("DELETE", "/dpoJobs/job-one")

    assert response.status_code == 409
    assert DpoJob.objects.exists()


def test_deleting_a_finished_job_keeps_its_model(live_portal, cast):
    world(cast.account)

    response = cast.owner.call("DELETE", "/dpoJobs/job-one")

    assert response.status_code == 200
    assert not DpoJob.objects.exists()
    assert LanguageModel.objects.filter(model_id="tuned-job-one").exists()


def test_metrics_come_as_json_pages(live_portal, cast):
    world(cast.account)

    answer = cast.owner.call("GET", "/dpoJobs/job-one/metrics").json()

    assert [m["step"] for m in answer["metrics"]] == [1, 2, 3, 4]
    assert answer["metrics"][1]["values"] == {"loss": 0.5}


def test_metrics_export_as_json_lines(live_portal, cast):
    world(cast.account)

    response = cast.owner.call(
        "GET", "/dpoJobs/job-one/metrics", params={"format": "jsonl"}
    )

    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.headers["Content-Type"] == "application/jsonl"
    assert [line["step"] for line in lines] == [1, 2, 3, 4]


def test_events_list_what_happened_to_the_job(live_portal, cast):
    world(cast.account)

    answer = cast.owner.call("GET", "/dpoJobs/job-one/events").json()

    assert answer["events"][0]["message"] == "Job created; queued."


def test_models_list_the_accounts_and_the_shared_ones(live_portal, cast):
    world(cast.account)

    answer = cast.owner.call("GET", "/models").json()

    names = {m["name"] for m in answer["models"]}
    assert names == {
        "accounts/shared/models/tiny-base",
        "accounts/owner/models/tuned-job-one",
    }


def test_a_model_answers_its_base_and_job(live_portal, cast):
    world(cast.account)

    answer = cast.owner.call("GET", "/models/tuned-job-one").json()

    assert answer["baseModel"] == "accounts/shared/models/tiny-base"
    assert answer["dpoJob"] == "accounts/owner/dpoJobs/job-one"


def test_deleting_a_fine_tuned_model_removes_its_adapter(live_portal, cast):
    _, job = world(cast.account)
    job.adapter_path.mkdir(parents=True)
    (job.adapter_path / "adapter_config.json").write_text("{}")

    response = cast.owner.call("DELETE", "/models/tuned-job-one")

    assert response.status_code == 200
    assert not job.adapter_path.exists()
    assert not LanguageModel.objects.filter(model_id="tuned-job-one").exists()


def test_a_shared_base_model_cannot_be_deleted_through_the_api(live_portal, cast):
    base_model()

    response = cast.owner.call("DELETE", "/models/tiny-base")

    assert response.status_code == 403
    assert LanguageModel.objects.exists()


def test_every_api_route_is_in_the_schema_with_its_methods():
    from django.urls import URLPattern

    from dpo_portal.api import urls
    from dpo_portal.api.openapi import build_schema

    names = {"dataset_id": "dataset", "job_id": "job", "model_id": "model"}
    documented = build_schema()["paths"]
    for pattern in urls.urlpatterns:
        handlers = getattr(pattern.callback, "handlers", None)
        if not isinstance(pattern, URLPattern) or handlers is None:
            continue
        path = "/v1/" + str(pattern.pattern)
        for django_name, name in {"account": "account", **names}.items():
            path = path.replace(f"<seg:{django_name}>", "{" + name + "}")

        assert path in documented, path
        assert set(documented[path]) == {m.lower() for m in handlers}, path


@pytest.mark.django_db
def test_an_unexpected_failure_is_a_json_500_not_an_html_page(cast, monkeypatch):
    from django.test import Client

    from dpo_portal.api import datasets

    def broken(dataset):
        raise RuntimeError("a bug")

    monkeypatch.setattr(datasets, "dataset_shape", broken)
    ready_dataset(cast.account)
    client = Client(headers={"Authorization": f"Bearer {cast.owner.key}"})

    response = client.get("/v1/accounts/owner/datasets/prefs")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "INTERNAL"
    assert "a bug" not in response.content.decode()


def test_a_tus_upload_goes_to_the_account_the_endpoint_named(live_portal, cast):
    Dataset.objects.create(account=cast.account, dataset_id="prefs")
    own = Dataset.objects.create(
        account=cast.teammate.user.accounts.get(account_id="teammate"),
        dataset_id="prefs",
    )
    endpoint = cast.teammate.call("POST", "/datasets/prefs:getUploadEndpoint").json()
    metadata = ",".join(
        f"{k} {__import__('base64').b64encode(v.encode()).decode()}"
        for k, v in endpoint["metadata"].items()
    )

    created = cast.teammate.call(
        "POST",
        "/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "10",
            "Upload-Metadata": metadata,
        },
    )

    assert created.status_code == 201, created.text
    upload = Dataset.objects.get(account=cast.account).uploads.get()
    assert upload.dataset.account == cast.account
    assert not own.uploads.exists()
