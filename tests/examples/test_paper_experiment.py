"""examples/paper_experiment.py runs end to end on tiny data sets in the real layouts."""

import importlib.util
import json
import pathlib

import keras
import numpy as np
import pytest
from PIL import Image

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "paper_experiment.py"


def _script():
    spec = importlib.util.spec_from_file_location("paper_experiment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def downloads(tmp_path):
    """SIPaKMeD (class folders with CROPPED/ crops) and HAM10000 (CSV + two image parts)."""
    sipakmed = tmp_path / "sipakmed"
    for c, name in enumerate(
        [
            "im_Dyskeratotic",
            "im_Koilocytotic",
            "im_Metaplastic",
            "im_Parabasal",
            "im_Superficial-Intermediate",
        ]
    ):
        _write(sipakmed / name / "001.bmp", seed=c)  # a full slide: not a crop, not used
        for i in range(5):
            _write(sipakmed / name / "CROPPED" / f"001_0{i}.bmp", seed=10 * c + i)
    ham = tmp_path / "ham10000"
    lines = ["lesion_id,image_id,dx,dx_type,age,sex,localization"]
    for c, dx in enumerate(["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]):
        for i in range(5):
            n = 5 * c + i
            _write(ham / f"HAM10000_images_part_{n % 2 + 1}" / f"ISIC_{n:07d}.jpg", seed=100 + n)
            lines.append(f"HAM_{n:07d},ISIC_{n:07d},{dx},histo,50.0,male,back")
    (ham / "HAM10000_metadata.csv").write_text("\n".join(lines) + "\n")
    return [
        "--sipakmed",
        str(sipakmed),
        "--ham10000-metadata",
        str(ham / "HAM10000_metadata.csv"),
        "--ham10000-images",
        str(ham / "HAM10000_images_part_1"),
        str(ham / "HAM10000_images_part_2"),
    ]


def test_help_says_where_to_get_the_data(capsys):
    with pytest.raises(SystemExit) as exit_:
        _script().parse_args(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for needle in ("sipakmed.html", "doi.org/10.7910/DVN/DBW86T", "CROPPED", "--ham10000-images"):
        assert needle in text


def test_defaults_are_the_paper_configuration(downloads):
    script = _script()
    args = script.parse_args(downloads)
    assert (args.image_size, args.epochs, args.batch_size, args.learning_rate, args.gamma) == (
        128,
        200,
        32,
        1e-3,
        0.5,
    )
    assert tuple(args.widths) == (64, 128, 256, 512) and tuple(args.blocks_per_stage) == (
        2,
        2,
        2,
        2,
    )
    # A small model (the tiny test configuration, whose weight shapes JAX has compiled).
    args.widths, args.blocks_per_stage, args.image_size = (8, 8, 16, 16), (1, 1, 1, 1), 32
    model = script.build(args, (5, 7))
    config = model.get_compile_config()
    assert config["loss_weights"] == {"sipakmed_class": 0.5, "ham10000_class": 0.5}
    assert config["loss"] == {t: "categorical_crossentropy" for t in script.TASKS}
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(1e-3)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert [tuple(i.shape) for i in model.inputs] == [(None, 32, 32, 3)] * 2
    plateau = script.callbacks(args, "best.keras")[0]
    assert (plateau.factor, plateau.patience, plateau.min_lr, plateau.monitor) == (
        0.2,
        5,
        1e-5,
        "val_loss",
    )


def test_training_batches_are_augmented(downloads):
    script = _script()
    args = script.parse_args(
        downloads + ["--image-size", "32", "--batch-size", "4", "--verbose", "0"]
    )
    sipakmed, ham10000 = script.load_data(args)
    train, val, _ = script.datasets(args, sipakmed, ham10000)
    args.no_augment = True
    plain, _, _ = script.datasets(args, sipakmed, ham10000)
    (x, y), (x_plain, y_plain) = train[0], plain[0]
    assert sorted(x) == ["dermoscopy", "pap_smear"] and sorted(y) == sorted(script.TASKS)
    assert x["pap_smear"].shape == x_plain["pap_smear"].shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(y["sipakmed_class"], y_plain["sipakmed_class"])  # same rows
    assert not np.allclose(x["pap_smear"], x_plain["pap_smear"])  # rotated and shifted
    assert len(train) == 6 and not val.shuffle  # 21 HAM10000 training images, batches of 4


@pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="compiling DRIFA-Net's train step takes ~90 s under XLA on a 2-core CPU; the script "
    "is backend-independent Keras, whose JAX training path the model tests cover",
)
def test_runs_end_to_end_on_tiny_data(downloads, tmp_path, capsys):
    out = tmp_path / "out"
    report = _script().main(
        downloads
        + [
            "--image-size",
            "32",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--widths",
            "4",
            "4",
            "8",
            "8",
            "--blocks-per-stage",
            "1",
            "1",
            "1",
            "1",
            "--output-dir",
            str(out),
            "--verbose",
            "0",
            "--no-augment",
        ]  # augmentation has its own test; here it would only cost time
        + (["--run-eagerly"] if keras.backend.backend() == "tensorflow" else [])
    )
    printed = capsys.readouterr().out
    assert "im_Dyskeratotic" in printed and "akiec" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "best_model.keras",
        "history.csv",
        "metrics.json",
    ]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == report
    assert report["sipakmed_class"]["test_images"] == 5  # one crop of each of the 5 classes
    assert report["ham10000_class"]["test_images"] == 7
    for r in report.values():
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["macro_f1"] <= 1
        assert np.sum(r["confusion_matrix"]) == r["test_images"]
