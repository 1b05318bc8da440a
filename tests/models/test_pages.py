"""Model pages: what they show, who may see and change what, what deploying queues."""

import pytest
from django.test import Client

from dpo_portal.accounts import personal_account
from dpo_portal.models import Membership
from jobs_app.models import DpoJob
from models_app import inference
from models_app.models import Deployment, PreferenceCheck
from tests.conftest import make_user
from tests.models.conftest import ready_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer_client(django_user_model, owner):
    viewer = make_user(django_user_model, "viewer")
    Membership.objects.create(
        account=personal_account(owner), user=viewer, role=Membership.ROLE_VIEWER
    )
    client = Client()
    client.force_login(viewer)
    return client


@pytest.fixture
def made_by_job(owner, tiny_adapter):
    dataset = ready_dataset(owner, "train-set")
    return DpoJob.objects.create(
        account=tiny_adapter.account,
        job_id="job-one",
        dataset=dataset,
        base_model=tiny_adapter.base,
        output_model_id=tiny_adapter.model_id,
        fine_tuned_model=tiny_adapter,
        params={"beta": 0.25, "learning_rate": 0.001},
        latest_metrics={"rewards/accuracies": 0.875, "loss": 0.5},
        state="JOB_STATE_COMPLETED",
    )


def test_the_list_shows_the_shared_base_and_the_users_fine_tuned_model(
    owner_client, tiny_adapter
):
    page = owner_client.get("/models/").content.decode()

    assert "accounts/shared/models/tiny-base" in page
    assert "accounts/owner/models/tiny-tuned" in page


def test_the_fine_tuned_page_shows_its_base_job_metrics_and_adapter_files(
    owner_client, made_by_job
):
    page = owner_client.get("/models/tiny-tuned/").content.decode()

    assert "tiny-base" in page and "job-one" in page and "train-set" in page
    assert "0.875" in page  # rewards/accuracies at the end of training
    assert "0.25" in page  # the job's beta
    assert "adapter_model.safetensors" in page and "adapter_config.json" in page


@pytest.mark.parametrize(
    "url",
    [
        "/models/tiny-tuned/",
        "/models/tiny-tuned/playground/",
        "/models/tiny-tuned/deployment/",
        "/models/tiny-tuned/adapter.zip",
    ],
)
def test_an_outsider_gets_404_for_another_accounts_model(
    outsider_client, tiny_adapter, url
):
    assert outsider_client.get(url).status_code == 404


def test_an_outsider_cannot_deploy_another_accounts_model(
    outsider_client, tiny_adapter
):
    assert outsider_client.post("/models/tiny-tuned/deploy/").status_code == 404
    assert not Deployment.objects.exists()


def test_a_viewer_may_look_but_not_deploy(viewer_client, tiny_adapter):
    assert viewer_client.get("/models/tiny-tuned/").status_code == 200
    assert viewer_client.post("/models/tiny-tuned/deploy/").status_code == 403
    assert not Deployment.objects.exists()


def test_deploying_queues_one_serving_job_for_the_base(
    owner_client, tiny_adapter, redis_queues, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/models/tiny-tuned/deploy/")

    assert response.status_code == 302
    assert Deployment.objects.get().state == Deployment.DEPLOYING
    assert redis_queues.llen("rq:queue:inference") == 1
    assert redis_queues.get(inference.server_key(tiny_adapter.base_id)) == b"queued"
    page = owner_client.get("/models/tiny-tuned/").content.decode()
    assert "DEPLOYING" in page and 'hx-trigger="every 2s"' in page


def test_a_second_deploy_of_the_same_model_is_refused(
    owner_client, tiny_adapter, redis_queues, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post("/models/tiny-tuned/deploy/")
        response = owner_client.post("/models/tiny-tuned/deploy/", follow=True)

    assert "already deployed" in response.content.decode()
    assert Deployment.objects.count() == 1
    assert redis_queues.llen("rq:queue:inference") == 1


def test_undeploying_ends_the_deployment_and_tells_the_server(
    owner_client, tiny_adapter, redis_queues, django_capture_on_commit_callbacks
):
    Deployment.objects.create(
        account=tiny_adapter.account, model=tiny_adapter, state=Deployment.READY
    )

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post("/models/tiny-tuned/undeploy/")

    deployment = Deployment.objects.get()
    assert deployment.state == Deployment.UNDEPLOYED and deployment.ended_at
    assert redis_queues.lpop(inference.requests_key(tiny_adapter.base_id)) == (
        b'{"type": "sync"}'
    )


def test_the_playground_needs_a_ready_deployment(owner_client, tiny_adapter):
    page = owner_client.get("/models/tiny-tuned/playground/").content.decode()
    answer = owner_client.post(
        "/models/tiny-tuned/playground/chat/",
        {"messages": [{"role": "user", "content": "hi"}]},
        content_type="application/json",
    )

    assert "not deployed" in page
    assert answer.status_code == 409


def test_the_playground_puts_the_base_beside_the_tuned_model(
    owner_client, tiny_adapter
):
    Deployment.objects.create(
        account=tiny_adapter.account, model=tiny_adapter, state=Deployment.READY
    )

    page = owner_client.get("/models/tiny-tuned/playground/").content.decode()

    assert 'data-side="tuned"' in page and 'data-side="base"' in page
    assert "Base tiny-base" in page and "playground.js" in page


def test_a_preference_check_is_queued_on_the_training_queue(
    owner_client, owner, tiny_adapter, redis_queues, django_capture_on_commit_callbacks
):
    ready_dataset(owner, "held-out")

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post("/models/tiny-tuned/checks/", {"dataset": "held-out"})

    check = PreferenceCheck.objects.get()
    assert check.state == PreferenceCheck.PENDING
    assert check.dataset.dataset_id == "held-out"
    assert redis_queues.llen("rq:queue:training") == 1


def test_a_preference_check_refuses_a_dataset_that_is_not_ready(
    owner_client, owner, tiny_adapter, redis_queues
):
    from tests.helpers import new_dataset

    new_dataset(owner, "uploading")

    response = owner_client.post(
        "/models/tiny-tuned/checks/", {"dataset": "uploading"}, follow=True
    )

    assert "only a READY dataset" in response.content.decode()
    assert not PreferenceCheck.objects.exists()


def test_the_deploy_command_deploys_a_model_by_its_name(
    tiny_adapter, redis_queues, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    with django_capture_on_commit_callbacks(execute=True):
        call_command("deploy_model", "accounts/owner/models/tiny-tuned")

    assert Deployment.objects.get().state == Deployment.DEPLOYING
    assert redis_queues.llen("rq:queue:inference") == 1


def test_the_deploy_command_refuses_an_unknown_name(tiny_adapter):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="No model accounts/owner/models/nope"):
        call_command("deploy_model", "accounts/owner/models/nope")
