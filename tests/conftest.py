"""Test-session settings shared by every suite.

Under ``CI=true`` hypothesis runs derandomized: the property tests still explore hundreds of
histories, but a CI run cannot fail on an example no one has seen locally. Locally they stay
random, so new examples keep being found (and kept in the example database).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")

pytest_plugins = ["tests.pg_fixture"]
