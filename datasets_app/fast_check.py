"""The validator's fast path: typed decoding of the common, valid example.

Most lines of a real dataset are valid examples with no extra keys. msgspec decodes
a whole block of such lines straight into the small typed structs below, checking
types, roles and that no unknown key is present, at several hundred MB/s;
`block_facts()` then checks the rules that types cannot express and takes the
statistics, a column at a time, so that the per-example Python work stays a few
microseconds. Anything the fast path does not accept (an unknown key, a wrong type,
a rule broken) goes to the detailed checks in validation.py, which find and word
every problem; so the fast path only ever says "valid", never "invalid", and its
verdicts agree with the detailed checks.
"""

from dataclasses import dataclass
from operator import attrgetter, eq, itemgetter
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
TOOLS_ENCODER = msgspec.json.Encoder(order="sorted")


@dataclass(frozen=True)
class _Fields:
    """How to reach the parts of an example: typed structs or parsed JSON."""

    input: Any
    messages: Any
    preferred: Any
    non_preferred: Any
    role: Any
    content: Any
    tools: Any


TYPED = _Fields(
    attrgetter("input"),
    attrgetter("messages"),
    attrgetter("preferred_output"),
    attrgetter("non_preferred_output"),
    attrgetter("role"),
    attrgetter("content"),
    attrgetter("tools"),
)
PARSED = _Fields(
    itemgetter("input"),
    itemgetter("messages"),
    itemgetter("preferred_output"),
    itemgetter("non_preferred_output"),
    itemgetter("role"),
    itemgetter("content"),
    lambda prompt: prompt.get("tools"),
)
_first, _second = itemgetter(0), itemgetter(1)


@dataclass
class BlockFacts:
    """What the report needs from a run of valid examples, one list per column."""

    prompt_chars: list
    preferred_chars: list
    non_preferred_chars: list
    turns: list
    with_system: int
    with_tools: int
    identical: list  # positions in the block of pairs with identical outputs
    keys: list  # example_key of each example, for finding duplicates


# Role sequences seen, with (in the right order?, starts with a system message?).
_ORDER_CACHE_LIMIT = 4096
_order_of = {}


def decode_block(block):
    """The examples of a block of complete lines, or None if any line fails typing."""
    # Two copies of the block, not four: most time here goes to the decoding, but
    # the copies showed up in profiles too.
    text = bytearray(b"[")
    text += block
    text = text.replace(b"\n", b",")
    if block.endswith(b"\n"):
        text[-1] = ord("]")
    else:
        text += b"]"
    try:
        return BLOCK_DECODER.decode(text)
    except DECODE_ERRORS:
        return None


def decode_line(line):
    try:
        return LINE_DECODER.decode(line)
    except DECODE_ERRORS:
        return None


def block_facts(examples, fields=TYPED):
    """BlockFacts of a non-empty list of examples, or None if any breaks a rule.

    With `fields=PARSED` it reads examples that passed the detailed checks, as
    parsed JSON; both give the same facts, keys included, for the same content.
    """
    preferred = list(map(fields.preferred, examples))
    non_preferred = list(map(fields.non_preferred, examples))
    if set(map(len, preferred)) != {1} or set(map(len, non_preferred)) != {1}:
        return None
    answers = list(map(fields.content, map(_first, preferred)))
    others = list(map(fields.content, map(_first, non_preferred)))
    # str.strip() hands back the string itself when there is nothing to strip, so
    # this costs a glance at each end, not a copy.
    if not all(map(str.strip, answers)) or not all(map(str.strip, others)):
        return None

    prompts = list(map(fields.input, examples))
    tools = list(map(fields.tools, prompts))
    tool_keys = list(map(_tools_key, tools)) if any(tools) else [b""] * len(tools)
    roles, prompt_chars, keys = _walk_messages(
        map(fields.messages, prompts), answers, others, tool_keys, fields
    )

    verdicts = _role_verdicts(roles)
    if verdicts is None:
        return None
    return BlockFacts(
        prompt_chars=prompt_chars,
        preferred_chars=list(map(len, answers)),
        non_preferred_chars=list(map(len, others)),
        turns=list(map(len, roles)),
        with_system=sum(map(_second, verdicts)),
        with_tools=sum(map(bool, tools)),
        identical=_identical(answers, others),
        keys=keys,
    )


def _walk_messages(messages_column, answers, others, tool_keys, fields):
    """Each example's roles, prompt length and key: the one per-example loop.

    The key of an example is the hash of a tuple of its roles and texts: equal
    examples get equal keys. Python's string hash is seeded per process, which is
    fine: one validation runs in one process, or in parts forked from it. Of the
    hashes at hand it is the fastest here, as it reads a string's characters
    where they are, with no copy or encoding first.
    """
    role, content = fields.role, fields.content
    roles, prompt_chars, keys = [], [], []
    for messages, answer, other, tool_key in zip(
        messages_column, answers, others, tool_keys, strict=True
    ):
        sequence = tuple(map(role, messages))
        contents = list(map(content, messages))
        roles.append(sequence)
        prompt_chars.append(sum(map(len, contents)))
        keys.append(hash((sequence, tool_key, answer, other, *contents)))
    return roles, prompt_chars, keys


def _tools_key(tools):
    # An empty tools list offers no tools, so it counts as none.
    return TOOLS_ENCODER.encode(tools) if tools else b""


def _role_verdicts(roles):
    """(in order, has system) for each role sequence; None if any is out of order."""
    verdicts = list(map(_order_of.get, roles))
    if None in verdicts:
        for sequence in roles:
            if sequence not in _order_of and len(_order_of) < _ORDER_CACHE_LIMIT:
                _order_of[sequence] = _verdict(sequence)
        verdicts = [_order_of.get(sequence) or _verdict(sequence) for sequence in roles]
    if not all(map(_first, verdicts)):
        return None
    return verdicts


def _verdict(roles):
    return roles_in_order(roles), bool(roles) and roles[0] == "system"


def _identical(answers, others):
    same = list(map(eq, map(str.strip, answers), map(str.strip, others)))
    return (
        [position for position, equal in enumerate(same) if equal] if any(same) else []
    )


def roles_in_order(roles):
    """An optional system message, then user, assistant, ..., ending with user."""
    turns = roles[1:] if roles and roles[0] == "system" else roles
    return (
        len(turns) % 2 == 1
        and all(role == "user" for role in turns[0::2])
        and all(role == "assistant" for role in turns[1::2])
    )


def to_dict(example):
    return msgspec.to_builtins(example)
