"""keras_drifa.data.make_shifted: each shift does what it says, deterministically, and
refuses what it cannot do."""

import numpy as np
import pytest

from keras_drifa.data import SHIFTS, ShiftedData, make_shifted, make_synthetic


@pytest.fixture(scope="module")
def paired():
    return make_synthetic(
        24, modalities=["cytology", "dermoscopy"], image_size=24, num_classes=4,
        label_mode="paired", noise=0.2, seed=3,
    )


@pytest.fixture(scope="module")
def multitask():
    return make_synthetic(
        16, modalities=["dermoscopy", "mri"], image_size=(20, 24), num_classes=(3, 5), seed=1
    )


def _identical(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("shift", [s for s in SHIFTS if s != "swap"])
def test_only_the_named_modality_changes(paired, shift):
    shifted = make_shifted(paired, shift, modality="dermoscopy", seed=5)
    assert isinstance(shifted, ShiftedData)
    assert shifted.shift == shift and shifted.modalities == ("dermoscopy",)
    assert shifted.modality_names == paired.modality_names and len(shifted) == len(paired)
    assert _identical(shifted.images["cytology"], paired.images["cytology"])
    assert _identical(shifted.codes["cytology"], paired.codes["cytology"])
    changed = shifted.images["dermoscopy"]
    assert changed.shape == paired.images["dermoscopy"].shape and changed.dtype == np.float32
    assert changed.min() >= 0 and changed.max() <= 1
    assert not np.array_equal(changed, paired.images["dermoscopy"])


def test_every_modality_by_default(paired):
    shifted = make_shifted(paired, "noise")
    assert shifted.modalities == ("cytology", "dermoscopy") and shifted.severity == 0.5
    for m in paired.modality_names:
        assert not np.array_equal(shifted.images[m], paired.images[m])


def test_swap_swaps_images_codes_and_masks(paired):
    swapped = make_shifted(paired, "swap")
    for a, b in (("cytology", "dermoscopy"), ("dermoscopy", "cytology")):
        assert _identical(swapped.images[a], paired.images[b])
        assert _identical(swapped.codes[a], paired.codes[b])
        assert _identical(swapped.masks[a], paired.masks[b])
    assert _identical(swapped.labels["label"], paired.labels["label"])


def test_noise_modality_is_uniform_noise(paired):
    shifted = make_shifted(paired, "noise_modality", modality="dermoscopy")
    noise = shifted.images["dermoscopy"]
    assert abs(noise.mean() - 0.5) < 0.01 and abs(noise.std() - np.sqrt(1 / 12)) < 0.01
    # Neighbouring pixels of a picture are correlated; of noise they are not.
    assert abs(np.corrcoef(noise[:, :, :-1].ravel(), noise[:, :, 1:].ravel())[0, 1]) < 0.02
    assert (shifted.codes["dermoscopy"] == -1).all() and not shifted.masks["dermoscopy"].any()
    assert _identical(shifted.labels["label"], paired.labels["label"])


def test_wrong_modality_draws_another_kind(paired, multitask):
    shifted = make_shifted(paired, "wrong_modality", modality="dermoscopy", seed=2)
    mri = make_synthetic(
        len(paired), modalities=["mri"], image_size=24, num_classes=2, noise=0.2, channels=3,
        seed=2,
    ).images["mri"]
    assert _identical(shifted.images["dermoscopy"], mri)  # an MRI slice, as RGB
    # A one-channel MRI input gets a (converted) cytology field instead.
    shifted = make_shifted(multitask, "wrong_modality", modality="mri")
    assert shifted.images["mri"].shape == multitask.images["mri"].shape
    cytology = make_synthetic(
        len(multitask), modalities=["cytology"], image_size=(20, 24), num_classes=2,
        channels=1, seed=0,
    ).images["cytology"]
    assert _identical(shifted.images["mri"], cytology)
    assert (shifted.labels["mri_label"] == multitask.labels["mri_label"]).all()
    chosen = make_shifted(paired, "wrong_modality", modality="cytology", kind="dermoscopy")
    assert not np.array_equal(chosen.images["cytology"], paired.images["cytology"])


def test_unseen_class_changes_only_the_evidence(paired):
    # With the data's own seed every background stays; the evidence shows a new class.
    shifted = make_shifted(paired, "unseen_class", modality="dermoscopy", seed=3)
    before, after = paired.images["dermoscopy"], shifted.images["dermoscopy"]
    changed = np.abs(after - before).max(-1) > 1e-6
    inside = paired.masks["dermoscopy"]
    assert changed[inside].mean() > 0.9 and changed[~inside].mean() < 0.1
    assert (shifted.codes["dermoscopy"] == -1).all() and (shifted.labels["label"] == -1).all()


def _stripe_angles(images, masks):
    """The dominant gradient direction (mod pi) inside each evidence region, from the
    structure tensor, away from the region's border: the angle that encodes the class."""
    inner = masks.copy()
    for _ in range(2):
        inner[:, 1:-1, 1:-1] &= (
            inner[:, :-2, 1:-1] & inner[:, 2:, 1:-1] & inner[:, 1:-1, :-2] & inner[:, 1:-1, 2:]
        )
    inner[:, [0, -1]] = inner[:, :, [0, -1]] = False
    gy, gx = np.gradient(images.mean(-1), axis=(1, 2))
    sxx, syy, sxy = ((g * inner).sum((1, 2)) for g in (gx * gx, gy * gy, gx * gy))
    return np.mod(0.5 * np.arctan2(2 * sxy, sxx - syy), np.pi)


def _angle_distance(a, b):
    d = np.mod(a - b, np.pi)
    return np.minimum(d, np.pi - d)


def test_unseen_class_stripes_lie_between_the_trained_ones():
    k = 4
    data = make_synthetic(64, modalities=["cytology", "dermoscopy"], image_size=48,
                          num_classes=k, label_mode="paired", noise=0.0, seed=3)
    unseen = make_shifted(data, "unseen_class", seed=3)
    trained = np.pi * np.arange(k) / k
    for m in data.modality_names:
        seen = _stripe_angles(data.images[m], data.masks[m])
        new = _stripe_angles(unseen.images[m], unseen.masks[m])
        # Trained regions point at their own code's angle; unseen ones halfway between
        # two (pi / 8 away from both), far from every trained angle.
        assert np.median(_angle_distance(seen, np.pi * data.codes[m] / k)) < 0.1
        nearest = _angle_distance(new[:, None], trained[None]).min(axis=1)
        assert np.median(nearest) > np.pi / (4 * k) + 0.03


def test_unseen_class_in_multitask_mode(multitask):
    shifted = make_shifted(multitask, "unseen_class", modality="mri", seed=9)
    assert (shifted.labels["mri_label"] == -1).all()
    assert _identical(shifted.labels["dermoscopy_label"], multitask.labels["dermoscopy_label"])
    assert _identical(shifted.images["dermoscopy"], multitask.images["dermoscopy"])


def test_unseen_class_in_same_quadrant_mode():
    """The regenerated images have their own evidence positions: no label holds for them."""
    data = make_synthetic(12, image_size=16, label_mode="same_quadrant", seed=2)
    shifted = make_shifted(data, "unseen_class", modality="dermoscopy", seed=4)
    assert (shifted.labels["label"] == -1).all()
    assert _identical(shifted.images["cytology"], data.images["cytology"])


def test_unseen_class_images_match_make_synthetic(paired):
    unseen = make_synthetic(**{**paired.arguments, "num_samples": 24, "unseen_class": True})
    shifted = make_shifted(paired, "unseen_class", seed=3)
    for m in paired.modality_names:
        assert _identical(shifted.images[m], unseen.images[m])
        assert _identical(shifted.masks[m], unseen.masks[m])


def test_blur_smooths_and_keeps_the_mean():
    rng = np.random.default_rng(0)
    images = {"a": rng.random((3, 16, 16, 2), dtype=np.float32)}
    blurred = make_shifted(images, "blur", severity=1.5).images["a"]
    assert blurred.std() < 0.5 * images["a"].std()
    assert abs(blurred.mean() - images["a"].mean()) < 0.01
    constant = {"a": np.full((2, 8, 8, 1), 0.3, np.float32)}
    np.testing.assert_allclose(make_shifted(constant, "blur").images["a"], 0.3, atol=1e-6)


def test_noise_severity_sets_the_noise_level():
    images = {"a": np.full((4, 32, 32, 3), 0.5, np.float32)}
    for severity in (0.05, 0.1):
        noisy = make_shifted(images, "noise", severity=severity).images["a"]
        assert abs((noisy - 0.5).std() - severity) < 0.01


def test_plain_dicts(paired):
    images = dict(paired.images)
    shifted = make_shifted(images, "swap")
    assert shifted.labels == {} and shifted.codes == {} and shifted.masks == {}
    assert _identical(shifted.images["cytology"], paired.images["dermoscopy"])
    assert images["cytology"] is paired.images["cytology"]  # the input is not modified


@pytest.mark.parametrize(
    "shift, kwargs",
    [("noise", {"severity": 0.3}), ("blur", {}), ("noise_modality", {}),
     ("wrong_modality", {}), ("unseen_class", {})],
)
def test_deterministic_given_the_seed(paired, shift, kwargs):
    first = make_shifted(paired, shift, seed=7, **kwargs)
    again = make_shifted(paired, shift, seed=7, **kwargs)
    other = make_shifted(paired, shift, seed=8, **kwargs)
    for m in paired.modality_names:
        assert _identical(first.images[m], again.images[m])
    if shift != "blur":
        assert not np.array_equal(first.images["dermoscopy"], other.images["dermoscopy"])


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("rotate",), {}, r"make_shifted: `shift` must be one of .*received shift='rotate'"),
        (("noise",), {"modality": "ct"},
         r"make_shifted: unknown modality 'ct'; expected one of \['cytology', 'dermoscopy'\]"),
        (("noise",), {"modality": 3}, r"`modality` must be a modality name.*received modality=3"),
        (("noise",), {"severity": 0}, r"`severity` must be a number > 0; received severity=0"),
        (("blur",), {"severity": -1.0}, r"`severity` must be a number > 0"),
        (("noise",), {"severity": True}, r"`severity` must be a number > 0"),
        (("swap",), {"severity": 1.0},
         r"`severity` applies to the shifts \('noise', 'blur'\); received severity=1.0 with "
         r"shift='swap'"),
        (("swap",), {"modality": "cytology"}, r"shift='swap' exchanges two modalities"),
        (("noise",), {"kind": "mri"}, r"`kind` applies to shift='wrong_modality' only"),
        (("wrong_modality",), {"kind": "ct"}, r"`kind` must be one of \('cytology'"),
        (("noise",), {"seed": -1}, r"make_shifted: `seed` must be None or an integer >= 0"),
    ],
)
def test_errors(paired, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_shifted(paired, *args, **kwargs)


def test_errors_of_the_data(multitask):
    with pytest.raises(ValueError, match=r"shift='swap' needs images of one shape; modality "
                                         r"'dermoscopy' has \(20, 24, 3\) and 'mri' has"):
        make_shifted(multitask, "swap")
    three = {m: np.zeros((2, 8, 8, 3), np.float32) for m in "abc"}
    with pytest.raises(ValueError, match=r"shift='swap' needs two modalities; `data` has 3"):
        make_shifted(three, "swap")
    with pytest.raises(ValueError, match=r"'unseen_class' draws new images, so `data` must be "
                                         r"a SyntheticData"):
        make_shifted(three, "unseen_class")
    with pytest.raises(ValueError, match=r"modality 'a' have shape \(8, 8, 3\)"):
        make_shifted({"a": np.zeros((8, 8, 3))}, "noise")
    with pytest.raises(ValueError, match=r"different numbers of images \{'a': 2, 'b': 3\}"):
        make_shifted({"a": np.zeros((2, 8, 8, 3)), "b": np.zeros((3, 8, 8, 3))}, "noise")
    with pytest.raises(ValueError, match=r"`data` must be a SyntheticData or a non-empty dict"):
        make_shifted([np.zeros((2, 8, 8, 3))], "noise")


def test_synthetic_data_records_its_arguments(paired):
    again = make_synthetic(num_samples=len(paired), **paired.arguments)
    for m in paired.modality_names:
        assert _identical(again.images[m], paired.images[m])
    assert paired.arguments["unseen_class"] is False
    with pytest.raises(ValueError, match=r"make_synthetic: `unseen_class` must be True or False; "
                                         r"received unseen_class='yes'"):
        make_synthetic(4, image_size=16, unseen_class="yes")
