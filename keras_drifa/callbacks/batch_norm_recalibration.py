"""`BatchNormRecalibration`: fresh batch-norm statistics before every validation."""

import keras

from keras_drifa.batch_norm import recalibrate_batch_norm


class BatchNormRecalibration(keras.callbacks.Callback):
    """Recalibrates batch normalisation before each validation and at the end of training.

    Calls `keras_drifa.recalibrate_batch_norm(model, x)` when `fit` starts validating
    (so the validation loss that `ReduceLROnPlateau`, `EarlyStopping` or `ModelCheckpoint`
    watch measures the current weights, not lagging statistics) and when training ends
    (so the model you keep predicts with statistics that match its weights, also after
    `EarlyStopping(restore_best_weights=True)` restored an earlier epoch).

    Args:
        x: inputs as for `model.predict`, e.g. a few hundred training examples.
        batch_size: examples per batch of the recalibration passes.

    Example:

    ```python
    model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=20,
              callbacks=[keras_drifa.callbacks.BatchNormRecalibration(x_train_subset)])
    ```
    """

    def __init__(self, x, batch_size=32):
        super().__init__()
        self.x = x
        self.batch_size = batch_size

    def _recalibrate(self):
        recalibrate_batch_norm(self.model, self.x, batch_size=self.batch_size)

    def on_test_begin(self, logs=None):
        self._recalibrate()

    def on_train_end(self, logs=None):
        self._recalibrate()
