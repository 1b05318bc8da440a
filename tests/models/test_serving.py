"""Deployments served by a real `inference` worker process, with the tiny model."""

import json

import pytest

from models_app import inference, services
from models_app.models import Deployment
from tests.models.conftest import make_adapter, wait_for, wait_until_ready

pytestmark = pytest.mark.django_db(transaction=True)

GREEDY = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 12, "stop": [], "seed": None}
MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]


def answer(base, adapter, messages=MESSAGES, sampling=GREEDY):
    events = list(inference.chat(base, adapter, messages, sampling))
    assert events[-1]["type"] == "end", events[-1]
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    return text, events[-1]


def local_answer(adapter_model, use_adapter, max_tokens=12):
    """The same greedy answer computed here with transformers and PEFT directly."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(adapter_model.base.path)
    model = AutoModelForCausalLM.from_pretrained(adapter_model.base.path)
    if use_adapter:
        model = PeftModel.from_pretrained(model, adapter_model.path)
    prompt = tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, return_tensors="pt"
    )["input_ids"]
    with torch.inference_mode():
        out = model.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=max_tokens,
            do_sample=False,
        )
    return tokenizer.decode(out[0, prompt.shape[1] :], skip_special_tokens=True)


def playground_answer(client, side):
    """The playground's stream for one side: (text, the closing event)."""
    response = client.post(
        "/models/tiny-tuned/playground/chat/",
        {"messages": MESSAGES, "side": side, "temperature": 0, "max_tokens": 12},
        content_type="application/json",
    )
    assert response["Content-Type"] == "text/event-stream"
    body = b"".join(response.streaming_content).decode()
    events = [
        json.loads(line.removeprefix("data: "))
        for line in body.split("\n\n")
        if line.startswith("data: ")
    ]
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    return text, events[-1]


def test_the_playground_answers_as_peft_does_with_the_base_beside_it(
    owner, owner_client, tiny_adapter, inference_worker
):
    deployment = services.deploy(tiny_adapter.account, tiny_adapter, user=owner)
    inference_worker.start()
    wait_until_ready(deployment)

    tuned, end = playground_answer(owner_client, "tuned")
    base, _ = playground_answer(owner_client, "base")

    assert tuned == local_answer(tiny_adapter, use_adapter=True)
    assert base == local_answer(tiny_adapter, use_adapter=False)
    assert tuned != base
    # What the page turns into tokens per second.
    assert end["type"] == "end"
    assert end["completion_tokens"] > 0 and end["seconds"] > 0


def test_two_adapters_share_one_serving_process_on_their_base(
    owner, tiny_base, tiny_adapter, inference_worker
):
    second = make_adapter(owner, tiny_base, "tiny-second", seed=2)
    first_deployment = services.deploy(tiny_adapter.account, tiny_adapter)
    second_deployment = services.deploy(second.account, second)
    inference_worker.start()
    wait_until_ready(first_deployment)
    wait_until_ready(second_deployment)

    status = inference.server_status(tiny_base)
    assert status["adapters"] == sorted(
        [inference.adapter_name(tiny_adapter), inference.adapter_name(second)]
    )
    # One serving job ran for both: nothing else waits in the queue.
    assert inference.connection().llen("rq:queue:inference") == 0
    first, _ = answer(tiny_base, inference.adapter_name(tiny_adapter))
    other, _ = answer(tiny_base, inference.adapter_name(second))
    assert first != other


def test_undeploying_drops_the_adapter_and_the_last_one_ends_the_process(
    owner, tiny_base, tiny_adapter, inference_worker
):
    second = make_adapter(owner, tiny_base, "tiny-second", seed=2)
    first_deployment = services.deploy(tiny_adapter.account, tiny_adapter)
    second_deployment = services.deploy(second.account, second)
    inference_worker.start()
    wait_until_ready(first_deployment)
    wait_until_ready(second_deployment)

    services.undeploy(first_deployment)
    wait_for(
        lambda: (
            inference.server_status(tiny_base)["adapters"]
            == [inference.adapter_name(second)]
        ),
        "the first adapter to be dropped",
    )
    services.undeploy(second_deployment)

    inference_worker.wait_until_serving_ends()
    assert not inference.is_serving(tiny_base)
    assert inference.server_status(tiny_base) is None
    assert set(Deployment.objects.values_list("state", flat=True)) == {
        Deployment.UNDEPLOYED
    }


def test_a_chat_for_an_undeployed_adapter_gets_an_error_event(
    owner, tiny_base, tiny_adapter, inference_worker
):
    services.deploy(tiny_adapter.account, tiny_adapter)
    base_deployment = services.deploy(tiny_adapter.account, tiny_base)
    inference_worker.start()
    wait_until_ready(base_deployment)
    services.undeploy(Deployment.objects.get(model=tiny_adapter))
    wait_for(
        lambda: inference.server_status(tiny_base)["adapters"] == [],
        "the adapter to be dropped",
        log=inference_worker.log,
    )

    events = list(
        inference.chat(
            tiny_base, inference.adapter_name(tiny_adapter), MESSAGES, GREEDY
        )
    )

    assert events[-1]["type"] == "error"
    assert "not deployed" in events[-1]["message"]
    assert answer(tiny_base, None)[0] == local_answer(tiny_adapter, use_adapter=False)


def test_an_adapter_that_cannot_load_fails_its_deployment_with_a_reason(
    owner, tiny_base, tiny_adapter, inference_worker, tmp_path
):
    tiny_adapter.path = str(tmp_path / "gone")
    tiny_adapter.save(update_fields=["path"])
    deployment = services.deploy(tiny_adapter.account, tiny_adapter)
    inference_worker.start()

    inference_worker.wait_until_serving_ends()
    deployment.refresh_from_db()
    assert deployment.state == Deployment.FAILED
    assert "gone" in deployment.failure_reason
