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


_EARLY_MODULES = []


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """The tests of modules with early launches (tests/distributed/launch.py) run last."""
    items.sort(key=lambda item: _launches_early(getattr(item, "module", None)))
    modules = {id(m): m for m in (getattr(i, "module", None) for i in items)}
    _EARLY_MODULES[:] = [m for m in modules.values() if _launches_early(m)]


def pytest_runtest_setup(item):
    """When the first of those tests starts, every such module's runs start together
    (each module's `launch_early` returns at once on other backends), so that they share
    the cores with each other only. Started at collection instead, to share them with the
    rest of the suite, they added about twice their own time to `make test`."""
    if _launches_early(getattr(item, "module", None)):
        for module in _EARLY_MODULES:
            module.launch_early()
        _EARLY_MODULES.clear()


def pytest_sessionfinish(session, exitstatus):
    """Kills what the early launches still run (a failed or interrupted session) and
    removes their folders."""
    launch = sys.modules.get("launch")
    if launch is not None:
        launch.stop_all()
