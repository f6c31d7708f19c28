"""`keras_drifa.distributed.setup()` and `Cluster` in one process on one device (cheap).

Several devices and processes: test_jax.py, test_tensorflow.py, test_torch.py.
"""

import keras
import pytest

import keras_drifa
from keras_drifa.distributed import cluster as cluster_module

BACKEND = keras.backend.backend()


@pytest.fixture
def fresh(monkeypatch):
    """setup() may run once per process: give each test a process not yet set up."""
    monkeypatch.setattr(cluster_module, "_current", None)
    for name in ("WORLD_SIZE", "RANK", "KERAS_DISTRIBUTION_NUM_PROCESSES", "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    yield
    if BACKEND == "jax" and keras.distribution.distribution() is not None:
        keras.distribution.set_distribution(None)


def test_one_device_changes_nothing(fresh):
    cluster = keras_drifa.distributed.setup()
    assert keras_drifa.distributed.current() is cluster
    assert (cluster.backend, cluster.num_processes, cluster.process_index) == (BACKEND, 1, 0)
    assert cluster.engine == keras_drifa.distributed.ENGINES[BACKEND]
    assert cluster.is_chief and cluster.data_shard is None
    assert cluster.process_batch_size(8) == 8
    cluster.barrier()
    with cluster.scope():
        model = keras_drifa.build_model(
            2, (16, 16, 3), 3, widths=(4,), blocks_per_stage=(1,)
        )
    if BACKEND == "jax":
        assert keras.distribution.distribution() is None  # no distribution was set
    # Built, not called: a call would check nothing the one-device model tests do not,
    # and eager JAX compiles each op (11 s).
    assert tuple(model.output.shape) == (None, 3)
    assert "process 0 of 1" in repr(cluster)


def test_setup_runs_once_per_process(fresh):
    keras_drifa.distributed.setup()
    with pytest.raises(RuntimeError, match="already set up"):
        keras_drifa.distributed.setup()


def test_current_is_none_before_setup(fresh):
    assert keras_drifa.distributed.current() is None


@pytest.mark.parametrize("batch,message", [(6, "not a multiple"), (0, "integer >= 1")])
def test_process_batch_size_needs_a_multiple_of_the_replicas(batch, message):
    cluster = cluster_module.Cluster(BACKEND, 2, 1, 4, None)
    assert cluster.process_batch_size(8) == 4 and cluster.data_shard == (1, 2)
    assert not cluster.is_chief
    with pytest.raises(ValueError, match=message):
        cluster.process_batch_size(batch)


@pytest.mark.skipif(BACKEND == "jax", reason="the arguments are JAX's: refused elsewhere")
def test_jax_arguments_refused_on_other_backends(fresh):
    with pytest.raises(ValueError, match="are for JAX"):
        keras_drifa.distributed.setup(num_processes=2)


@pytest.mark.skipif(BACKEND == "tensorflow", reason="TensorFlow reads no launcher variable")
def test_a_launcher_variable_that_is_not_an_integer_is_named(fresh, monkeypatch):
    name = "WORLD_SIZE" if BACKEND == "torch" else "KERAS_DISTRIBUTION_NUM_PROCESSES"
    monkeypatch.setenv(name, "two")
    with pytest.raises(ValueError, match=f"{name}='two' is not an integer"):
        keras_drifa.distributed.setup()
