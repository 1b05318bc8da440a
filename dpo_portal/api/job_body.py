"""Reading a create-DPO-job body into the pieces `create_job` takes.

Every option of DpoParams is accepted under its camelCase name: `beta` and
`lossType` at the top level, the rest in `trainingConfig`, with `baseModel` and
`outputModel`. Unknown fields and wrong types are refused by name, never ignored.
"""

from dataclasses import fields

from datasets_app.models import Dataset
from dpo_portal.api.endpoint import is_finite_number
from dpo_portal.api.errors import ApiError
from dpo_portal.api.shapes import LOSS_PARAMS, TRAINING_PARAMS, camel
from jobs_app.models import LanguageModel
from jobs_app.params import DpoParams
from jobs_app.services import suggested_output_model_id

TOP_FIELDS = {"dpoJobId", "dataset", "trainingConfig", "displayName"} | {
    camel(name) for name in LOSS_PARAMS
}
CONFIG_FIELDS = {"baseModel", "outputModel"} | {camel(n) for n in TRAINING_PARAMS}
SPECS = {spec.name: spec for spec in fields(DpoParams)}

# Where each of create_job's field names appears in the body.
BODY_NAMES = {
    "job_id": "dpoJobId",
    "dataset": "dataset",
    "base_model": "trainingConfig.baseModel",
    "output_model_id": "trainingConfig.outputModel",
    **{name: camel(name) for name in LOSS_PARAMS},
    **{name: f"trainingConfig.{camel(name)}" for name in TRAINING_PARAMS},
}


class Problems:
    def __init__(self):
        self.details = []

    def add(self, field, message):
        self.details.append({"field": field, "message": message})

    def raise_if_any(self):
        if self.details:
            summary = "; ".join(f"{d['field']}: {d['message']}" for d in self.details)
            raise ApiError("INVALID_ARGUMENT", summary[:2000], self.details)


def read_job_body(body, account):
    """(job_id or None, dataset, base model, output model ID, DpoParams)."""
    problems = Problems()
    config = body.get("trainingConfig", {})
    if not isinstance(config, dict):
        problems.add("trainingConfig", "must be an object")
        config = {}
    _refuse_unknown(body, TOP_FIELDS, "", problems)
    _refuse_unknown(config, CONFIG_FIELDS, "trainingConfig.", problems)

    job_id = _optional_string(body, "dpoJobId", problems)
    dataset = _dataset(account, body.get("dataset"), problems)
    base_model = _base_model(account, config.get("baseModel"), problems)
    output_model = None
    if config.get("outputModel") is not None:
        output_model = _resource_id(
            config["outputModel"],
            account,
            "models",
            "trainingConfig.outputModel",
            problems,
        )
    elif dataset is not None:
        # As on the form: without one, the first free <dataset>-dpo(-N).
        output_model = suggested_output_model_id(account, dataset)
    values = {}
    for name in LOSS_PARAMS:
        _take_param(body, name, camel(name), values, problems)
    for name in TRAINING_PARAMS:
        _take_param(config, name, f"trainingConfig.{camel(name)}", values, problems)

    problems.raise_if_any()
    return job_id, dataset, base_model, output_model, DpoParams(**values)


def _refuse_unknown(container, known, prefix, problems):
    for key in container:
        if key not in known:
            problems.add(
                f"{prefix}{str(key)[:80]}",
                f"unknown field; accepted: {', '.join(sorted(known))}",
            )


def _optional_string(body, key, problems):
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value or None
    problems.add(key, "must be a string")
    return None


def _resource_id(value, account, collection, field, problems):
    """`x` or `accounts/{account}/{collection}/x` to `x`; None after a problem."""
    if not isinstance(value, str) or not value:
        problems.add(field, f"required: an ID or accounts/{account}/{collection}/ID")
        return None
    parts = value.split("/")
    if len(parts) == 1:
        return value
    if len(parts) == 4 and parts[0] == "accounts" and parts[2] == collection:
        if parts[1] == account.account_id:
            return parts[3]
    problems.add(
        field, f"{value[:200]!r} is not a {collection[:-1]} of account {account}"
    )
    return None


def _dataset(account, value, problems):
    dataset_id = _resource_id(value, account, "datasets", "dataset", problems)
    if dataset_id is None:
        return None
    dataset = Dataset.objects.filter(account=account, dataset_id=dataset_id).first()
    if dataset is None:
        problems.add("dataset", f"dataset {dataset_id[:100]!r} not found in {account}")
    return dataset


def _base_model(account, value, problems):
    field = "trainingConfig.baseModel"
    if not isinstance(value, str) or not value:
        problems.add(field, "required: a model ID or accounts/shared/models/ID")
        return None
    parts = value.split("/")
    candidates = LanguageModel.objects.none()
    if len(parts) == 1:
        # The account's own model (warm start) first, then a shared base model.
        candidates = LanguageModel.objects.filter(
            account=account, model_id=value
        ) or LanguageModel.objects.filter(account__isnull=True, model_id=value)
    elif len(parts) == 4 and parts[0] == "accounts" and parts[2] == "models":
        if parts[1] == "shared":
            candidates = LanguageModel.objects.filter(
                account__isnull=True, model_id=parts[3]
            )
        elif parts[1] == account.account_id:
            candidates = LanguageModel.objects.filter(
                account=account, model_id=parts[3]
            )
    model = candidates.first()
    if model is None:
        problems.add(field, f"model {value[:200]!r} not found; list them at .../models")
    return model


def _take_param(container, name, field, values, problems):
    key = camel(name)
    if key not in container:
        return
    value = container[key]
    kind = SPECS[name].type
    if kind is bool and not isinstance(value, bool):
        problems.add(field, f"must be true or false, not {_shown(value)}")
    elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        problems.add(field, f"must be a whole number, not {_shown(value)}")
    elif kind is float and not is_finite_number(value):
        problems.add(field, f"must be a finite number, not {_shown(value)}")
    elif kind is str and not isinstance(value, str):
        problems.add(field, f"must be a string, not {_shown(value)}")
    elif kind is str and len(value) > 1000:
        problems.add(field, "is longer than 1000 characters")
    elif kind is int and abs(value) > 2**63:
        problems.add(field, "is far out of range")
    else:
        values[name] = float(value) if kind is float else value


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
