"""The validator's fast path: typed decoding of the common, valid example.

Most lines of a real dataset are valid examples with no extra keys. msgspec decodes
such a line straight into the small typed structs below, checking types, roles and
that no unknown key is present, at several hundred MB/s; `facts_of()` then checks
the rules that types cannot express. Anything the fast path does not accept (an
unknown key, a wrong type, a rule broken) goes to the detailed checks in
validation.py, which find and word every problem; so the fast path only ever says
"valid", never "invalid", and its verdicts agree with the detailed checks.
"""

from typing import Any, Literal

import msgspec

ROLES = Literal["system", "user", "assistant"]


class _Message(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: ROLES
    content: str


class _Answer(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: Literal["assistant"]
    content: str


class _Input(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[_Message]
    # UNSET, not None, as the default: `"tools": null` must reach the detailed
    # checks, which reject it.
    tools: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET


class _Example(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    input: _Input
    preferred_output: list[_Answer]
    non_preferred_output: list[_Answer]


# A block of lines is decoded as one JSON array (newlines turned into commas), which
# keeps "one value per line" exact: two values on a line, a value over two lines or
# a blank line all make the array malformed.
BLOCK_DECODER = msgspec.json.Decoder(list[_Example])
LINE_DECODER = msgspec.json.Decoder(_Example)
# msgspec raises UnicodeDecodeError, a ValueError, for bytes that are not UTF-8.
DECODE_ERRORS = (msgspec.DecodeError, ValueError, RecursionError)

_ORDER_CACHE_LIMIT = 4096
_order_ok = {}


def decode_block(block):
    """The examples of a block of complete lines, or None if any line fails typing."""
    body = block[:-1] if block.endswith(b"\n") else block
    try:
        return BLOCK_DECODER.decode(b"[" + body.replace(b"\n", b",") + b"]")
    except DECODE_ERRORS:
        return None


def decode_line(line):
    try:
        return LINE_DECODER.decode(line)
    except DECODE_ERRORS:
        return None


def facts_of(example):
    """The facts the report needs from a typed example, or None if a rule is broken.

    Returns (key, prompt_chars, preferred_chars, non_preferred_chars, turns,
    has_system, has_tools, identical); `key` identifies the example's content for
    finding duplicates (see example_key).
    """
    messages = example.input.messages
    roles = tuple([message.role for message in messages])
    ordered = _order_ok.get(roles)
    if ordered is None:
        ordered = roles_in_order(roles)
        if len(_order_ok) < _ORDER_CACHE_LIMIT:
            _order_ok[roles] = ordered
    if not ordered:
        return None

    preferred = example.preferred_output
    non_preferred = example.non_preferred_output
    if len(preferred) != 1 or len(non_preferred) != 1:
        return None
    answer = preferred[0].content
    other = non_preferred[0].content
    if not answer or answer.isspace() or not other or other.isspace():
        return None

    tools = example.input.tools
    tools = tools if tools is not msgspec.UNSET else None
    contents = [message.content for message in messages]
    return _facts(roles, contents, answer, other, tools)


def facts_of_dict(example):
    """facts_of() for an example that passed the detailed checks, as parsed JSON."""
    prompt = example["input"]
    messages = prompt["messages"]
    roles = tuple([message["role"] for message in messages])
    contents = [message["content"] for message in messages]
    answer = example["preferred_output"][0]["content"]
    other = example["non_preferred_output"][0]["content"]
    return _facts(roles, contents, answer, other, prompt.get("tools"))


def _facts(roles, contents, answer, other, tools):
    return (
        example_key(roles, contents, answer, other, tools),
        sum(map(len, contents)),
        len(answer),
        len(other),
        len(roles),
        roles[0] == "system",
        bool(tools),
        answer.strip() == other.strip(),
    )


def roles_in_order(roles):
    """An optional system message, then user, assistant, ..., ending with user."""
    turns = roles[1:] if roles and roles[0] == "system" else roles
    return (
        len(turns) % 2 == 1
        and all(role == "user" for role in turns[0::2])
        and all(role == "assistant" for role in turns[1::2])
    )


def example_key(roles, contents, answer, other, tools):
    """A 64-bit key of an example's content: equal examples get equal keys.

    Python's own hash (SipHash, seeded per process) is the fastest 64-bit hash at
    hand; one validation runs in one process, so its seed does not matter. An empty
    tools list offers no tools, so it counts as none.
    """
    tools_text = msgspec.json.encode(tools, order="sorted") if tools else b""
    return hash((roles, *contents, answer, other, tools_text)) & 0xFFFF_FFFF_FFFF_FFFF


def to_dict(example):
    return msgspec.to_builtins(example)
