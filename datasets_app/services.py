"""Creating datasets and taking in their files: one path for the wizard, the demo
and the API, so each behaves the same."""

import hashlib
import os
import shutil

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

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


class DatasetInUse(Exception):
    """The dataset cannot be deleted now; the message says why."""


def delete_dataset(dataset):
    """Delete a dataset's row and files, unless a job uses it.

    An active job reads the file, so deleting it would break the run; a finished
    job keeps its dataset as a record of what it trained on.
    """
    from jobs_app.models import DpoJob
    from jobs_app.states import ACTIVE

    active = DpoJob.objects.filter(dataset=dataset, state__in=ACTIVE)
    if active.exists():
        names = ", ".join(job.job_id for job in active[:5])
        raise DatasetInUse(
            f"Dataset {dataset.dataset_id} is used by an active DPO job ({names}); "
            "cancel the job or wait for it to end, then delete the dataset."
        )
    parts = [upload.part_path for upload in dataset.uploads.all()]
    folder = dataset.folder
    try:
        with transaction.atomic():
            dataset.delete()
    except ProtectedError as protected:
        names = ", ".join(sorted(job.job_id for job in protected.protected_objects))
        raise DatasetInUse(
            f"Dataset {dataset.dataset_id} is the training data of finished DPO "
            f"jobs ({names}); delete those jobs first to delete it."
        ) from None

    for part in parts:
        part.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def record_token_stats(dataset, base_model_name, stats, pairs, job_id):
    """Keep the token lengths a job counted for its base model on the dataset."""
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        locked.token_stats = {
            **locked.token_stats,
            base_model_name: {
                **stats,
                "pairs": pairs,
                "job": job_id,
                "counted_at": timezone.now().isoformat(),
            },
        }
        locked.save(update_fields=["token_stats", "updated_at"])
