"""Shared pytest set-up: the backend comes from KERAS_BACKEND (see scripts/test_all_backends.sh)."""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# XLA's CPU code generation at LLVM optimisation level 1 instead of 3. Compilation is most
# of the suite's time on JAX: on a quiet 2-core AVX-512 machine, one run after the other,
# the JAX suite took 635 s at level 1 against 885 s at the default (2026-12-07). The tests
# compare results, not speed, and the suite's models are tiny. Level 0 is not used: it
# miscompiled a tiny DRIFA-Net's jitted gradient (every weight NaN after one Adam step in
# tests/models/test_drifa_net.py::test_compiled_training_and_prediction; finite at levels 1
# and 3). Benchmarks and users keep XLA's default. Subprocesses that tests start inherit it
# (tests/distributed/launch.py keeps it when it sets its own XLA flags); an XLA_FLAGS that
# already names a level wins.
TEST_XLA_FLAGS = "--xla_backend_optimization_level=1"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()

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
