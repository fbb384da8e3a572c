"""Settings for the test suite: a throw-away data folder, fast hashing, tasks run inline."""

import os
import tempfile

os.environ.setdefault("DEALPILOT_DATA_DIR", tempfile.mkdtemp(prefix="dealpilot-test-"))

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # hashing speed is not under test
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# Per process: parallel test workers must not share import progress through a file cache.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Login throttling needs the request at every authenticate(); the test client's login() and force-free
# helpers do not pass one. tests/test_security.py switches it on where it is under test.
AXES_ENABLED = False
