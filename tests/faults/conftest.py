"""pytest configuration for tests/faults (see run.sh for how the suites are run)."""

from __future__ import annotations

import os
import sys

from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

settings.register_profile(
    "faults",
    max_examples=int(os.environ.get("FAULTS_HYPOTHESIS_EXAMPLES", "1500")),
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("faults")
