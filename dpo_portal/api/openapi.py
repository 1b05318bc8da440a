"""The OpenAPI 3 schema of the REST API, built from one table of operations and
from DpoParams itself, so every training option documents its own range and help."""

from dataclasses import fields

from django.conf import settings
from django.http import JsonResponse

from datasets_app.models import Dataset
from dpo_portal.api.shapes import LOSS_PARAMS, TRAINING_PARAMS, camel
from jobs_app import states
from jobs_app.params import DpoParams

ROOT = "/v1/accounts/{account}"
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _param_schema(spec):
    meta = spec.metadata
    schema = {"type": JSON_TYPES[spec.type], "description": meta["help"]}
    schema["default"] = spec.default
    if meta["choices"]:
        schema["enum"] = list(meta["choices"])
    if meta["low"] is not None:
        schema["minimum"] = meta["low"]
        if meta["low_open"]:
            schema["exclusiveMinimum"] = True  # OpenAPI 3.0: a flag on minimum
    if meta["high"] is not None:
        schema["maximum"] = meta["high"]
    return schema


def _params(names):
    specs = {spec.name: spec for spec in fields(DpoParams)}
    return {camel(name): _param_schema(specs[name]) for name in names}


def _obj(properties, required=()):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


STRING = {"type": "string"}
INT = {"type": "integer"}
TIME = {"type": "string", "format": "date-time", "nullable": True}

SCHEMAS = {
    "Error": _obj(
        {
            "error": _obj(
                {
                    "code": STRING,
                    "message": STRING,
                    "details": {
                        "type": "array",
                        "items": _obj({"field": STRING, "message": STRING}),
                    },
                },
                ["code", "message", "details"],
            )
        },
        ["error"],
    ),
    "Empty": _obj({}),
    "Dataset": _obj(
        {
            "name": {**STRING, "example": "accounts/acme/datasets/prefs"},
            "datasetId": STRING,
            "displayName": STRING,
            "state": {"type": "string", "enum": [s for s, _ in Dataset.STATES]},
            "userUploaded": _obj({}),
            "exampleCount": {**INT, "nullable": True},
            "declaredExampleCount": {**INT, "nullable": True},
            "fileName": STRING,
            "sizeBytes": {**INT, "nullable": True},
            "sha256": STRING,
            "errorCount": {**INT, "nullable": True},
            "warningCount": {**INT, "nullable": True},
            "validationProgress": _obj(
                {"bytesDone": INT, "bytesTotal": INT, "percent": INT}
            ),
            "validationError": STRING,
            "createTime": TIME,
            "updateTime": TIME,
            "validateTime": TIME,
        }
    ),
    "CreateDatasetRequest": _obj(
        {
            "datasetId": {**STRING, "description": "1-63 of a-z, 0-9, -; letter first"},
            "dataset": _obj(
                {
                    "userUploaded": _obj({}),
                    "exampleCount": {
                        **INT,
                        "description": "Examples the file will hold; a mismatch "
                        "makes validation fail.",
                    },
                    "displayName": STRING,
                }
            ),
        },
        ["datasetId"],
    ),
    "UploadEndpoint": _obj(
        {
            "dataset": STRING,
            "protocol": {"type": "string", "enum": ["tus"]},
            "tusResumable": STRING,
            "uploadUrl": STRING,
            "metadata": {"type": "object", "additionalProperties": STRING},
            "headers": {"type": "object", "additionalProperties": STRING},
            "maxBytes": INT,
            "chunkBytes": INT,
        }
    ),
    "ValidationReport": _obj(
        {
            "dataset": STRING,
            "state": STRING,
            "valid": {"type": "boolean", "nullable": True},
            "validationError": STRING,
            "report": {"type": "object", "nullable": True},
            "tokenStats": {
                "type": "object",
                "description": "Token lengths per base model name (prompt_tokens, "
                "preferred_tokens, non_preferred_tokens: min, max, mean, p50, p95; "
                "pairs, job), counted by a job's VALIDATING step on that model.",
                "additionalProperties": {"type": "object"},
            },
        }
    ),
    "TrainingConfig": _obj(
        {
            "baseModel": {
                **STRING,
                "description": "A model ID, accounts/shared/models/ID for a shared "
                "base model, or accounts/{account}/models/ID to warm start.",
            },
            "outputModel": {
                **STRING,
                "description": "The fine-tuned model's ID (or full name). Left "
                "out: <dataset>-dpo, with -2, -3, ... when that is taken.",
            },
            **_params(TRAINING_PARAMS),
        }
    ),
    "CreateDpoJobRequest": _obj(
        {
            "dpoJobId": {**STRING, "description": "Generated when left out."},
            "dataset": {**STRING, "description": "ID or full name of a READY dataset."},
            "trainingConfig": ref("TrainingConfig"),
            **_params(LOSS_PARAMS),
        },
        ["dataset", "trainingConfig"],
    ),
    "DpoJob": _obj(
        {
            "name": {**STRING, "example": "accounts/acme/dpoJobs/dpo-1a2b3c4d"},
            "dpoJobId": STRING,
            "state": {"type": "string", "enum": [s for s, _ in states.CHOICES]},
            "dataset": STRING,
            "trainingConfig": ref("TrainingConfig"),
            **_params(LOSS_PARAMS),
            "progress": _obj(
                {
                    "step": INT,
                    "totalSteps": {**INT, "nullable": True},
                    "percent": INT,
                    "epoch": {"type": "number"},
                    "tokensSeen": INT,
                    "etaSeconds": {**INT, "nullable": True},
                }
            ),
            "latestMetrics": {
                "type": "object",
                "description": "The trainer's last logged values under its own "
                "names (loss, rewards/margins, ...).",
            },
            "fineTunedModel": {**STRING, "nullable": True},
            "failureReason": STRING,
            "device": STRING,
            "createdBy": {**STRING, "nullable": True},
            "createTime": TIME,
            "startTime": TIME,
            "endTime": TIME,
            "updateTime": TIME,
            "heartbeatTime": TIME,
            "done": {"type": "boolean"},
        }
    ),
    "Model": _obj(
        {
            "name": STRING,
            "modelId": STRING,
            "displayName": STRING,
            "kind": {"type": "string", "enum": ["BASE", "FINE_TUNED"]},
            "baseModel": {**STRING, "nullable": True},
            "contextLength": {**INT, "nullable": True},
            "sizeBytes": {**INT, "nullable": True},
            "dpoJob": {**STRING, "nullable": True},
            "createTime": TIME,
        }
    ),
    "Metric": _obj(
        {
            "step": INT,
            "epoch": {"type": "number"},
            "values": {"type": "object", "additionalProperties": {"type": "number"}},
            "createTime": TIME,
        }
    ),
    "Event": _obj(
        {
            "createTime": TIME,
            "level": {"type": "string", "enum": ["INFO", "WARNING", "ERROR"]},
            "message": STRING,
            "data": {"type": "object", "nullable": True},
        }
    ),
}


