import keras
import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plot_embeddings needs keras-drifa[viz]")
pytest.importorskip("sklearn", reason="plot_embeddings needs keras-drifa[viz]")
import threadpoolctl  # noqa: E402 (installed with scikit-learn)
from sklearn.decomposition import PCA  # noqa: E402

from keras_drifa.viz.embeddings import plot_embeddings


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    # scikit-learn's t-SNE spin-waits in OpenMP on a busy machine (24 points: 25 s with two
    # threads on a loaded 2-core runner, 0.2 s with one); the result does not depend on it.
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        yield


def two_head_model():
    """Two modalities fused into one pooled vector that both heads read."""
    a, b = keras.Input((6, 6, 1), name="a"), keras.Input((6, 6, 2), name="b")
    fa = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(a)
    fb = keras.layers.Conv2D(4, 3, activation="relu", name="conv_b")(b)
    fused = keras.layers.Concatenate(name="fusion_concat")([fa, fb])
    pooled = keras.layers.GlobalAveragePooling2D(name="fusion_pool")(fused)
    outputs = [
        keras.layers.Dense(3, activation="softmax", name="task_0")(pooled),
        keras.layers.Dense(2, activation="softmax", name="task_1")(pooled),
    ]
    return keras.Model([a, b], outputs)


@pytest.fixture(scope="module")
def model_and_data():
    keras.utils.set_random_seed(0)
    model = two_head_model()
    rng = np.random.default_rng(0)
    x = [rng.random((24, 6, 6, 1), dtype=np.float32), rng.random((24, 6, 6, 2), dtype=np.float32)]
    labels = np.arange(24) % 3
    return model, x, labels


def _points_by_class(figure):
    ax = figure.axes[0]
    return {text.get_text(): c.get_offsets().data for c, text in
            zip(ax.collections, ax.get_legend().get_texts())}


def test_pca_projects_the_fused_vector(model_and_data):
    model, x, labels = model_and_data
    figure = plot_embeddings(model, x, labels, method="pca")
    features = keras.Model(model.inputs, model.get_layer("fusion_pool").output).predict(x, verbose=0)
    expected = PCA(n_components=2, random_state=0).fit_transform(features.astype(np.float64))
    points = _points_by_class(figure)
    assert sorted(points) == ["0", "1", "2"]
    for c in range(3):
        np.testing.assert_allclose(points[str(c)], expected[labels == c], rtol=1e-4, atol=1e-6)
    assert figure.axes[0].get_xlabel() == "PC 1"


def test_tsne_colours_each_class_and_is_reproducible(model_and_data):
    model, x, labels = model_and_data
    one_hot = keras.utils.to_categorical(labels, 3)
    first = _points_by_class(plot_embeddings(model, x, labels, perplexity=5))
    second = _points_by_class(plot_embeddings(model, x, one_hot, perplexity=5))
    assert {k: v.shape for k, v in first.items()} == {"0": (8, 2), "1": (8, 2), "2": (8, 2)}
    for k in first:
        np.testing.assert_allclose(first[k], second[k])
        assert np.all(np.isfinite(first[k]))


def test_draws_on_a_given_axes_with_class_names(model_and_data):
    from matplotlib.figure import Figure

    model, x, labels = model_and_data
    figure = Figure()
    ax = figure.add_subplot()
    returned = plot_embeddings(model, x, labels, method="pca", ax=ax,
                               class_names=["benign", "malignant", "normal"])
    assert returned is figure
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["benign", "malignant", "normal"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="umap"), r"method` must be one of \('tsne', 'pca'\); received method='umap'"),
        (dict(labels=np.zeros(5, int)), r"labels has shape \(5,\); expected \(24,\) integer"),
        (dict(labels=np.full(24, 0.5)), r"labels must be integer classes"),
        (dict(perplexity=24), r"perplexity` must be a number in \(0, 24\)"),
        (dict(method="pca", class_names=["a"]), r"class_names has 1 entries; labels go up to class 2"),
    ],
)
def test_rejects_bad_input(model_and_data, kwargs, match):
    model, x, labels = model_and_data
    arguments = dict(labels=labels)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plot_embeddings(model, x, **arguments)


def test_rejects_too_few_samples_and_heads_without_a_shared_vector(model_and_data):
    model, x, labels = model_and_data
    with pytest.raises(ValueError, match="holds 2 samples; expected at least 3"):
        plot_embeddings(model, [a[:2] for a in x], labels[:2])
    inputs = keras.Input((4,))
    split = keras.Model(inputs, [keras.layers.Dense(2)(inputs),
                                 keras.layers.Dense(2)(keras.layers.Dense(3)(inputs))])
    with pytest.raises(ValueError, match="do not all read one shared tensor"):
        plot_embeddings(split, np.zeros((5, 4)), np.zeros(5, int))
