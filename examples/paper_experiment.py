"""The paper's main experiment: DRIFA-Net on SIPaKMeD + HAM10000, on data you download.

Reproduces the setting of Dhar et al., "Multimodal Fusion Learning with Dual Attention for
Medical Imaging" (WACV 2025) as the authors' code runs it: two unpaired modalities (pap
smear cells and dermoscopy), one classification head each (5 and 7 classes), 128x128x3
inputs scaled to [0, 1], categorical cross-entropy with loss weights [0.5, 0.5], Adam at
1e-3, ReduceLROnPlateau(factor 0.2, patience 5, min 1e-5) on the validation loss, the best
checkpoint by validation loss. Each batch row pairs a SIPaKMeD cell with a HAM10000
lesion; the smaller data set is reshuffled and cycled (with rotation and translation) so
every epoch covers the larger one.

    python examples/paper_experiment.py \\
        --sipakmed data/sipakmed \\
        --ham10000-metadata data/ham10000/HAM10000_metadata.csv \\
        --ham10000-images data/ham10000/HAM10000_images_part_1 data/ham10000/HAM10000_images_part_2

Run `python examples/paper_experiment.py --help` for where to get the data and all options.
The paper trains for 200 epochs on a GPU; on a CPU, try `--image-size 64 --epochs 5` first.
"""

import argparse
import json
import os

DATA_SOURCES = """\
where to get the data (nothing is downloaded by this script):
  SIPaKMeD, pap smear cell images, 5 classes (Plissiti et al., ICIP 2018):
    https://www.cs.uoi.gr/~marina/sipakmed.html
    Download the five class archives (im_Dyskeratotic, im_Koilocytotic, im_Metaplastic,
    im_Parabasal, im_Superficial-Intermediate) and unpack them side by side into one
    folder, the --sipakmed folder. The 4,049 single-cell crops the paper uses are the
    <class>/CROPPED/*.bmp files (the default --sipakmed-pattern).
  HAM10000, dermoscopy images, 7 classes (Tschandl et al., Scientific Data 2018):
    https://doi.org/10.7910/DVN/DBW86T (Harvard Dataverse; also the ISIC 2018 challenge,
    https://challenge.isic-archive.com/data/#2018, task 3)
    Download HAM10000_images_part_1.zip, HAM10000_images_part_2.zip and the metadata
    file as CSV (columns image_id and dx, e.g. HAM10000_metadata.csv). Unzip both image
    archives and pass both folders to --ham10000-images.
  Check each data set's licence and terms of use before you use it.
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=DATA_SOURCES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--sipakmed",
        required=True,
        metavar="DIR",
        help="SIPaKMeD folder with one folder per class.",
    )
    data.add_argument(
        "--sipakmed-pattern",
        default="CROPPED/*.bmp",
        metavar="GLOB",
        help="image files inside each SIPaKMeD class folder (default: %(default)s).",
    )
    data.add_argument(
        "--ham10000-metadata",
        required=True,
        metavar="CSV",
        help="HAM10000 metadata CSV (image_id, dx).",
    )
    data.add_argument(
        "--ham10000-images",
        required=True,
        nargs="+",
        metavar="DIR",
        help="folder(s) holding the HAM10000 .jpg files.",
    )
    data.add_argument(
        "--image-size", type=int, default=128, help="input height and width (paper: %(default)s)."
    )
    data.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="test share of each class (default: %(default)s, as the authors' 80/20 split).",
    )
    data.add_argument(
        "--val-fraction",
        type=float,
        default=0.16,
        help="validation share of each class (default: %(default)s, the authors' "
        "validation_split=0.2 of the training 80%%).",
    )
    data.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="what to do with unreadable images.",
    )
    data.add_argument(
        "--no-augment",
        action="store_true",
        help="no random rotation and translation of training images.",
    )

    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=int, default=200, help="(paper: %(default)s)")
    train.add_argument("--batch-size", type=int, default=32, help="(paper: %(default)s)")
    train.add_argument(
        "--learning-rate", type=float, default=1e-3, help="Adam learning rate (paper: %(default)s)."
    )
    train.add_argument(
        "--gamma",
        type=float,
        default=0.5,
        help="loss weights [gamma, 1 - gamma] (paper: %(default)s).",
    )
    train.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16, as the authors trained (use on a GPU).",
    )
    train.add_argument(
        "--mc-dropout",
        choices=("on_demand", "always"),
        default="on_demand",
        help="'always' keeps MC dropout on at inference, as the authors' code "
        "(default: %(default)s).",
    )
    train.add_argument(
        "--widths",
        type=int,
        nargs=4,
        default=(64, 128, 256, 512),
        metavar="W",
        help="stage widths (paper: 64 128 256 512).",
    )
    train.add_argument(
        "--blocks-per-stage",
        type=int,
        nargs=4,
        default=(2, 2, 2, 2),
        metavar="N",
        help="RRA blocks per stage (paper: 2 2 2 2).",
    )
    train.add_argument("--workers", type=int, default=1, help="threads preparing batches.")
    train.add_argument(
        "--seed", type=int, default=0, help="seed of the splits, shuffling and weights."
    )
    train.add_argument(
        "--run-eagerly", action="store_true", help="debugging: no graph compilation."
    )
    parser.add_argument(
        "--output-dir",
        default="outputs/paper_experiment",
        help="where the model, history and metrics go.",
    )
    parser.add_argument(
        "--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras verbosity."
    )
    return parser.parse_args(argv)


MODALITIES = ("pap_smear", "dermoscopy")
TASKS = ("sipakmed_class", "ham10000_class")


def load_data(args):
    from keras_drifa.data import load_csv_manifest, load_image_folder

    size = (args.image_size, args.image_size)
    common = dict(
        image_size=size,
        channels=3,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        seed=args.seed,
        on_error=args.on_error,
        verbose=args.verbose,
    )
    print(f"Reading SIPaKMeD from {args.sipakmed} ...")
    sipakmed = load_image_folder(args.sipakmed, pattern=args.sipakmed_pattern, **common)
    print(f"Reading HAM10000 from {args.ham10000_metadata} ...")
    ham10000 = load_csv_manifest(
        args.ham10000_metadata,
        args.ham10000_images,
        id_column="image_id",
        label_column="dx",
        **common,
    )
    for name, splits in (("SIPaKMeD", sipakmed), ("HAM10000", ham10000)):
        print(f"{name}: {splits}")
        for part in ("train", "val", "test"):
            print(f"  {part:5s} {getattr(splits, part).class_counts()}")
    return sipakmed, ham10000


def datasets(args, sipakmed, ham10000):
    import keras

    from keras_drifa.data import MultimodalDataset

    def dataset(part, training):
        augment = None
        if training and not args.no_augment:
            # The authors' augmentation: small rotations and translations.
            augment = {
                m: keras.Sequential(
                    [
                        keras.layers.RandomRotation(0.05, seed=args.seed + k),
                        keras.layers.RandomTranslation(0.05, 0.05, seed=args.seed + k),
                    ]
                )
                for k, m in enumerate(MODALITIES)
            }
        return MultimodalDataset(
            {MODALITIES[0]: getattr(sipakmed, part), MODALITIES[1]: getattr(ham10000, part)},
            mode="unpaired",
            task_names=list(TASKS),
            batch_size=args.batch_size,
            shuffle=training,
            seed=args.seed,
            augment=augment,
            workers=args.workers,
        )

    return dataset("train", True), dataset("val", False), dataset("test", False)


def build(args, num_classes):
    import keras

    import keras_drifa

    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    model = keras_drifa.build_model(
        modalities=list(MODALITIES),
        input_shape=(args.image_size, args.image_size, 3),
        num_classes=dict(zip(TASKS, num_classes)),
        widths=tuple(args.widths),
        blocks_per_stage=tuple(args.blocks_per_stage),
        mc_dropout=args.mc_dropout,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss={t: "categorical_crossentropy" for t in TASKS},
        loss_weights={TASKS[0]: args.gamma, TASKS[1]: 1.0 - args.gamma},
        metrics={t: "accuracy" for t in TASKS},
        run_eagerly=args.run_eagerly,
    )
    return model


def callbacks(args, checkpoint):
    import keras

    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.2, patience=5, min_lr=1e-5, verbose=1
        ),
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
        keras.callbacks.CSVLogger(os.path.join(args.output_dir, "history.csv")),
    ]


def classification_report(y_true, y_pred, class_names):
    """Accuracy and macro precision, recall and F1 (classes without predictions or
    examples count as 0, as scikit-learn's zero_division=0)."""
    import numpy as np

    k = len(class_names)
    confusion = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    tp = np.diag(confusion).astype(float)
    precision = np.divide(tp, confusion.sum(0), out=np.zeros(k), where=confusion.sum(0) > 0)
    recall = np.divide(tp, confusion.sum(1), out=np.zeros(k), where=confusion.sum(1) > 0)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0
    )
    return {
        "accuracy": float(tp.sum() / max(len(y_true), 1)),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "test_images": int(len(y_true)),
        "confusion_matrix": confusion.tolist(),
        "class_names": list(class_names),
    }