def _list_schema(key, item):
    return _obj(
        {
            key: {"type": "array", "items": ref(item)},
            "nextPageToken": {**STRING, "description": "Empty on the last page."},
            "totalSize": INT,
        }
    )


for _key, _item in [
    ("datasets", "Dataset"),
    ("dpoJobs", "DpoJob"),
    ("models", "Model"),
    ("metrics", "Metric"),
    ("events", "Event"),
]:
    SCHEMAS[f"List{_key[0].upper()}{_key[1:]}"] = _list_schema(_key, _item)


def _path_param(name, description):
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": STRING,
        "description": description,
    }


def _query(name, description, schema=None):
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema or STRING,
        "description": description,
    }


PAGING = [
    _query("pageSize", "Items per page.", {"type": "integer", "minimum": 1}),
    _query("pageToken", "The nextPageToken of the previous page."),
]
PATH_PARAMS = {
    "account": "The account's ID.",
    "dataset": "The dataset's ID.",
    "job": "The DPO job's ID.",
    "model": "The model's ID.",
}

# (path under ROOT, method, operationId, summary, request schema, answer schema, query)
OPERATIONS = [
    (
        "/datasets",
        "get",
        "listDatasets",
        "List datasets.",
        None,
        "ListDatasets",
        PAGING + [_query("state", "Only datasets in this state.")],
    ),
    (
        "/datasets",
        "post",
        "createDataset",
        "Create a dataset entry; then send its file with :upload or tus.",
        "CreateDatasetRequest",
        "Dataset",
        [],
    ),
    ("/datasets/{dataset}", "get", "getDataset", "Get a dataset.", None, "Dataset", []),
    (
        "/datasets/{dataset}",
        "delete",
        "deleteDataset",
        "Delete a dataset no job uses.",
        None,
        "Empty",
        [],
    ),
    (
        "/datasets/{dataset}:upload",
        "post",
        "uploadDataset",
        "Upload the dataset's file as multipart/form-data field 'file'.",
        "multipart",
        "Dataset",
        [],
    ),
    (
        "/datasets/{dataset}:getUploadEndpoint",
        "post",
        "getUploadEndpoint",
        "Where and how to send a large file with the tus resumable protocol.",
        "UploadEndpointRequest",
        "UploadEndpoint",
        [],
    ),
    (
        "/datasets/{dataset}:validationReport",
        "get",
        "getValidationReport",
        "The validator's report: errors with line and field, warnings, statistics.",
        None,
        "ValidationReport",
        [],
    ),
    (
        "/dpoJobs",
        "get",
        "listDpoJobs",
        "List DPO jobs.",
        None,
        "ListDpoJobs",
        PAGING + [_query("state", "Only jobs in this state, e.g. JOB_STATE_RUNNING.")],
    ),
    (
        "/dpoJobs",
        "post",
        "createDpoJob",
        "Create and queue a DPO job.",
        "CreateDpoJobRequest",
        "DpoJob",
        [],
    ),
    (
        "/dpoJobs/{job}",
        "get",
        "getDpoJob",
        "Get a DPO job: state, progress, latest metrics, output model.",
        None,
        "DpoJob",
        [],
    ),
    (
        "/dpoJobs/{job}",
        "delete",
        "deleteDpoJob",
        "Delete a finished DPO job.",
        None,
        "Empty",
        [],
    ),
    (
        "/dpoJobs/{job}:cancel",
        "post",
        "cancelDpoJob",
        "Cancel a pending or running job.",
        None,
        "DpoJob",
        [],
    ),
    (
        "/dpoJobs/{job}/metrics",
        "get",
        "listDpoJobMetrics",
        "The trainer's metrics by step; format=jsonl exports all as JSON lines.",
        None,
        "ListMetrics",
        PAGING
        + [
            _query(
                "format",
                "json (paged) or jsonl (all).",
                {"type": "string", "enum": ["json", "jsonl"]},
            )
        ],
    ),
    (
        "/dpoJobs/{job}/events",
        "get",
        "listDpoJobEvents",
        "The job's events.",
        None,
        "ListEvents",
        PAGING,
    ),
    (
        "/models",
        "get",
        "listModels",
        "List the account's fine-tuned models and the shared base models.",
        None,
        "ListModels",
        PAGING,
    ),
    ("/models/{model}", "get", "getModel", "Get a model.", None, "Model", []),
    (
        "/models/{model}",
        "delete",
        "deleteModel",
        "Delete a fine-tuned model no job builds on.",
        None,
        "Empty",
        [],
    ),
]

