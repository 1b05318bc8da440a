"""Rows as the API shows them: camelCase fields, resource names like
`accounts/{account}/datasets/{dataset}`, times in RFC 3339 (UTC)."""

from dataclasses import fields

from dpo_portal.api.endpoint import timestamp
from jobs_app import states
from jobs_app.params import DpoParams

# DPO's own loss options stand beside trainingConfig, as the hosted platforms
# put them; every other option lives in trainingConfig.
LOSS_PARAMS = ("beta", "loss_type")
TRAINING_PARAMS = tuple(
    spec.name for spec in fields(DpoParams) if spec.name not in LOSS_PARAMS
)


def camel(name):
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def dataset_shape(dataset):
    return {
        "name": dataset.name,
        "datasetId": dataset.dataset_id,
        "displayName": dataset.display_name,
        "state": dataset.state,
        "userUploaded": {},
        "exampleCount": dataset.example_count
        if dataset.example_count is not None
        else dataset.declared_example_count,
        "declaredExampleCount": dataset.declared_example_count,
        "fileName": dataset.file_name,
        "sizeBytes": dataset.size_bytes,
        "sha256": dataset.sha256,
        "errorCount": dataset.error_count,
        "warningCount": dataset.warning_count,
        "validationProgress": {
            "bytesDone": dataset.validation_bytes_done,
            "bytesTotal": dataset.validation_bytes_total,
            "percent": dataset.validation_percent,
        },
        "validationError": dataset.validation_error,
        "createTime": timestamp(dataset.created_at),
        "updateTime": timestamp(dataset.updated_at),
        "validateTime": timestamp(dataset.validated_at),
    }


def job_shape(job):
    params = DpoParams.from_dict(job.params).to_dict()
    training = {
        "baseModel": job.base_model.name,
        "outputModel": f"accounts/{job.account.account_id}/models/"
        f"{job.output_model_id}",
        **{camel(name): params[name] for name in TRAINING_PARAMS},
    }
    body = {
        "name": job.name,
        "dpoJobId": job.job_id,
        "state": job.state,
        "dataset": job.dataset.name,
        "trainingConfig": training,
        **{camel(name): params[name] for name in LOSS_PARAMS},
        "progress": {
            "step": job.step,
            "totalSteps": job.total_steps,
            "percent": job.percent,
            "epoch": job.epoch,
            "tokensSeen": job.tokens_seen,
            "etaSeconds": job.eta_seconds,
        },
        "latestMetrics": job.latest_metrics,
        "fineTunedModel": job.fine_tuned_model.name if job.fine_tuned_model else None,
        "failureReason": job.failure_reason,
        "device": job.device,
        "createdBy": job.created_by.get_username() if job.created_by else None,
        "createTime": timestamp(job.created_at),
        "startTime": timestamp(job.started_at),
        "endTime": timestamp(job.finished_at),
        "updateTime": timestamp(job.updated_at),
        "heartbeatTime": timestamp(job.heartbeat_at),
        "done": job.state in states.FINAL,
    }
    return body


def model_shape(model):
    job = getattr(model, "made_by_job", None)
    return {
        "name": model.name,
        "modelId": model.model_id,
        "displayName": model.display_name or model.model_id,
        "kind": model.kind,
        "baseModel": model.base.name if model.base_id else None,
        "contextLength": model.context_length,
        "sizeBytes": model.size_bytes,
        "dpoJob": job.name if job else None,
        "createTime": timestamp(model.created_at),
    }


def metric_shape(metric):
    return {
        "step": metric.step,
        "epoch": metric.epoch,
        "values": metric.values,
        "createTime": timestamp(metric.created_at),
    }


def event_shape(event):
    return {
        "createTime": timestamp(event.created_at),
        "level": event.level,
        "message": event.message,
        "data": event.data,
    }
