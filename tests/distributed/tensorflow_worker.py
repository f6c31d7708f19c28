"""One TensorFlow process for tests/distributed/test_tensorflow.py: every check of one run.

Logical CPU devices must be configured before TensorFlow initialises, so each device
count is its own process. With `--devices 2` the process calls
`keras_drifa.distributed.setup()` (a `MirroredStrategy` over two logical CPUs) and builds
and compiles every model under `cluster.scope()`; with `--devices 1` it is the one-device
reference: no `setup()`, no scope. Both runs do the same on fixed data, starting from the
weights in `--initial`, and write what the test compares to `--out`. The one-device run
writes those weights first (`write_initial`); the two-device run waits for them.

1. `sgd_{sync,plain}.npz`: every weight (`"{step}/{index}:{path}"`) after each of `STEPS`
   SGD steps of `GLOBAL_BATCH` rows (`fit`, `shuffle=False`), with synchronised and with
   plain batch normalisation.
   `report.json` also gets the plain model's `predict` before and after writing its
   weights back (which copies the first replica's moving statistics to every replica).
2. `model.npz`: for the sync model of 1 given its initial weights back, `evaluate`,
   `predict`, `predict` after `save` / `load_model` (in and outside the scope) and after
   `save_weights` / `load_weights`, and the moving statistics after
   `recalibrate_batch_norm`.
3. (Two devices only.) Two epochs of that model with `paper_schedule`'s callbacks
   (batch-norm recalibration, `ReduceLROnPlateau`, `EarlyStopping`), `GradCAMCallback`
   and validation data: the history and the PNG files written go to `report.json`.
4. `ensemble.npz`: an `MCDropoutEnsemble` trained an epoch (two devices only), given
   its initial weights back, sampled (`predict_uncertainty`, seeded) and explained
   (`GradCAM`, also with MC samples).
5. (Two devices only.) Whether the two replicas of one step draw the same dropout masks.

Usage: python tensorflow_worker.py --devices {1,2} --initial DIR --out DIR
"""

import argparse
import contextlib
import json
import os
import time

import numpy as np

STEPS = 3
GLOBAL_BATCH = 8
LEARNING_RATE = 0.02
SHAPE = (16, 16, 3)
CLASSES = (3, 4)
GRADCAM_LAYERS = ["modality_0_block1", "modality_1_block1"]  # 4x4 maps of 16x16 inputs


def build(sync_batch_norm, dropout_rate=0.0, attention=True):
    import keras_drifa

    return keras_drifa.build_model(
        2, SHAPE, CLASSES, widths=(8,), blocks_per_stage=(1,),
        dropout_rate=dropout_rate, use_mfa=attention, use_mifa=attention,
        sync_batch_norm=sync_batch_norm,
    )


def build_ensemble():
    import keras_drifa

    # Members without the attention modules: tracing two full members would double the
    # time of the whole run.
    return keras_drifa.MCDropoutEnsemble(
        lambda: build(True, dropout_rate=0.3, attention=False), num_members=2
    )


def data():
    rng = np.random.default_rng(0)
    n = GLOBAL_BATCH * STEPS
    # Pixels in [0.5, 1]: far from zero mean and unit variance, so batch statistics matter.
    x = [0.5 + 0.5 * rng.random((n, *SHAPE), dtype="float32") for _ in range(2)]
    y = [np.eye(k, dtype="float32")[rng.integers(0, k, n)] for k in CLASSES]
    return x, y


INITIAL_FILES = ("initial.npz", "ensemble.npz")
INITIAL_WAIT_S = 300


def write_initial(folder):
    """The initial weights of both runs: `initial.npz` (a sync model; a plain one has the
    same variables) and `ensemble.npz`, from seeded initialisers. Each file appears whole
    (written under another name, then renamed), since the other run waits for it; the
    models built here are then forgotten (`clear_session`), so the run's own layers get
    the names the other run gives them."""
    import keras

    keras.utils.set_random_seed(1)
    for name, model in zip(INITIAL_FILES, (build(True), build_ensemble())):
        partial = os.path.join(folder, "partial_" + name)
        np.savez(partial, *model.get_weights())
        os.replace(partial, os.path.join(folder, name))
    keras.backend.clear_session()


def wait_for_initial(folder):
    deadline = time.monotonic() + INITIAL_WAIT_S
    while not all(os.path.exists(os.path.join(folder, name)) for name in INITIAL_FILES):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no initial weights in {folder} after {INITIAL_WAIT_S} s")
        time.sleep(0.5)


