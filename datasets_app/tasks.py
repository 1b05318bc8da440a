"""Work the `default` worker does for datasets."""

import logging
import time

from django.conf import settings
from django.utils import timezone

from datasets_app.models import Dataset
from datasets_app.validation import LineIndex, validate_file

log = logging.getLogger(__name__)


def validate_dataset(dataset_pk):
    dataset = Dataset.objects.select_related("account").get(pk=dataset_pk)
    if dataset.state != Dataset.STATE_VALIDATING:
        log.info("dataset %s is %s; nothing to validate", dataset, dataset.state)
        return

    last_write = 0.0

    def progress(done, total):
        nonlocal last_write
        # Progress is for a person watching: twice a second is plenty.
        if time.monotonic() - last_write < 0.5 and done < total:
            return
        last_write = time.monotonic()
        Dataset.objects.filter(pk=dataset.pk).update(
            validation_bytes_done=done, validation_bytes_total=total
        )

    line_index = LineIndex()
    try:
        report = validate_file(
            dataset.file_path,
            declared_count=dataset.declared_example_count,
            progress=progress,
            min_examples=settings.DPO_MIN_EXAMPLES,
            max_examples=settings.DPO_MAX_EXAMPLES,
            line_index=line_index,
            # The upload hashed the file on arrival; it has not changed since.
            sha256=dataset.sha256 or None,
            workers=settings.DPO_VALIDATION_WORKERS,
        ).to_dict()
        # The paged preview seeks with it, so page 10,000 costs what page 1 does.
        line_index.save(dataset.line_index_path)
    except OSError as exc:
        log.error("dataset %s: cannot read %s: %s", dataset, dataset.file_path, exc)
        Dataset.objects.filter(pk=dataset.pk).update(
            state=Dataset.STATE_INVALID,
            validation_error=f"The file could not be read: {exc}",
            validated_at=timezone.now(),
        )
        return

    state = Dataset.STATE_READY if report["valid"] else Dataset.STATE_INVALID
    Dataset.objects.filter(pk=dataset.pk, state=Dataset.STATE_VALIDATING).update(
        state=state,
        report=report,
        example_count=report["example_count"],
        error_count=report["error_count"],
        warning_count=report["warning_count"],
        sha256=report["sha256"],
        validation_bytes_done=report["bytes"],
        validated_at=timezone.now(),
    )
    log.info(
        "dataset %s: %s, %d examples, %d errors",
        dataset,
        state,
        report["example_count"],
        report["error_count"],
    )