SCHEMAS["UploadEndpointRequest"] = _obj(
    {"fileName": {**STRING, "description": "Sent on as tus filename metadata."}}
)

ERRORS = {
    "400": "The request is invalid; details name the fields.",
    "401": "No valid API key.",
    "403": "The key's user may only view this account.",
    "404": "No such resource in the user's accounts.",
    "409": "The resource's state does not allow this, or the ID is taken.",
}


def _request_body(name):
    if name == "multipart":
        schema = _obj({"file": {"type": "string", "format": "binary"}}, ["file"])
        return {
            "required": True,
            "content": {"multipart/form-data": {"schema": schema}},
        }
    return {
        "required": name != "UploadEndpointRequest",
        "content": {"application/json": {"schema": ref(name)}},
    }


def _operation(path, operation_id, summary, request, answer, query):
    names = ["account"] + [
        part[1:].split("}")[0] for part in path.split("/") if part.startswith("{")
    ]
    responses = {
        "200": {
            "description": "OK",
            "content": {"application/json": {"schema": ref(answer)}},
        }
    }
    for status, text in ERRORS.items():
        responses[status] = {
            "description": text,
            "content": {"application/json": {"schema": ref("Error")}},
        }
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [_path_param(n, PATH_PARAMS[n]) for n in names] + query,
        "responses": responses,
    }
    if request:
        operation["requestBody"] = _request_body(request)
    return operation


def build_schema():
    paths = {}
    for path, method, operation_id, summary, request, answer, query in OPERATIONS:
        paths.setdefault(ROOT + path, {})[method] = _operation(
            path, operation_id, summary, request, answer, query
        )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "DPO portal API",
            "version": "1",
            "description": "Datasets, DPO jobs and models of the DPO portal. "
            "Authenticate with 'Authorization: Bearer <API key>'. Errors are "
            '{"error": {"code", "message", "details"}}.',
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }


def schema_view(request):
    schema = build_schema()
    schema["info"]["x-maxApiUploadBytes"] = settings.DPO_API_UPLOAD_MAX_BYTES
    return JsonResponse(schema)
