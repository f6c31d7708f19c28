"""Why DRIFA-Net's validation accuracy collapsed: stale batch-normalisation statistics.

Trains a small DRIFA-Net (and the same network without MFA and MIFA) on the embedded
synthetic data with Adam at 2e-3 and batch-norm momentum 0.9, and after every epoch prints
the validation accuracy of the first task computed three ways from the same weights:

- `moving`: as `predict` does, with the batch-norm layers' moving averages;
- `recalibrated`: after `keras_drifa.recalibrate_batch_norm` on 256 training images, on a
  copy of the model, with its MC dropout layers off;
- `recalibrated, dropout on`: the same with dropout on during the recalibration.

If `recalibrated` stays high where `moving` drops, the weights are fine and the moving
statistics lag behind them. No timing is measured; any machine will do.

    KERAS_BACKEND=torch python benchmarks/batch_norm_staleness.py
"""

import argparse

import keras
import numpy as np

import keras_drifa
from keras_drifa import data as drifa_data
from keras_drifa.layers import MCDropout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    data = drifa_data.make_synthetic(1500, modalities=["cytology", "dermoscopy"], image_size=32,
                                     num_classes=(4, 5), seed=0)
    task = data.task_names[0]
    train, val, _ = drifa_data.stratified_split(data.labels[task], 0.15, 0.2, seed=0)
    targets = data.targets()

    def take(arrays, index):
        return {name: array[index] for name, array in arrays.items()}

    x_train, x_val = take(data.images, train), take(data.images, val)
    labels_val = data.labels[task][val]

    def build(use_attention=True):
        return keras_drifa.build_model(
            modalities=data.modality_names, input_shape=data.input_shapes,
            num_classes=data.num_classes, widths=(16, 16, 32, 32),
            blocks_per_stage=(1, 1, 1, 1), batch_norm_momentum=0.9,
            use_mfa=use_attention, use_mifa=use_attention,
        )

    def accuracy(model):
        return float(np.mean(model.predict(x_val, verbose=0)[0].argmax(-1) == labels_val))

    gaps = {}
    for (name, use_attention), seed in (
        (model_kind, seed)
        for model_kind in (("DRIFA-Net", True), ("baseline", False))
        for seed in args.seeds
    ):
        keras.utils.set_random_seed(seed)
        model = build(use_attention)
        copy = build(use_attention)
        model.compile(optimizer=keras.optimizers.Adam(2e-3),
                      loss={t: "categorical_crossentropy" for t in data.task_names})
        rows = []

        def recalibrated(dropout_on):
            copy.set_weights(model.get_weights())
            for layer in copy.layers:
                if isinstance(layer, MCDropout):
                    layer.rate = 0.25 if dropout_on else 0.0
            keras_drifa.recalibrate_batch_norm(copy, take(x_train, slice(0, 256)))
            return accuracy(copy)

        class Measure(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                rows.append((accuracy(model), recalibrated(False), recalibrated(True)))

        model.fit(x_train, take(targets, train), epochs=args.epochs, batch_size=32, verbose=0,
                  callbacks=[Measure()])
        print(f"\n{name}, seed {seed}: validation accuracy of {task} after each epoch")
        print(f"{'epoch':>28s}" + "".join(f"{e + 1:>6d}" for e in range(len(rows))))
        for k, label in enumerate(("moving", "recalibrated", "recalibrated, dropout on")):
            print(f"{label:>28s}" + "".join(f"{row[k]:6.2f}" for row in rows))
        gaps.setdefault(name, []).extend(row[1] - row[0] for row in rows)
    print("\nrecalibrated minus moving, over all seeds and epochs:")
    for name, values in gaps.items():
        values = np.array(values)
        print(f"  {name}: mean {values.mean():+.3f}, largest {values.max():+.3f}, "
              f"epochs where moving statistics lose more than 0.10: {np.sum(values > 0.10)} "
              f"of {len(values)}")


if __name__ == "__main__":
    main()
