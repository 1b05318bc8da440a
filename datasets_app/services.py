"""Creating datasets and taking in their files: one path for the wizard, the demo
and the API, so each behaves the same."""

import hashlib
import json
import os

from django.core.exceptions import ValidationError
from django.db import transaction

from datasets_app.models import Dataset
from dpo_portal.ids import check_resource_id
from dpo_portal.queues import enqueue_on_commit


def create_dataset(account, dataset_id, display_name="", user=None, declared=None):
    """A new, empty dataset waiting for its file; ValidationError on a bad ID."""
    check_resource_id(dataset_id, "Dataset ID")
    if Dataset.objects.filter(account=account, dataset_id=dataset_id).exists():
        raise ValidationError(
            f"Dataset ID {dataset_id!r} is already used in account "
            f"{account.account_id}; choose another ID or delete that dataset.",
            code="exists",
        )
    return Dataset.objects.create(
        account=account,
        dataset_id=dataset_id,
        display_name=display_name or dataset_id,
        declared_example_count=declared,
        created_by=user,
    )


class FileRefused(Exception):
    """The dataset no longer takes a file (it is validating, ready or invalid)."""


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while piece := source.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


def take_file(dataset, source, file_name, sha256=None):
    """Move a complete file into the dataset's folder and start its validation.

    The state moves UPLOADING -> VALIDATING in the same transaction as the rename
    within the data folder, so only a dataset that still waits for its file gets
    one, and it never sees a partial file; validation is enqueued once the change
    has committed. Raises FileRefused when the dataset takes no file any more.
    """
    dataset.folder.mkdir(parents=True, exist_ok=True)
    size = os.path.getsize(source)
    sha256 = sha256 or file_sha256(source)

    with transaction.atomic():
        changed = Dataset.objects.filter(
            pk=dataset.pk, state=Dataset.STATE_UPLOADING
        ).update(
            state=Dataset.STATE_VALIDATING,
            file_name=file_name,
            size_bytes=size,
            sha256=sha256,
            validation_bytes_done=0,
            validation_bytes_total=size,
        )
        if not changed:
            raise FileRefused(
                f"Dataset {dataset.dataset_id} already has its file; upload into a "
                "new dataset instead."
            )
        os.replace(source, dataset.file_path)
        enqueue_on_commit("default", "datasets_app.tasks.validate_dataset", dataset.pk)
    dataset.refresh_from_db()
    return dataset


def preview_examples(dataset, limit=5):
    """The first examples of the file, parsed, for showing their roles and content."""
    examples = []
    if not dataset.file_path.exists():
        return examples

    with open(dataset.file_path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            text = raw.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
            if not text:
                continue
            try:
                example = json.loads(text)
            except ValueError:
                continue
            if isinstance(example, dict):
                examples.append({"line": number, **_shown(example)})
            if len(examples) >= limit:
                break
    return examples


def _shown(example):
    def messages(value):
        if not isinstance(value, list):
            return []
        return [
            {"role": str(m.get("role", "?")), "content": str(m.get("content", ""))}
            for m in value
            if isinstance(m, dict)
        ]

    prompt = example.get("input") if isinstance(example.get("input"), dict) else {}
    return {
        "messages": messages(prompt.get("messages")),
        "preferred": messages(example.get("preferred_output")),
        "non_preferred": messages(example.get("non_preferred_output")),
    }
