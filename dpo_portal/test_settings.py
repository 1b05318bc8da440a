"""Settings for the test suite: its own data folder and its own Redis database, so
tests never touch a running portal's files or queues."""

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DPO_DATA_DIR", str(_ROOT / "data" / "test"))
os.environ.setdefault(
    "REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
)
os.environ.setdefault("DPO_BASE_MODELS_DIR", str(_ROOT / "data" / "base_models"))
os.environ.setdefault(
    "DATABASE_URL", f"sqlite:///{_ROOT / 'data' / 'test' / 'portal.sqlite3'}"
)

from dpo_portal.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DPO_HEARTBEAT_SECONDS = 1
# Lost workers are noticed in seconds, not a minute, so the tests stay short.
DPO_LOST_AFTER_SECONDS = 4
DPO_RECONCILE_SECONDS = 1
DPO_PENDING_GRACE_SECONDS = 0
DPO_STEP_DELAY_SECONDS = float(os.environ.get("DPO_STEP_DELAY_SECONDS", "0"))
