import numpy as np
import pytest
from drifa_testing import TINY

import keras_drifa
from keras_drifa.data import make_synthetic


def _orientation_features(images, masks, bins=12):
    """Energy of the evidence region's spectrum in `bins` orientation bins: what a simple
    classifier needs to read the stripe angle that encodes the class."""
    gray = images.mean(-1) * masks
    gray = gray - gray.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fftshift(np.fft.fft2(gray), axes=(1, 2))) ** 2
    h, w = gray.shape[1:]
    ky, kx = np.mgrid[-(h // 2) : h - h // 2, -(w // 2) : w - w // 2]
    radius = np.hypot(ky / h, kx / w)
    angle = np.minimum((np.mod(np.arctan2(ky, kx), np.pi) / np.pi * bins).astype(int), bins - 1)
    ring = (radius > 0.15) & (radius < 0.4)
    features = np.stack([power[:, ring & (angle == b)].sum(1) for b in range(bins)], 1)
    return features / features.sum(1, keepdims=True)


def _nearest_centroid(train_x, train_y, test_x, classes):
    centroids = np.stack([train_x[train_y == k].mean(0) for k in range(classes)])
    return np.argmin(((test_x[:, None] - centroids[None]) ** 2).sum(-1), axis=1)


@pytest.fixture(scope="module")
def multitask():
    return make_synthetic(
        300,
        modalities=["cytology", "dermoscopy", "mri"],
        image_size=(32, 40),
        num_classes=(3, 4, 5),
    )


def test_shapes_dtypes_and_names(multitask):
    data = multitask
    assert data.modality_names == ["cytology", "dermoscopy", "mri"]
    assert data.task_names == ["cytology_label", "dermoscopy_label", "mri_label"]
    assert data.input_shapes == [(32, 40, 3), (32, 40, 3), (32, 40, 1)]
    assert data.num_classes == {"cytology_label": 3, "dermoscopy_label": 4, "mri_label": 5}
    assert len(data) == 300 and data.label_mode == "multitask"
    for m, k in zip(data.modality_names, (3, 4, 5)):
        x = data.images[m]
        assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
        assert data.masks[m].shape == (300, 32, 40) and data.masks[m].dtype == bool
        labels = data.labels[f"{m}_label"]
        assert labels.dtype == np.int32 and set(labels.tolist()) == set(range(k))
        np.testing.assert_array_equal(labels, data.codes[m])
    targets = data.targets()
    assert targets["mri_label"].shape == (300, 5) and targets["mri_label"].dtype == np.float32
    np.testing.assert_array_equal(targets["mri_label"].argmax(-1), data.labels["mri_label"])


def test_modalities_look_different(multitask):
    means = [multitask.images[m].mean(axis=(0, 1, 2)) for m in multitask.modality_names]
    assert np.abs(means[0] - means[1]).max() > 0.1  # pink cytology versus skin-toned dermoscopy
    assert means[2][0] < 0.3  # dark MRI background


def test_deterministic_and_prefix_stable():
    a = make_synthetic(150, image_size=24, seed=7)
    b = make_synthetic(150, image_size=24, seed=7)
    longer = make_synthetic(300, image_size=24, seed=7)
    other = make_synthetic(150, image_size=24, seed=8)
    for m in a.modality_names:
        np.testing.assert_array_equal(a.images[m], b.images[m])
        np.testing.assert_array_equal(a.images[m], longer.images[m][:150])
        np.testing.assert_array_equal(a.masks[m], longer.masks[m][:150])
        assert not np.array_equal(a.images[m], other.images[m])


def test_evidence_lies_inside_the_mask(multitask):
    """A simple classifier reads the class from the masked region and not from the rest."""
    data, n = multitask, 200
    for m, k in zip(data.modality_names, (3, 4, 5)):
        y = data.codes[m]
        for region, low, high in ((data.masks[m], 0.7, 1.01), (~data.masks[m], 0.0, 1.5 / k)):
            features = _orientation_features(data.images[m], region)
            accuracy = (_nearest_centroid(features[:n], y[:n], features[n:], k) == y[n:]).mean()
            assert low <= accuracy <= high, (m, region is data.masks[m], accuracy)
        area = data.masks[m].mean(axis=(1, 2))
        assert 0.02 < area.min() and area.max() < 0.45


def test_paired_label_needs_every_modality():
    """Each modality alone predicts the paired label at chance; together they determine it."""
    k, n = 4, 800
    data = make_synthetic(1200, image_size=32, num_classes=k, label_mode="paired", seed=0)
    assert data.task_names == ["label"] and data.num_classes == {"label": k}
    label = data.labels["label"]
    np.testing.assert_array_equal(label, sum(data.codes.values()) % k)
    decoded = []
    for m in data.modality_names:
        features = _orientation_features(data.images[m], data.masks[m])
        from_label = _nearest_centroid(features[:n], label[:n], features[n:], k)
        assert (from_label == label[n:]).mean() < 0.35  # chance is 0.25
        code = _nearest_centroid(features[:n], data.codes[m][:n], features[n:], k)
        assert (code == data.codes[m][n:]).mean() > 0.7
        decoded.append(code)
    assert ((sum(decoded) % k) == label[n:]).mean() > 0.5


def _quadrants(masks):
    """The quadrant of each mask's centroid: 0 top left, 1 top right, 2 bottom left, 3 ..."""
    n, h, w = masks.shape
    rows, cols = np.mgrid[:h, :w]
    area = masks.sum(axis=(1, 2))
    cy = (masks * rows).sum(axis=(1, 2)) / area
    cx = (masks * cols).sum(axis=(1, 2)) / area
    return 2 * (cy >= (h - 1) / 2) + (cx >= (w - 1) / 2)


@pytest.fixture(scope="module")
def same_quadrant():
    return make_synthetic(
        400, modalities=["cytology", "dermoscopy", "mri"], image_size=32,
        num_classes=3, label_mode="same_quadrant", seed=5,
    )


def test_same_quadrant_label_is_where_the_evidence_sits(same_quadrant):
    data = same_quadrant
    assert data.task_names == ["label"] and data.num_classes == {"label": 2}
    label = data.labels["label"]
    assert label.dtype == np.int32 and 0.4 < label.mean() < 0.6
    quadrants = np.stack([_quadrants(data.masks[m]) for m in data.modality_names])
    # The label is exactly "all evidence regions in one quadrant", read from the masks.
    np.testing.assert_array_equal(label, np.all(quadrants == quadrants[0], axis=0))
    # Moving one modality's evidence to another quadrant flips a positive label.
    positives = label == 1
    moved = quadrants.copy()
    moved[1] = (moved[1] + 1) % 4
    assert not np.all(moved == moved[0], axis=0)[positives].any()
    # One modality's position alone says nothing: uniform quadrants given either label.
    for q in quadrants:
        for value in (0, 1):
            share = np.bincount(q[label == value], minlength=4) / np.sum(label == value)
            assert np.abs(share - 0.25).max() < 0.1, share
    # The textures are drawn as before and do not enter the label.
    for m in data.modality_names:
        assert set(data.codes[m].tolist()) == {0, 1, 2}
        assert abs(data.codes[m][positives].mean() - data.codes[m][~positives].mean()) < 0.3


def test_same_quadrant_is_deterministic_and_prefix_stable(same_quadrant):
    again = make_synthetic(
        130, modalities=["cytology", "dermoscopy", "mri"], image_size=32,
        num_classes=3, label_mode="same_quadrant", seed=5,
    )
    np.testing.assert_array_equal(again.labels["label"], same_quadrant.labels["label"][:130])
    for m in again.modality_names:
        np.testing.assert_array_equal(again.images[m], same_quadrant.images[m][:130])
        np.testing.assert_array_equal(again.masks[m], same_quadrant.masks[m][:130])
    other = make_synthetic(130, image_size=32, label_mode="same_quadrant", seed=6)
    assert not np.array_equal(other.labels["label"], again.labels["label"])


def test_options():
    data = make_synthetic(
        20, modalities=["mri", "mri"], image_size=16, num_classes=2, channels=3, seed=1
    )
    assert data.modality_names == ["mri", "mri_1"] and data.input_shapes == [(16, 16, 3)] * 2
    np.testing.assert_array_equal(data.images["mri"][..., 0], data.images["mri"][..., 2])
    assert not np.array_equal(data.images["mri"], data.images["mri_1"])
    gray = make_synthetic(20, modalities=1, image_size=16, num_classes=3, channels=1)
    assert gray.modality_names == ["cytology"] and gray.input_shapes == [(16, 16, 1)]
    clean = make_synthetic(50, modalities=["cytology"], image_size=32, num_classes=3, noise=0.0)
    noisy = make_synthetic(50, modalities=["cytology"], image_size=32, num_classes=3, noise=0.1)
    difference = (noisy.images["cytology"] - clean.images["cytology"]).std()
    assert 0.05 < difference < 0.11


def test_its_names_and_shapes_build_a_drifa_net():
    data = make_synthetic(4, image_size=32, num_classes=(3, 4))
    model = keras_drifa.build_model(
        modalities=data.modality_names,
        input_shape=data.input_shapes,
        num_classes=data.num_classes,
        # The tiny test model's configuration: on JAX every new weight shape costs an
        # initialiser compilation, and these are shared with the model tests.
        widths=TINY["widths"],
        blocks_per_stage=TINY["blocks_per_stage"],
    )
    assert [i.name for i in model.inputs] == data.modality_names
    assert [tuple(i.shape[1:]) for i in model.inputs] == data.input_shapes
    assert model.output_names == data.task_names
    assert [tuple(o.shape) for o in model.outputs] == [(None, 3), (None, 4)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_samples=0), "num_samples` must be an integer >= 1"),
        (dict(modalities=["xray"]), "unknown modality kind 'xray'"),
        (dict(modalities=0), "modalities` must be an integer >= 1"),
        (dict(image_size=8), "image_size` must be"),
        (dict(num_classes=(5, 7, 2)), "num_classes has 3 entries"),
        (dict(num_classes=1), "every class count an integer >= 2"),
        (dict(label_mode="paired", num_classes=(5, 7)), "paired' has one task"),
        (dict(label_mode="joint"), "label_mode` must be one of"),
        (dict(label_mode="same_quadrant", modalities=1), "compares the evidence positions of "
         r"two modalities or more; received modalities=1"),
        (dict(noise=-0.1), "noise` must be a number >= 0"),
        (dict(channels=2), r"channels` must be None, 1 \(grayscale\) or 3"),
        (dict(seed=-1), "seed` must be an integer >= 0"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic(**{"num_samples": 4, **kwargs})
