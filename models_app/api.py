"""`POST /inference/v1/chat/completions`, as the OpenAI chat completions API.

The caller is `request.user`, set by the API-key middleware from
`Authorization: Bearer <key>`. A model is named `accounts/{account}/models/{model}`
(`accounts/shared/models/{model}` for a shared base model) and must have a READY
deployment in one of the caller's accounts; anything else is a 404, so an
outsider learns nothing about another account's models.
"""

import json
import re
import time
import uuid

from django.http import JsonResponse, StreamingHttpResponse

from models_app import inference
from models_app.chat import ChatRequestError, read_messages, read_sampling
from models_app.models import Deployment

MODEL_NAME = re.compile(r"^accounts/([a-z0-9-]+)/models/([a-z0-9-]+)$")


def api_error(status, message, kind, code=None, param=None):
    """An error in OpenAI's shape, which its client turns into a typed exception."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return JsonResponse(body, status=status)


def _signed_in_by_key(request):
    # Only an API key counts here, never the session cookie: that is what makes
    # these views safe without CSRF tokens (see api_urls.py).
    return getattr(request, "api_key", None) is not None


def chat_completions(request):
    if request.method != "POST":
        return api_error(405, "Use POST.", "invalid_request_error")
    if not _signed_in_by_key(request):
        return api_error(
            401,
            "Missing or invalid API key: send `Authorization: Bearer <key>`.",
            "invalid_request_error",
            code="invalid_api_key",
        )

    try:
        body = json.loads(request.body)
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        return api_error(
            400, "The body must be a JSON object.", "invalid_request_error"
        )

    name = body.get("model")
    deployment = _deployment(request.user, name)
    if deployment is None:
        return api_error(
            404,
            f"The model {name!r} does not exist, or is not deployed and READY in "
            "your accounts. Names look like accounts/{account}/models/{model}.",
            "invalid_request_error",
            code="model_not_found",
            param="model",
        )

    try:
        messages = read_messages(body.get("messages"))
        sampling = read_sampling(body)
    except ChatRequestError as exc:
        return api_error(400, str(exc), "invalid_request_error", param=exc.param)

    try:
        events = inference.chat(
            deployment.base, _adapter(deployment), messages, sampling
        )
    except inference.NotServing as exc:
        return api_error(503, str(exc), "server_error", code="model_not_serving")

    completion = Completion(name)
    if body.get("stream"):
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        response = StreamingHttpResponse(
            completion.stream(events, usage), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # let nginx pass each chunk at once
        return response
    return completion.collect(events)


def _deployment(user, name):
    match = MODEL_NAME.match(name) if isinstance(name, str) else None
    if not match:
        return None

    owner, model_id = match.groups()
    found = Deployment.objects.filter(
        state=Deployment.READY,
        account__members=user,
        model__model_id=model_id,
    ).select_related("model", "model__base")
    if owner == "shared":
        found = found.filter(model__account__isnull=True)
    else:
        found = found.filter(model__account__account_id=owner)
    return found.first()


def _adapter(deployment):
    if deployment.model.base_id is None:
        return None
    return inference.adapter_name(deployment.model)


class Completion:
    def __init__(self, model_name):
        self.model = model_name
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def collect(self, events):
        text = []
        try:
            for event in events:
                if event["type"] == "delta":
                    text.append(event["text"])
                elif event["type"] == "error":
                    return api_error(500, event["message"], "server_error")
                else:
                    end = event
        except inference.ReplyTimeout as exc:
            return api_error(504, str(exc), "server_error", code="timeout")

        return JsonResponse(
            {
                "id": self.id,
                "object": "chat.completion",
                "created": self.created,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(text)},
                        "logprobs": None,
                        "finish_reason": end["finish_reason"],
                    }
                ],
                "usage": _usage(end),
            }
        )

    def stream(self, events, include_usage):
        """Server-sent events: `data: <chunk>` lines, then `data: [DONE]`."""
        yield self._sse(self._chunk({"role": "assistant", "content": ""}))
        try:
            for event in events:
                if event["type"] == "delta":
                    yield self._sse(self._chunk({"content": event["text"]}))
                elif event["type"] == "error":
                    error = {"message": event["message"], "type": "server_error"}
                    yield self._sse({"error": error})
                    return
                else:
                    yield self._sse(self._chunk({}, event["finish_reason"]))
                    if include_usage:
                        chunk = self._chunk(None)
                        chunk["usage"] = _usage(event)
                        yield self._sse(chunk)
        except inference.ReplyTimeout as exc:
            yield self._sse({"error": {"message": str(exc), "type": "server_error"}})
            return
        yield "data: [DONE]\n\n"

    def _chunk(self, delta, finish_reason=None):
        choices = []
        if delta is not None:
            choices.append(
                {
                    "index": 0,
                    "delta": delta,
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            )
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def _sse(self, payload):
        return f"data: {json.dumps(payload)}\n\n"


def _usage(end):
    return {
        "prompt_tokens": end["prompt_tokens"],
        "completion_tokens": end["completion_tokens"],
        "total_tokens": end["prompt_tokens"] + end["completion_tokens"],
    }


def list_models(request):
    """`GET /inference/v1/models`: the models the caller can chat with now."""
    if not _signed_in_by_key(request):
        return api_error(
            401,
            "Missing or invalid API key.",
            "invalid_request_error",
            "invalid_api_key",
        )

    ready = Deployment.objects.filter(
        state=Deployment.READY, account__members=request.user
    ).select_related("model", "model__account", "account")
    data = [
        {
            "id": d.model.name,
            "object": "model",
            "created": int(d.created_at.timestamp()),
            "owned_by": d.model.account.account_id if d.model.account_id else "shared",
        }
        for d in ready.distinct()
    ]
    return JsonResponse({"object": "list", "data": data})