def evaluate(model, test, splits):
    """Metrics per task, each on its own test images exactly once: without shuffling,
    row i of a modality is its image i modulo its length."""
    predictions = model.predict(test, verbose=0)
    report = {}
    for task, probabilities, part in zip(TASKS, predictions, splits):
        n = len(part)
        report[task] = classification_report(
            part.labels, probabilities[:n].argmax(-1), part.class_names
        )
    return report


def main(argv=None):
    args = parse_args(argv)
    import keras

    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.output_dir, exist_ok=True)
    sipakmed, ham10000 = load_data(args)
    train, val, test = datasets(args, sipakmed, ham10000)
    model = build(args, (len(sipakmed.class_names), len(ham10000.class_names)))
    print(f"DRIFA-Net: {model.count_params():,} parameters, backend {keras.backend.backend()}.")

    checkpoint = os.path.join(args.output_dir, "best_model.keras")
    model.fit(
        train,
        validation_data=val,
        epochs=args.epochs,
        callbacks=callbacks(args, checkpoint),
        verbose=args.verbose,
    )
    best = keras.models.load_model(checkpoint)
    report = evaluate(best, test, (sipakmed.test, ham10000.test))
    with open(os.path.join(args.output_dir, "metrics.json"), "w") as file:
        json.dump(report, file, indent=2)

    print(f"\nTest results of the best checkpoint (by validation loss), {checkpoint}:")
    print(
        f"{'task':16s} {'images':>6s} {'accuracy':>8s} {'precision':>9s} {'recall':>7s} "
        f"{'F1':>6s}  (macro)"
    )
    for task, r in report.items():
        print(
            f"{task:16s} {r['test_images']:6d} {r['accuracy']:8.4f} {r['macro_precision']:9.4f} "
            f"{r['macro_recall']:7.4f} {r['macro_f1']:6.4f}"
        )
    print(f"Metrics, history and model are in {args.output_dir}/.")
    return report


if __name__ == "__main__":
    main()
