"""Reading a chat request: messages and sampling settings, as the OpenAI chat
completions API names them. Shared by the API and the playground."""

from django.conf import settings

ROLES = {"system", "user", "assistant"}
MAX_STOP_SEQUENCES = 4


class ChatRequestError(Exception):
    def __init__(self, message, param=None):
        super().__init__(message)
        self.param = param


def read_messages(value):
    """[{role, content}] with string content; text parts are joined."""
    if not isinstance(value, list) or not value:
        raise ChatRequestError("messages must be a non-empty array.", "messages")

    messages = []
    for n, message in enumerate(value):
        where = f"messages[{n}]"
        if not isinstance(message, dict):
            raise ChatRequestError(f"{where} must be an object.", where)
        role = message.get("role")
        # OpenAI's newer name for the system role.
        role = "system" if role == "developer" else role
        if role not in ROLES:
            raise ChatRequestError(
                f"{where}.role is {role!r}; accepted: system, user, assistant.",
                f"{where}.role",
            )
        messages.append({"role": role, "content": _text(message.get("content"), where)})
    return messages


def _text(content, where):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text"):
                raise ChatRequestError(
                    f"{where}.content: only text parts are supported.",
                    f"{where}.content",
                )
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise ChatRequestError(
        f"{where}.content must be a string or an array of text parts.",
        f"{where}.content",
    )


def read_sampling(body):
    """{temperature, top_p, max_tokens, stop, seed} with OpenAI's defaults."""
    if body.get("n", 1) != 1:
        raise ChatRequestError("Only n=1 is supported.", "n")

    limit = settings.DPO_INFERENCE_MAX_TOKENS
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    return {
        "temperature": _number(body, "temperature", 1.0, 0, 2),
        "top_p": _number(body, "top_p", 1.0, 0, 1, low_open=True),
        "max_tokens": _whole(max_tokens, "max_tokens", min(256, limit), 1, limit),
        "stop": _stop(body.get("stop")),
        "seed": _whole(body.get("seed"), "seed", None, 0, 2**63 - 1),
    }


def _number(body, name, default, low, high, low_open=False):
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ChatRequestError(f"{name} must be a number; got {value!r}.", name)
    if value < low or value > high or (low_open and value == low):
        bound = f"greater than {low}" if low_open else f"at least {low}"
        raise ChatRequestError(
            f"{name} is {value}; it must be {bound} and at most {high}.", name
        )
    return float(value)


def _whole(value, name, default, low, high):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChatRequestError(f"{name} must be a whole number; got {value!r}.", name)
    if not low <= value <= high:
        raise ChatRequestError(
            f"{name} is {value}; it must be between {low} and {high}.", name
        )
    return value


def _stop(value):
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise ChatRequestError("stop must be a string or an array of strings.", "stop")
    if len(stops) > MAX_STOP_SEQUENCES:
        raise ChatRequestError(
            f"stop has {len(stops)} sequences; at most {MAX_STOP_SEQUENCES}.", "stop"
        )
    return [s for s in stops if s]
