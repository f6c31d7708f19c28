"""Shared pytest set-up: the backend comes from KERAS_BACKEND (see scripts/test_all_backends.sh)."""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Each test starts from the same random state and the float32 policy."""
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def _launches_early(module):
    return module is not None and callable(getattr(module, "launch_early", None))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """The tests of modules with early launches (tests/distributed/launch.py) run last, so
    that their runs go on in the background while the rest of the suite runs."""
    items.sort(key=lambda item: _launches_early(getattr(item, "module", None)))


def pytest_collection_finish(session):
    """Starts the early launches of the modules that have selected tests (none for
    `--collect-only`); each module's `launch_early` returns at once on other backends."""
    if session.config.option.collectonly:
        return
    modules = {id(m): m for m in (getattr(i, "module", None) for i in session.items)}
    for module in modules.values():
        if _launches_early(module):
            module.launch_early()


def pytest_sessionfinish(session, exitstatus):
    """Kills what the early launches still run (a failed or interrupted session) and
    removes their folders."""
    launch = sys.modules.get("launch")
    if launch is not None:
        launch.stop_all()
