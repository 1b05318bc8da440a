"""The test settings plus the stand-in bearer-key middleware (tests/stand_in_auth.py),
for the real server process the OpenAI client talks to."""

from dpo_portal.test_settings import *  # noqa: F403
from dpo_portal.test_settings import MIDDLEWARE
from tests.stand_in_auth import middleware_with_stand_in

MIDDLEWARE = middleware_with_stand_in(MIDDLEWARE)