def _read_initial(path):
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def main(devices, initial, out_folder):
    import keras

    import keras_drifa
    import keras_drifa.training

    started = time.perf_counter()
    if devices == 1:
        write_initial(initial)
    else:
        wait_for_initial(initial)
    cluster = keras_drifa.distributed.setup() if devices > 1 else None
    scope = cluster.scope if cluster is not None else contextlib.nullcontext
    report = {
        "cluster": repr(cluster),
        "num_replicas": cluster.num_replicas if cluster is not None else 1,
        "seconds": {},
    }

    def tick(step):
        report["seconds"][step] = round(time.perf_counter() - started, 1)

    def out(name):
        return os.path.join(out_folder, name)

    def weights(model):
        return {f"{i}:{v.path}": keras.ops.convert_to_numpy(v.value)
                for i, v in enumerate(model.weights)}

    def predict(model):
        return np.concatenate(model.predict(x, batch_size=GLOBAL_BATCH, verbose=0), axis=-1)

    x, y = data()

    # 1. SGD steps from the same initial weights.
    initial_weights = _read_initial(os.path.join(initial, "initial.npz"))
    models = {}
    for kind in ("plain", "sync"):
        with scope():
            model = build(kind == "sync")
            model.set_weights(initial_weights)
            # The metrics are for 2 and 3, whose fit then reuses this train function.
            model.compile(
                optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="categorical_crossentropy",
                metrics=[["accuracy"], ["accuracy"]],
            )
        steps = {}
        record = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: steps.update(
                {f"{batch + 1}/{k}": v for k, v in weights(model).items()}
            )
        )
        history = model.fit(
            x, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[record]
        )
        report[f"loss_{kind}"] = history.history["loss"]
        np.savez(out(f"sgd_{kind}.npz"), **steps)
        models[kind] = model
        tick(f"sgd {kind}")

    # Plain batch normalisation updates its moving statistics (aggregation "none") on
    # each replica from that replica's rows: the copies differ, and `predict` under the
    # strategy uses each replica's own; writing the weights back copies the first
    # replica's (the saved ones) to all.
    plain = models["plain"]
    report["plain_predict_replica_copies"] = predict(plain).tolist()
    plain.set_weights(plain.get_weights())
    report["plain_predict_first_copy"] = predict(plain).tolist()
    tick("plain predict")

    # 2. The sync model, given its initial weights back (a few steps through batch
    # normalisation of 8 rows amplify round-off too much to compare what follows):
    # evaluate, predict, saving and loading, recalibration.
    model = models["sync"]
    model.set_weights(initial_weights)
    results = {
        "evaluate": np.array(model.evaluate(x, y, batch_size=GLOBAL_BATCH, verbose=0)),
        "predict": predict(model),
    }
    model.save(out("model.keras"))
    for where, context in (("in_scope", scope), ("outside", contextlib.nullcontext)):
        with context():
            loaded = keras.models.load_model(out("model.keras"))
        results[f"load_{where}"] = predict(loaded)
        report[f"load_{where}_type"] = type(loaded).__name__
        report[f"load_{where}_optimizer_built"] = bool(loaded.optimizer and loaded.optimizer.built)
    model.save_weights(out("model.weights.h5"))
    with scope():
        fresh = build(True)
        fresh.load_weights(out("model.weights.h5"))
    results["load_weights"] = predict(fresh)
    keras_drifa.recalibrate_batch_norm(fresh, x, batch_size=GLOBAL_BATCH)
    results.update({f"recalibrated:{k}": v for k, v in weights(fresh).items() if "moving_" in k})
    np.savez(out("model.npz"), **results)
    tick("save, load and recalibrate")

    # 3. The callbacks inside fit (what they compute is not compared: the reference
    # need not run them).
    if cluster is not None:
        callbacks = [
            *keras_drifa.training.paper_schedule(
                [a[:GLOBAL_BATCH] for a in x], batch_size=GLOBAL_BATCH
            ),
            keras_drifa.callbacks.GradCAMCallback(
                [a[:2] for a in x], out("gradcam_logs"), labels=y[0][:2], tensorboard=False
            ),
        ]
        history = model.fit(
            x, y, batch_size=GLOBAL_BATCH, epochs=2, shuffle=False, verbose=0,
            validation_data=(x, y), callbacks=callbacks,
        )
        report["callbacks_history"] = {
            k: [float(v) for v in vs] for k, vs in history.history.items()
        }
        report["gradcam_pngs"] = sorted(
            name for _, _, files in os.walk(out("gradcam_logs"))
            for name in files if name.endswith(".png")
        )
        tick("callbacks")

    # 4. MC dropout ensemble: fit, then sampling and Grad-CAM of the initial weights.
    ensemble_weights = _read_initial(os.path.join(initial, "ensemble.npz"))
    with scope():
        ensemble = build_ensemble()
        ensemble.set_weights(ensemble_weights)
        ensemble.compile(
            optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="categorical_crossentropy"
        )
    if cluster is not None:  # its dropout masks differ from one device's: not compared
        history = ensemble.fit(
            x, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0
        )
        report["ensemble_loss"] = history.history["loss"]
        tick("ensemble fit")
    ensemble.set_weights(ensemble_weights)
    uncertainty = ensemble.predict_uncertainty(
        [a[:6] for a in x], num_samples=4, batch_size=4, seed=3, verbose=0
    )
    results = {f"uncertainty_{task}_{key}": np.asarray(value)
               for task, result in uncertainty.items() for key, value in result.items()}
    for name, num_samples in (("gradcam", None), ("gradcam_mc", 2)):
        explainer = keras_drifa.explain.GradCAM(
            ensemble, target_layers=GRADCAM_LAYERS, num_samples=num_samples
        )
        result = explainer([a[:3] for a in x], verbose=0)
        for modality, value in result.maps.items():
            results[f"{name}_{modality}"] = np.asarray(value)
            results[f"{name}_raw_{modality}"] = np.asarray(result.raw[modality])
    np.savez(out("ensemble.npz"), **results)
    tick("predict_uncertainty and GradCAM")

    # 5. The dropout masks of the replicas of one step, in training and MC sampling.
    if cluster is not None:
        import tensorflow as tf

        strategy = cluster.distribution
        with scope():
            layer = keras_drifa.layers.MCDropout(0.5)
        layer.set_sampling(True)
        for mode, training in (("training", True), ("sampling", False)):
            step = tf.function(
                lambda: strategy.run(lambda: layer(tf.ones((4, 64)), training=training))
            )
            first, second = (np.asarray(m) for m in strategy.experimental_local_results(step()))
            report[f"replica_masks_equal_{mode}"] = bool(np.array_equal(first != 0, second != 0))

    report["cpu_seconds"] = round(time.process_time(), 1)  # all threads
    with open(out("report.json"), "w") as file:
        json.dump(report, file, indent=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--initial", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.devices > 1:
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.devices
        )
    main(args.devices, args.initial, args.out)
