"""keras_drifa.recalibrate_batch_norm and the BatchNormRecalibration callback."""

import keras
import numpy as np
import pytest
from drifa_testing import RUN_EAGERLY

import keras_drifa
from keras_drifa.callbacks import BatchNormRecalibration
from keras_drifa.training import paper_schedule


def dense_bn(momentum=0.9):
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(3, name="dense")(inputs)
    normalised = keras.layers.BatchNormalization(momentum=momentum, name="bn")(hidden)
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(normalised)
    return keras.Model(inputs, outputs)


def _x(n=70, seed=0):
    return (np.random.default_rng(seed).normal(size=(n, 4)) * 3 + 1).astype("float32")


def _statistics(model):
    bn = model.get_layer("bn")
    return [keras.ops.convert_to_numpy(v) for v in (bn.moving_mean, bn.moving_variance)]


def test_statistics_are_the_mean_of_whole_batch_statistics():
    model, x = dense_bn(), _x()
    trainable = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert keras_drifa.recalibrate_batch_norm(model, x, batch_size=16) == 1
    kernel, bias = model.get_layer("dense").get_weights()
    # 70 examples in batches of 16: four whole batches, the last 6 examples unused.
    batches = (x[:64] @ kernel + bias).reshape(4, 16, 3)
    mean, variance = _statistics(model)
    np.testing.assert_allclose(mean, batches.mean(axis=1).mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(variance, batches.var(axis=1).mean(axis=0), rtol=1e-4, atol=1e-5)
    # No weight other than the statistics changed.
    for before, after in zip(trainable, model.trainable_weights):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(after))


def test_frozen_layers_and_bad_arguments():
    model = dense_bn()
    model.get_layer("bn").trainable = False
    before = _statistics(model)
    assert keras_drifa.recalibrate_batch_norm(model, _x()) == 0
    for b, a in zip(before, _statistics(model)):
        np.testing.assert_array_equal(b, a)
    with pytest.raises(ValueError, match=r"recalibrate_batch_norm: `batch_size` must be an integer >= 1"):
        keras_drifa.recalibrate_batch_norm(model, _x(), batch_size=0)
    with pytest.raises(ValueError, match=r"recalibrate_batch_norm: input 'x' has 1 NaN"):
        x = _x()
        x[3, 1] = np.nan
        keras_drifa.recalibrate_batch_norm(model, x)
    with pytest.raises(ValueError, match=r"recalibrate_batch_norm: `x` has 2 array\(s\); expected 1"):
        keras_drifa.recalibrate_batch_norm(model, [_x(), _x()])


def test_callback_recalibrates_before_each_validation_and_at_the_end(monkeypatch):
    from keras_drifa.callbacks import batch_norm_recalibration

    calls = []
    recalibrate = batch_norm_recalibration.recalibrate_batch_norm

    def counting(model, x, batch_size):
        calls.append(batch_size)
        return recalibrate(model, x, batch_size=batch_size)

    monkeypatch.setattr(batch_norm_recalibration, "recalibrate_batch_norm", counting)
    model, x = dense_bn(momentum=0.99), _x(64)
    y = keras.utils.to_categorical(np.arange(64) % 2, 2)
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=RUN_EAGERLY)
    model.fit(x, y, validation_data=(x, y), epochs=2, batch_size=16, verbose=0,
              callbacks=[BatchNormRecalibration(x[:32], batch_size=8)])
    assert calls == [8, 8, 8]  # two validations, then the end of training
    # The statistics kept are those of the final weights on the recalibration data.
    after_fit = _statistics(model)
    recalibrate(model, x[:32], batch_size=8)
    for a, b in zip(after_fit, _statistics(model)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def dense_bn_mc(name):
    from keras_drifa.layers import MCDropout

    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3)(inputs))
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(MCDropout(0.2)(hidden))
    return keras.Model(inputs, outputs, name=name)


def test_ensembles_recalibrate_every_member_also_in_the_callback():
    members = [dense_bn_mc("a"), dense_bn_mc("b")]
    ensemble = keras_drifa.MCDropoutEnsemble(members)
    x = _x(64)
    assert keras_drifa.recalibrate_batch_norm(ensemble, x[:32], batch_size=8) == 2
    for member in members:
        alone = keras.models.clone_model(member)
        alone.set_weights(member.get_weights())
        keras_drifa.recalibrate_batch_norm(alone, x[:32], batch_size=8)
        for a, b in zip(_statistics(member), _statistics(alone)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    y = keras.utils.to_categorical(np.arange(64) % 2, 2)
    ensemble.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=RUN_EAGERLY)
    history = ensemble.fit(
        x, y, validation_data=(x, y), epochs=2, batch_size=16, verbose=0,
        callbacks=paper_schedule(x[:32], batch_size=8),
    )
    assert len(history.history["val_loss"]) == 2


def test_a_data_set_or_generator_is_refused_with_what_to_pass():
    from keras_drifa.data import MultimodalDataset

    model, x = dense_bn(), _x(8)
    dataset = MultimodalDataset({"x": x}, {"out": keras.utils.to_categorical(np.arange(8) % 2, 2)},
                                batch_size=4)
    for stream, kind in ((dataset, "MultimodalDataset"), ((b for b in [x]), "generator")):
        with pytest.raises(
            ValueError,
            match=rf"recalibrate_batch_norm: `x` is a {kind}, a stream of batches; expected the "
            r"input arrays themselves, one per input \['x'\]",
        ):
            keras_drifa.recalibrate_batch_norm(model, stream)
