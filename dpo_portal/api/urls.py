"""The REST API's URLs: `/v1/accounts/{account}/...`, with custom verbs after a
colon (`datasets/{id}:upload`) as the hosted platforms write them."""

from django.urls import path, re_path, register_converter

from dpo_portal.api import datasets, jobs, models, openapi
from dpo_portal.api.endpoint import api_not_found, route


class SegmentConverter:
    """One path segment without a colon, so `{id}:verb` splits at the colon."""

    regex = "[^/:]+"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(SegmentConverter, "seg")

A = "accounts/<seg:account>"

urlpatterns = [
    path("openapi.json", openapi.schema_view, name="api_schema"),
    path(
        f"{A}/datasets",
        route(GET=datasets.list_datasets, POST=datasets.create),
        name="api_datasets",
    ),
    path(
        f"{A}/datasets/<seg:dataset_id>",
        route(GET=datasets.get, DELETE=datasets.delete),
        name="api_dataset",
    ),
    path(f"{A}/datasets/<seg:dataset_id>:upload", route(POST=datasets.upload)),
    path(
        f"{A}/datasets/<seg:dataset_id>:getUploadEndpoint",
        route(POST=datasets.upload_endpoint),
    ),
    path(
        f"{A}/datasets/<seg:dataset_id>:validationReport",
        route(GET=datasets.validation_report),
    ),
    path(f"{A}/dpoJobs", route(GET=jobs.list_jobs, POST=jobs.create), name="api_jobs"),
    path(
        f"{A}/dpoJobs/<seg:job_id>",
        route(GET=jobs.get, DELETE=jobs.delete),
        name="api_job",
    ),
    path(f"{A}/dpoJobs/<seg:job_id>:cancel", route(POST=jobs.cancel)),
    path(f"{A}/dpoJobs/<seg:job_id>/metrics", route(GET=jobs.metrics)),
    path(f"{A}/dpoJobs/<seg:job_id>/events", route(GET=jobs.events)),
    path(f"{A}/models", route(GET=models.list_models), name="api_models"),
    path(
        f"{A}/models/<seg:model_id>",
        route(GET=models.get, DELETE=models.delete),
        name="api_model",
    ),
    # [\s\S], not ".": a path with an encoded newline in it is still an API path.
    re_path(r"^[\s\S]*$", api_not_found),
]
