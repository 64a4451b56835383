"""Old import names of tests/bundles.py, for tests written on other branches before it existed
(tests/test_recording.py, test_replay_*.py, test_metrics.py, test_backend_run.py import them).
No builder lives here: new tests import `bundles`. Delete this file once no test imports it."""

from bundles import SyntheticBundle, random_obs, stacked_images  # noqa: F401
from bundles import build_synthetic_bundle as build_bundle  # noqa: F401
from bundles import synthetic_spec as tiny_spec  # noqa: F401
