"""The OpenAI-compatible endpoint, called with the official `openai` client over
HTTP against a real gunicorn process and a real `inference` worker.

It authenticates with real API keys, through the same middleware as the REST API.
"""

import openai
import pytest

from dpo_portal.api_keys import create_key
from models_app import services
from models_app.models import Deployment
from tests.models.conftest import wait_until_ready

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = [{"role": "user", "content": "Name a colour."}]


def key_for(user):
    return create_key(user, "openai client")[1]


def client(web_server, key):
    return openai.OpenAI(
        base_url=f"{web_server}/inference/v1", api_key=key, max_retries=0, timeout=120
    )


@pytest.fixture
def served(owner, tiny_adapter, inference_worker):
    deployment = services.deploy(tiny_adapter.account, tiny_adapter, user=owner)
    inference_worker.start()
    wait_until_ready(deployment)
    return tiny_adapter


@pytest.fixture
def ready_row(tiny_adapter):
    """A READY deployment with no server behind it: enough for refusals."""
    Deployment.objects.create(
        account=tiny_adapter.account, model=tiny_adapter, state=Deployment.READY
    )
    return tiny_adapter


def test_the_openai_client_gets_the_same_answer_whole_and_streamed(
    web_server, owner, served
):
    api = client(web_server, key_for(owner))
    settings = {"model": served.name, "messages": QUESTION, "temperature": 0}

    whole = api.chat.completions.create(max_tokens=12, **settings)
    chunks = list(
        api.chat.completions.create(
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
            **settings,
        )
    )

    text = whole.choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and streamed == text
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert whole.model == served.name
    assert chunks[-2].choices[0].finish_reason == whole.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens > 0


def test_a_stop_sequence_ends_the_answer_just_before_it(web_server, owner, served):
    api = client(web_server, key_for(owner))
    settings = {"model": served.name, "messages": QUESTION, "temperature": 0}
    full = api.chat.completions.create(max_tokens=16, **settings)
    text = full.choices[0].message.content
    stop = text[len(text) // 2 : len(text) // 2 + 3]

    cut = api.chat.completions.create(max_tokens=16, stop=[stop], **settings)

    assert cut.choices[0].message.content == text[: text.find(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_a_request_without_a_valid_key_is_refused_with_401(web_server, ready_row):
    api = client(web_server, "not-a-key")

    with pytest.raises(openai.AuthenticationError) as refused:
        api.chat.completions.create(model=ready_row.name, messages=QUESTION)

    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_api_key"


def test_an_outsider_is_told_the_model_does_not_exist(web_server, outsider, ready_row):
    api = client(web_server, key_for(outsider))

    with pytest.raises(openai.NotFoundError) as refused:
        api.chat.completions.create(model=ready_row.name, messages=QUESTION)

    assert refused.value.code == "model_not_found"
    assert ready_row.name in refused.value.message


def test_a_temperature_out_of_range_is_a_400_naming_the_parameter(
    web_server, owner, ready_row
):
    api = client(web_server, key_for(owner))

    with pytest.raises(openai.BadRequestError) as refused:
        api.chat.completions.create(
            model=ready_row.name, messages=QUESTION, temperature=3
        )

    assert refused.value.param == "temperature"
    assert "at most 2" in refused.value.message


def test_the_model_list_names_the_ready_deployments(web_server, owner, ready_row):
    api = client(web_server, key_for(owner))

    assert [m.id for m in api.models.list()] == [ready_row.name]


def test_a_session_cookie_alone_does_not_open_the_serving_api(owner_client, ready_row):
    response = owner_client.post(
        "/inference/v1/chat/completions",
        {"model": ready_row.name, "messages": QUESTION},
        content_type="application/json",
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
