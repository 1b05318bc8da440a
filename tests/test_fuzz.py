"""Fuzzing with hypothesis: malformed JSON, odd unicode, huge numbers and deep
nesting, at the validator and at the API. Never a crash or a 500: a clear error."""

import json
import os

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import example as also_try
from hypothesis import strategies as st

from datasets_app.validation import validate_file
from tests.api_world import base_model, ready_dataset
from tests.helpers import example
from tests.live import *  # noqa: F403

# The same inputs on every run unless FUZZ_EXAMPLES asks for a longer, random hunt
# by hand: a test run that changed nothing should not fail on a new draw.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")),
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KEYS = [
    "input",
    "messages",
    "role",
    "content",
    "tools",
    "preferred_output",
    "non_preferred_output",
    "datasetId",
    "dataset",
    "trainingConfig",
    "exampleCount",
    "displayName",
    "beta",
    "loraRank",
    "baseModel",
    "outputModel",
    "dpoJobId",
    "learningRate",
]
# Any code point, lone surrogates included (they reach files as invalid UTF-8).
ODD_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(10**4000),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, ODD_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(ODD_TEXT, st.sampled_from(KEYS)), inner, max_size=5),
    ),
    max_leaves=20,
)
HUGE_NUMBER = b'{"datasetId": "x", "dataset": {"exampleCount": 1' + b"0" * 5000 + b"}}"


def nested(depth, opener="[", closer="]"):
    return opener * depth + closer * depth


def encoded(value):
    """JSON text of any value, as bytes; lone surrogates become invalid UTF-8."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def mutated_example(draw):
    row = example()
    path = draw(st.sampled_from(["input", "preferred_output", "non_preferred_output"]))
    row[path] = draw(JSON_VALUES)
    return row


LINES = st.one_of(
    JSON_VALUES.map(encoded),
    st.binary(max_size=60),
    st.builds(lambda d: nested(d).encode(), st.integers(1, 5000)),
    st.builds(lambda d: ('{"input":' * d).encode(), st.integers(1, 5000)),
    st.composite(lambda draw: encoded(mutated_example(draw)))(),
    st.just(encoded(example())),
)


@pytest.fixture
def jsonl_file(tmp_path):
    return tmp_path / "fuzz.jsonl"


@FUZZ
@given(lines=st.lists(LINES, min_size=0, max_size=8))
@also_try(lines=[b"\n", b"\n\x00"])  # found by CI: lines that hold newlines
def test_the_validator_reports_every_odd_file_without_crashing(jsonl_file, lines):
    content = b"\n".join(lines) + b"\n"
    jsonl_file.write_bytes(content)

    report = validate_file(jsonl_file)

    # A drawn line may hold newlines itself: count the file's physical lines.
    physical_lines = content.count(b"\n")
    assert report.valid == (report.error_count == 0)
    for error in report.errors:
        assert isinstance(error["message"], str) and error["message"]
        assert error["line"] is None or 1 <= error["line"] <= physical_lines
    json.dumps(report.to_dict())  # it is stored as JSON


@pytest.mark.parametrize(
    "line",
    [
        nested(100_000).encode(),
        b'{"input": ' * 100_000,
        b'{"input": {"messages": [{"role": "user", "content": 1'
        + b"0" * 5000
        + b"}]}}",
        b'{"input": {"messages": [{"role": "user", "content": "\\ud800"}]}}',
        b'{"input": {"messages": [{"role": "user", "content": "'
        + b"\xed\xa0\x80"
        + b'"}]}}',
        b'{"input": NaN, "preferred_output": Infinity}',
    ],
)
def test_the_validator_names_the_problem_of_a_hostile_line(jsonl_file, line):
    jsonl_file.write_bytes(line + b"\n")

    report = validate_file(jsonl_file, min_examples=1)

    assert not report.valid
    assert any(error["line"] == 1 for error in report.errors)


@pytest.fixture
def api(cast):
    """A client that calls the API with the owner's key, in this process."""
    client = Client(headers={"Authorization": f"Bearer {cast.owner.key}"})
    ready_dataset(cast.account)
    base_model()
    return client


def assert_clear_error_or_success(response):
    assert response.status_code < 500, response.content[:500]
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["message"]


BODIES = st.one_of(
    JSON_VALUES.map(encoded),
    st.binary(max_size=80),
    st.builds(lambda d: nested(d).encode(), st.integers(1, 100_000)),
    st.builds(lambda d: nested(d, '{"a":', "}").encode(), st.integers(1, 50_000)),
    st.just(HUGE_NUMBER),
    st.just(b'{"datasetId": "x", "dataset": {"exampleCount": NaN}}'),
)


@pytest.mark.django_db
@FUZZ
@given(body=BODIES)
def test_creating_a_dataset_never_fails_with_a_500(api, body):
    response = api.post(
        "/v1/accounts/owner/datasets", data=body, content_type="application/json"
    )

    assert_clear_error_or_success(response)


@st.composite
def job_bodies(draw):
    body = {
        "dataset": "prefs",
        "trainingConfig": {"baseModel": "tiny-base", "outputModel": "tuned"},
    }
    target = draw(st.sampled_from(["top", "config"]))
    key = draw(st.sampled_from(KEYS + ["epochs", "batchSize", "lossType", "seed"]))
    value = draw(JSON_VALUES)
    (body if target == "top" else body["trainingConfig"])[key] = value
    return encoded(body)


@pytest.mark.django_db
@FUZZ
@given(body=st.one_of(job_bodies(), BODIES))
def test_creating_a_job_never_fails_with_a_500(api, body, redis_queues):
    response = api.post(
        "/v1/accounts/owner/dpoJobs", data=body, content_type="application/json"
    )

    assert_clear_error_or_success(response)


@pytest.mark.django_db
@FUZZ
@given(
    path=st.sampled_from(["/datasets", "/dpoJobs", "/models", "/dpoJobs/x/metrics"]),
    params=st.dictionaries(
        st.sampled_from(["pageSize", "pageToken", "state", "format"]),
        st.one_of(ODD_TEXT, st.integers().map(str)),
        max_size=3,
    ),
)
def test_list_parameters_never_fail_with_a_500(api, path, params):
    safe = {
        k: v.encode("utf-8", "surrogatepass").decode("latin-1")
        for k, v in params.items()
    }

    response = api.get(f"/v1/accounts/owner{path}", safe)

    assert_clear_error_or_success(response)


@pytest.mark.django_db
@FUZZ
@given(segment=ODD_TEXT.filter(lambda s: "/" not in s and s not in ("", ".", "..")))
@also_try(segment=":\n")  # an encoded newline once fell through to the HTML 404
def test_odd_resource_ids_in_urls_are_a_json_404(api, segment):
    from urllib.parse import quote

    quoted = quote(segment.encode("utf-8", "surrogatepass"), safe="")

    response = api.get(f"/v1/accounts/owner/datasets/{quoted}")

    assert_clear_error_or_success(response)
