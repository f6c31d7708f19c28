"""SynchronizedBatchNormalization on one replica: exactly Keras's BatchNormalization.

Across replicas it is tested where the replicas are: tests/distributed/.
"""

import keras
import numpy as np
import pytest
from drifa_reference import to_numpy
from drifa_testing import check_layer_contract

import keras_drifa
from keras_drifa.layers import RobustResidualAttentionBlock, SynchronizedBatchNormalization


def _x(seed=0, shape=(4, 5, 5, 3)):
    return (np.random.default_rng(seed).normal(size=shape) * 2 + 1).astype("float32")


def test_contract():
    check_layer_contract(lambda **kw: SynchronizedBatchNormalization(**kw), _x(), 2, 2)


@pytest.mark.parametrize("training", [True, False])
def test_equals_batch_normalization_on_one_replica(training):
    ours = SynchronizedBatchNormalization(momentum=0.8, epsilon=1e-3)
    keras_bn = keras.layers.BatchNormalization(momentum=0.8, epsilon=1e-3)
    x = _x()
    for layer in (ours, keras_bn):
        layer.build(x.shape)
        layer.set_weights([np.full((3,), v, "float32") for v in (1.5, -0.5, 0.3, 2.0)])
    for _ in range(2):  # the second call normalises after one moving-statistics update
        np.testing.assert_allclose(
            to_numpy(ours(x, training=training)), to_numpy(keras_bn(x, training=training)),
            rtol=1e-5, atol=1e-5,
        )
    for a, b in zip(ours.weights, keras_bn.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-6)
    moved = to_numpy(ours.moving_mean)
    assert (not np.allclose(moved, 0.3)) is training


def test_float16_inputs_give_float16_outputs_with_float32_statistics():
    layer = SynchronizedBatchNormalization(dtype="mixed_float16")
    out = layer(_x(), training=True)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert keras.backend.standardize_dtype(layer.moving_mean.dtype) == "float32"


@pytest.mark.parametrize("argument", [{"axis": 1}, {"synchronized": True}, {"renorm": True}])
def test_unsupported_arguments_are_refused(argument):
    with pytest.raises(ValueError, match=f"{next(iter(argument))}=.* is not supported"):
        SynchronizedBatchNormalization(**argument)


def test_rra_block_and_build_model_use_it_and_keep_the_weights():
    block = RobustResidualAttentionBlock(8, 2, sync_batch_norm=True)
    block.build((None, 8, 8, 4))
    assert all(
        isinstance(bn, SynchronizedBatchNormalization)
        for bn in (block.bn_1, block.bn_2, block.shortcut_bn)
    )
    assert RobustResidualAttentionBlock.from_config(block.get_config()).sync_batch_norm

    kwargs = dict(input_shape=(16, 16, 3), num_classes=(3, 4), widths=(4, 4, 8, 8),
                  blocks_per_stage=(1, 1, 1, 1))
    plain = keras_drifa.build_model(2, **kwargs)
    synced = keras_drifa.build_model(2, sync_batch_norm=True, **kwargs)
    kinds = [type(l) for l in synced.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert kinds and set(kinds) == {SynchronizedBatchNormalization}
    # The same weights, so files move between the two.
    assert [w.path for w in plain.weights] == [w.path for w in synced.weights]
    synced.set_weights(plain.get_weights())
    x = [_x(1, (2, 16, 16, 3)), _x(2, (2, 16, 16, 3))]
    for a, b in zip(plain(x, training=False), synced(x, training=False)):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-6)


def test_build_model_refuses_it_with_another_backbone():
    with pytest.raises(ValueError, match="sync_batch_norm=True applies to the 'drifa' backbone"):
        keras_drifa.build_model(2, (32, 32, 3), 3, backbone="mobilenetv2", sync_batch_norm=True)
    with pytest.raises(ValueError, match="sync_batch_norm"):
        keras_drifa.build_model(2, (32, 32, 3), 3, sync_batch_norm="yes")
