"""keras-drifa quick start: the whole of DRIFA-Net on the embedded synthetic data.

Run with `make demo` (sets up a virtual environment first) or directly:

    KERAS_BACKEND=jax python examples/quickstart.py

It generates two synthetic modalities (pap-smear-like cells and dermoscopy-like lesions,
each with its own label set, as in the paper's multitask setting), trains a reduced-width
DRIFA-Net and the plain multi-branch ResNet baseline on the same data, prints one metrics
table per task, fits a Monte Carlo dropout ensemble and compares its epistemic uncertainty
on right and wrong predictions, and writes Grad-CAM overlays (scored against the known
evidence masks), a reliability diagram and an embedding plot to `outputs/`.
"""

import argparse
import os
import time

import keras
import numpy as np

import keras_drifa
from keras_drifa import data as drifa_data
from keras_drifa.evaluation import classification_metrics, metrics_table
from keras_drifa.explain import GradCAM, overlay
from keras_drifa.viz import plot_embeddings, reliability_diagram


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1500, help="synthetic sample rows")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--members", type=int, default=3, help="MC dropout ensemble members")
    parser.add_argument("--mc-samples", type=int, default=20)
    parser.add_argument("--output", default="outputs", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def build(data, **kwargs):
    return keras_drifa.build_model(
        modalities=data.modality_names,
        input_shape=data.input_shapes,
        num_classes=data.num_classes,
        widths=(16, 16, 32, 32),
        blocks_per_stage=(1, 1, 1, 1),
        # A few hundred steps: faster-moving batch-norm statistics predict better.
        batch_norm_momentum=0.9,
        **kwargs,
    )


def compile_model(model):
    tasks = model.output_names
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss={t: "categorical_crossentropy" for t in tasks},
        loss_weights={t: 1.0 / len(tasks) for t in tasks},
        metrics={t: ["accuracy"] for t in tasks},
    )
    return model


def take(arrays, index):
    return {name: array[index] for name, array in arrays.items()}


def energy_inside_mask(heatmaps, masks):
    """Share of each Grad-CAM map's energy that falls on the evidence region, averaged."""
    heat = heatmaps.reshape(len(heatmaps), -1)
    inside = (heat * masks.reshape(len(masks), -1)).sum(axis=1)
    return float(np.mean(inside / np.maximum(heat.sum(axis=1), 1e-12)))


def save_gradcam_figure(path, images, maps, titles):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modalities = list(images)
    rows = len(next(iter(images.values())))
    fig, axes = plt.subplots(rows, 2 * len(modalities), figsize=(3 * len(modalities) * 2, 3 * rows))
    axes = np.atleast_2d(axes)
    for r in range(rows):
        for m, name in enumerate(modalities):
            image = images[name][r]
            axes[r, 2 * m].imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
            axes[r, 2 * m + 1].imshow(overlay(image, maps[name][r]))
            axes[r, 2 * m].set_title(f"{name}\n{titles[name][r]}", fontsize=8)
            axes[r, 2 * m + 1].set_title("Grad-CAM", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    args = parse_args()
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.output, exist_ok=True)
    start = time.perf_counter()
    print(f"keras-drifa {keras_drifa.__version__} on Keras {keras.__version__}, "
          f"backend {keras.backend.backend()}")

    # 1. Data: two modalities, each with its own label set (the paper's multitask setting).
    data = drifa_data.make_synthetic(
        args.samples, modalities=["cytology", "dermoscopy"], image_size=args.image_size,
        num_classes=(4, 5), seed=args.seed,
    )
    first_task = data.task_names[0]
    train, val, test = drifa_data.stratified_split(data.labels[first_task], 0.15, 0.2, args.seed)
    targets = data.targets()
    x_train, y_train = take(data.images, train), take(targets, train)
    x_val, y_val = take(data.images, val), take(targets, val)
    x_test = take(data.images, test)
    labels_test = {t: y[test] for t, y in data.labels.items()}
    print(f"data: {len(train)} train / {len(val)} validation / {len(test)} test rows, "
          f"tasks {data.num_classes}")

    # 2. DRIFA-Net and the plain multi-branch ResNet baseline, on the same data.
    models = {
        "DRIFA-Net": build(data, name="drifa_net"),
        "ResNet baseline": build(data, use_mfa=False, use_mifa=False, name="baseline"),
    }
    probs = {}
    for label, model in models.items():
        print(f"\nTraining {label} ({model.count_params():,} parameters)")
        compile_model(model).fit(
            x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
            batch_size=32, verbose=2,
        )
        outputs = model.predict(x_test, verbose=0)
        probs[label] = dict(zip(model.output_names, outputs))

    print()
    for task in data.task_names:
        rows = {label: classification_metrics(p[task], labels_test[task]) for label, p in probs.items()}
        chance = 1.0 / data.num_classes[task]
        print(metrics_table(rows, title=f"{task} ({data.num_classes[task]} classes, chance {chance:.3f})"))
        print()

    # 3. Uncertainty: an MC dropout ensemble, trained in one call, sampled fast.
    print(f"Training an MCDropoutEnsemble of {args.members} DRIFA-Nets")
    ensemble = keras_drifa.MCDropoutEnsemble(lambda: build(data), num_members=args.members)
    compile_model(ensemble).fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
    result = ensemble.predict_uncertainty(x_test, num_samples=args.mc_samples, seed=args.seed)
    for task in data.task_names:
        r = result[task]
        correct = r["predicted_class"] == labels_test[task]
        mi = r["mutual_information"]
        print(f"{task}: accuracy {correct.mean():.3f}; mean mutual information "
              f"{mi[correct].mean():.4f} on correct vs "
              f"{mi[~correct].mean() if (~correct).any() else float('nan'):.4f} on wrong predictions")

    # 4. Explanations and plots.
    drifa = models["DRIFA-Net"]
    cam = GradCAM(drifa)
    paths = []
    print()
    for m, (modality, task) in enumerate(zip(data.modality_names, data.task_names)):
        maps = cam(x_test, task=task, verbose=0)
        score = energy_inside_mask(maps[modality], data.masks[modality][test])
        area = float(data.masks[modality][test].mean())
        print(f"Grad-CAM for {task} on {modality}: {score:.1%} of the map's energy inside the "
              f"evidence mask, which covers {area:.1%} of the image")
        if m == 0:
            shown = slice(0, 4)
            predicted = probs["DRIFA-Net"][task][shown].argmax(axis=1)
            titles = {
                name: [
                    f"true {labels_test[task][i]}, predicted {predicted[i]}"
                    if name == modality else "" for i in range(4)
                ]
                for name in data.modality_names
            }
            other = cam(take(x_test, shown), task=data.task_names[1], verbose=0)
            shown_maps = {modality: maps[modality][shown],
                          data.modality_names[1]: other[data.modality_names[1]]}
            path = os.path.join(args.output, "gradcam.png")
            save_gradcam_figure(path, take(x_test, shown), shown_maps, titles)
            paths.append(path)

    path = os.path.join(args.output, "reliability.png")
    reliability_diagram(probs["DRIFA-Net"][first_task], labels_test[first_task],
                        title=f"DRIFA-Net, {first_task}", save_path=path)
    paths.append(path)
    path = os.path.join(args.output, "embeddings.png")
    fig = plot_embeddings(drifa, take(x_test, slice(0, 300)), labels_test[first_task][:300],
                          method="pca")
    fig.savefig(path, dpi=80)
    paths.append(path)
    print("\nWrote:\n  " + "\n  ".join(paths))
    print(f"Done in {time.perf_counter() - start:.0f} s.")


if __name__ == "__main__":
    main()
