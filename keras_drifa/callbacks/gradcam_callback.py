"""`GradCAMCallback`: Grad-CAM figures of fixed samples, written during training."""

import contextlib
import importlib.util
import io
import os
import random
import tempfile
import warnings

import keras
import numpy as np

from keras_drifa import _checks, distributed
from keras_drifa.backend import rng as backend_rng
from keras_drifa.explain.gradcam import GradCAM, check_method
from keras_drifa.explain.overlay import overlay


@contextlib.contextmanager
def _preserved_state(model):
    """Restores every random stream and non-trainable variable that explaining touches.

    A forward pass advances the dropout seed states (MC dropout draws a mask even when it
    returns its input), and on PyTorch unseeded dropout draws from torch's global
    generator; restoring them keeps the training run identical with and without the
    callback.
    """
    variables = list(model.non_trainable_variables)
    values = [keras.ops.convert_to_numpy(v) for v in variables]
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with backend_rng.preserved_global_rng():
            yield
    finally:
        for variable, value in zip(variables, values):
            variable.assign(value)
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _write_atomically(path, data):
    """Writes `data` to `path` completely or not at all."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp_", suffix=".png")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _displayable(image):
    """An image as (height, width) or (height, width, 3) in [0, 1]: min-max scaled, since
    inputs may be standardised; channel counts other than 1 and 3 show their mean."""
    image = np.asarray(image, dtype=np.float64)
    if image.shape[-1] == 1:
        image = image[..., 0]
    elif image.shape[-1] != 3:
        image = image.mean(axis=-1)
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


class GradCAMCallback(keras.callbacks.Callback):
    """Writes Grad-CAM figures of fixed samples at the end of training epochs.

    At the end of every `every_n_epochs`-th epoch it writes `log_dir/epoch_NNN.png`
    (epochs counted from 1): one row per sample and, for each modality, the input and the
    Grad-CAM overlay of the predicted class, titled with the true class (if `labels` are
    given), the predicted class and its probability. With TensorFlow installed and
    `tensorboard=True`, the same image goes to TensorBoard (tag `"gradcam"`, in
    `log_dir`); TensorFlow is never imported otherwise.

    The callback does not change training: weights, optimizer state, the models' random
    generator states and the global random streams are as they would be without it. Files
    are written completely or not at all. When writing fails (a full disk, a missing
    permission) it warns and training continues. With several processes
    (`keras_drifa.distributed`) every process computes the maps and the chief writes them.

    Args:
        inputs: the samples to explain, one array per modality (a list in input order or a
            dict by modality name; a single array for one modality). Keep it small (a few
            samples).
        log_dir: directory for the PNG files (created if needed) and TensorBoard events.
        every_n_epochs: write after every n-th epoch.
        task: index or name of the output to explain.
        method: `"gradcam"`, `"gradcam++"` or `"hirescam"`.
        labels: optional true classes of the samples for `task`, as integers or one-hot.
        tensorboard: also write TensorBoard image summaries when TensorFlow is installed.

    Example:

    ```python
    callback = keras_drifa.callbacks.GradCAMCallback([x_a[:4], x_b[:4]], "logs/gradcam",
                                                     labels=y_a[:4])
    model.fit([x_a, x_b], [y_a, y_b], epochs=10, callbacks=[callback])
    ```
    """

    def __init__(self, inputs, log_dir, every_n_epochs=1, task=0, method="gradcam",
                 labels=None, tensorboard=True):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise ValueError(
                f"GradCAMCallback: `log_dir` must be a path; received log_dir={log_dir!r}."
            )
        every_n_epochs = _checks.positive_int("GradCAMCallback", "every_n_epochs", every_n_epochs)
        if importlib.util.find_spec("matplotlib") is None:
            raise ImportError(
                "GradCAMCallback draws its figures with matplotlib: "
                "pip install 'keras-drifa[viz]'."
            )
        self.inputs = inputs
        self.log_dir = os.fspath(log_dir)
        self.every_n_epochs = every_n_epochs
        self.task = task
        self.method = check_method("GradCAMCallback", method)
        self.labels = None if labels is None else self._label_array(labels)
        self.tensorboard = _checks.boolean("GradCAMCallback", "tensorboard", tensorboard)
        self._write_tensorboard = self.tensorboard and (
            importlib.util.find_spec("tensorflow") is not None
        )
        self._cam = None
        self._writer = None

    @staticmethod
    def _label_array(labels):
        array = np.asarray(keras.ops.convert_to_numpy(labels))
        if array.ndim == 2:
            array = np.argmax(array, axis=-1)
        numeric = np.issubdtype(array.dtype, np.number)
        if array.ndim != 1 or not numeric or not np.all(np.mod(array, 1) == 0):
            raise ValueError(
                "GradCAMCallback: labels must be integer classes (samples,) or one-hot "
                f"(samples, classes); received shape {array.shape} and dtype {array.dtype}."
            )
        return array.astype(np.int64)

    def _prepare(self):
        """Binds to the model; configuration errors raise here, before training starts."""
        self._cam = GradCAM(self.model, method=self.method)
        graph = self._cam.graph
        self._arrays = _checks.input_arrays(
            "GradCAMCallback",
            self.inputs,
            graph.modalities,
            graph.input_shapes,
            [keras.backend.standardize_dtype(t.dtype) for t in graph.model.inputs],
            arg="inputs",
        )
        self._task = _checks.task_index("GradCAMCallback", self.task, self._cam.tasks)
        count = self._arrays[0].shape[0]
        if self.labels is not None:
            num_classes = self._cam.graph.num_classes[self._task]
            if self.labels.shape[0] != count:
                raise ValueError(
                    f"GradCAMCallback: labels has {self.labels.shape[0]} entries; expected "
                    f"{count}, one per sample of inputs."
                )
            if np.any((self.labels < 0) | (self.labels >= num_classes)):
                raise ValueError(
                    f"GradCAMCallback: labels {self.labels.tolist()} include classes outside "
                    f"0..{num_classes - 1} of task '{self._cam.tasks[self._task]}'."
                )

    def on_train_begin(self, logs=None):
        with _preserved_state(self.model):
            self._prepare()

    def figure(self, epoch=None):
        """The figure the callback writes, for the model's current weights.

        Args:
            epoch: epoch number (from 1) shown in the title, or `None`.

        Returns:
            A `matplotlib.figure.Figure` (not attached to pyplot).
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if self._cam is None or self._cam.model is not self.model:
            self._prepare()
        cam, arrays, task = self._cam, self._arrays, self._task
        probabilities = cam.predict(arrays, task).astype(np.float64)
        predicted = np.argmax(probabilities, axis=-1)
        maps = cam(arrays, task=task, class_index=predicted, verbose=0)
        if isinstance(maps, tuple):  # an ensemble: (mean, std) over its members
            maps = maps[0]

        modalities = cam.modalities
        rows, columns = arrays[0].shape[0], 2 * len(modalities)
        figure = Figure(figsize=(2.2 * columns, 2.3 * rows + 0.4), dpi=80)
        FigureCanvasAgg(figure)
        title = f"Grad-CAM ({self.method}), task '{cam.tasks[task]}'"
        figure.suptitle(title if epoch is None else f"epoch {epoch}: {title}")
        axes = figure.subplots(rows, columns, squeeze=False)
        for i in range(rows):
            verdict = f"pred {predicted[i]} ({probabilities[i, predicted[i]]:.2f})"
            if self.labels is not None:
                verdict = f"true {self.labels[i]}, {verdict}"
            for m, modality in enumerate(modalities):
                image = _displayable(arrays[m][i])
                left, right = axes[i, 2 * m], axes[i, 2 * m + 1]
                left.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
                left.set_title(modality, fontsize=9)
                right.imshow(overlay(image, maps[modality][i]))
                right.set_title(verdict, fontsize=9)
        for ax in axes.ravel():
            ax.set_axis_off()
        figure.tight_layout()
        return figure

    def on_epoch_end(self, epoch, logs=None):
        epoch = epoch + 1
        if epoch % self.every_n_epochs:
            return
        path = os.path.join(self.log_dir, f"epoch_{epoch:03d}.png")
        try:
            with _preserved_state(self.model):
                figure = self.figure(epoch)
            if not distributed.is_chief():
                # Every process computes the maps (its compiled functions may span all
                # processes); one writes them.
                return
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            png = buffer.getvalue()
            os.makedirs(self.log_dir, exist_ok=True)
            _write_atomically(path, png)
        except Exception as error:
            warnings.warn(
                f"GradCAMCallback: could not write {path} ({type(error).__name__}: {error}); "
                "training continues.",
                stacklevel=2,
            )
            return
        if self._write_tensorboard:
            try:
                self._summarise(png, epoch)
            except Exception as error:
                warnings.warn(
                    "GradCAMCallback: could not write the TensorBoard image summary for "
                    f"epoch {epoch} ({type(error).__name__}: {error}); training continues.",
                    stacklevel=2,
                )

    def _summarise(self, png, epoch):
        # The TensorBoard image-plugin format written with TensorFlow alone (what
        # tensorboard's tf.summary.image writes), so the `tensorboard` package is not needed
        # to log, only to view.
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        image = tf.io.decode_png(png, channels=3)
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="images"),
            data_class=summary_pb2.DATA_CLASS_BLOB_SEQUENCE,
        )
        tensor = tf.constant([str(image.shape[1]), str(image.shape[0]), png])
        with self._writer.as_default():
            tf.summary.write("gradcam", tensor, step=epoch, metadata=metadata)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
