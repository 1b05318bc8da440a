"""`manage.py cleanup_uploads`: delete expired unfinished uploads and their files.

Safe to run periodically (cron, a systemd timer): it removes the rows and partial
files of uploads whose Upload-Expires has passed, the rows of terminated uploads,
and partial files that no upload row knows (left by a crash).
"""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from datasets_app.models import Upload


class Command(BaseCommand):
    help = (
        "Delete expired unfinished uploads, terminated uploads and stray partial files."
    )

    def handle(self, *args, **options):
        expired = Upload.objects.filter(
            state=Upload.STATE_ACTIVE, expires_at__lte=timezone.now()
        )
        removed = 0
        for upload in expired:
            upload.part_path.unlink(missing_ok=True)
            upload.delete()
            removed += 1
        terminated, _ = Upload.objects.filter(state=Upload.STATE_TERMINATED).delete()
        strays = self._remove_stray_files()

        self.stdout.write(
            f"Removed {removed} expired upload(s), {terminated} terminated "
            f"upload row(s) and {strays} stray partial file(s)."
        )

    def _remove_stray_files(self):
        folder = settings.DATA_DIR / "uploads"
        if not folder.is_dir():
            return 0
        known = set(
            Upload.objects.filter(state=Upload.STATE_ACTIVE).values_list(
                "upload_id", flat=True
            )
        )
        # A file younger than an hour may belong to an upload created just now.
        cutoff = timezone.now().timestamp() - 3600
        removed = 0
        for part in folder.glob("*.part"):
            if part.stem not in known and part.stat().st_mtime < cutoff:
                part.unlink(missing_ok=True)
                removed += 1
        return removed
