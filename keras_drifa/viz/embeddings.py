"""`plot_embeddings`: the fused representation in 2-D, coloured by class (the paper's Fig. 5)."""

import keras
import numpy as np

from keras_drifa import _checks, _graph

METHODS = ("tsne", "pca")


def _fused_tensor(model):
    """The tensor every task head reads: the fused vector before the heads."""
    inputs = set()
    for output in model.outputs:
        node = _graph.producer(output)
        if len(node.input_tensors) != 1:
            inputs.add(None)
        else:
            inputs.add(node.input_tensors[0])
    if len(inputs) != 1 or None in inputs:
        raise ValueError(
            f"plot_embeddings: the output layers of model '{model.name}' do not all read one "
            "shared tensor, so there is no single fused representation before the heads; "
            "expected a model like keras_drifa.build_model's."
        )
    (fused,) = inputs
    if len(fused.shape) != 2:
        raise ValueError(
            f"plot_embeddings: the representation before the heads of model '{model.name}' "
            f"has shape {tuple(fused.shape)}; expected a (batch, features) vector."
        )
    return fused


def _class_labels(labels, count):
    if keras.ops.is_tensor(labels):
        labels = keras.ops.convert_to_numpy(labels)
    array = np.asarray(labels)
    if array.ndim == 2:
        array = np.argmax(array, axis=-1)
    if array.ndim != 1 or array.shape[0] != count:
        raise ValueError(
            f"plot_embeddings: labels has shape {array.shape}; expected ({count},) integer "
            f"classes or ({count}, num_classes) one-hot, one per sample of inputs."
        )
    if not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.number) or np.any(np.mod(array, 1) != 0):
            raise ValueError(
                f"plot_embeddings: labels must be integer classes; received dtype {array.dtype}."
            )
    return array.astype(np.int64)


def _project(encoder, inputs, method, batch_size, perplexity, random_state):
    """The `(samples, 2)` projection of the fused vectors of `inputs`."""
    features = np.asarray(
        encoder.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float64
    )
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state).fit_transform(features)
    from sklearn.manifold import TSNE

    tsne = TSNE(n_components=2, perplexity=float(perplexity), init="pca",
                random_state=random_state)
    return tsne.fit_transform(features)


def plot_embeddings(model, inputs, labels, method="tsne", *, class_names=None, ax=None,
                    batch_size=32, perplexity=None, random_state=0):
    """Plots the fused representation before the heads in 2-D, coloured by class.

    The vector every task head of the model reads (for `keras_drifa.build_model`, the
    pooled concatenation of all branches) is computed for `inputs` and projected with
    t-SNE or PCA, as in Figure 5 of Dhar et al. (WACV 2025): well separated clusters mean
    the fused features discriminate the classes. Needs scikit-learn and matplotlib
    (`pip install 'keras-drifa[viz]'`).

    Args:
        model: a functional `keras.Model` whose output layers read one shared vector.
        inputs: the model inputs (as for `model.predict`).
        labels: the class of each sample, integers `(samples,)` or one-hot.
        method: `"tsne"` or `"pca"`.
        class_names: optional names for the legend, indexed by class.
        ax: a matplotlib `Axes` to draw on; a new figure is made when `None`.
        batch_size: batch size of the forward pass.
        perplexity: t-SNE perplexity, below the number of samples; `None` uses
            `min(30, (samples - 1) / 3)`.
        random_state: seed of the projection.

    Returns:
        The matplotlib `Figure` (not attached to pyplot when made here). The projected
        points are the offsets of its scatter collections, one per class.

    Example:

    ```python
    fig = keras_drifa.viz.plot_embeddings(model, [x_a, x_b], y_a, method="pca")
    fig.savefig("embeddings.png")
    ```
    """
    _checks.choice("plot_embeddings", "method", method, METHODS)
    if not isinstance(model, keras.Model) or not getattr(model, "outputs", None):
        raise ValueError(
            "plot_embeddings: model must be a functional keras.Model such as one from "
            f"keras_drifa.build_model; received {type(model).__name__}."
        )
    encoder = keras.Model(model.inputs, _fused_tensor(model))
    count = int(np.shape(keras.tree.flatten(inputs)[0])[0])
    if count < 3:
        raise ValueError(
            f"plot_embeddings: inputs holds {count} samples; expected at least 3 to project."
        )
    if perplexity is None:
        perplexity = min(30.0, (count - 1) / 3)
    if method == "tsne":
        # Below the number of samples.
        _checks.number(
            "plot_embeddings", "perplexity", perplexity, 0, count, open_low=True, open_high=True
        )
    classes = _class_labels(labels, count)
    points = _project(encoder, inputs, method, batch_size, perplexity, random_state)
    present = np.unique(classes)
    if class_names is not None and len(class_names) <= present.max():
        raise ValueError(
            f"plot_embeddings: class_names has {len(class_names)} entries; labels go up to "
            f"class {present.max()}."
        )
    if ax is None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(5, 4.5), dpi=100)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
    else:
        figure = ax.figure
    for c in present:
        chosen = classes == c
        name = str(c) if class_names is None else str(class_names[c])
        ax.scatter(points[chosen, 0], points[chosen, 1], s=14, label=name, alpha=0.85)
    ax.legend(title="class", fontsize=8, loc="best")
    axis_name = "t-SNE" if method == "tsne" else "PC"
    ax.set_xlabel(f"{axis_name} 1")
    ax.set_ylabel(f"{axis_name} 2")
    ax.set_title(f"Fused representation ({'t-SNE' if method == 'tsne' else 'PCA'})")
    return figure
