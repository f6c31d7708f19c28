"""Makes docs/images/gradcam.png: multimodal Grad-CAM on synthetic images with known evidence.

Each sample is a pair of images with one task each, as in the paper's target-specific
multitask setting: modality A (RGB) holds a disc whose colour is the class of task
"disc_colour" (red, green, blue), modality B (grayscale) a bar whose orientation is the
class of task "bar_orientation" (horizontal, vertical, diagonal), each at a random place on
smooth random texture. A tiny DRIFA-Net is trained briefly; Grad-CAM of each modality for
its task should then point at the disc and the bar. The script prints how often the peak of
a map falls next to the evidence on held-out pairs (the "pointing game") and writes the
figure: per modality the input, the Grad-CAM overlay (evidence outlined in white) and the
per-pixel standard deviation of the map over 20 MC dropout samples.

    KERAS_BACKEND=torch python examples/make_gradcam_figure.py [--output PATH]

Runs on any backend; the committed figure was made with KERAS_BACKEND=torch.
"""

import argparse
import io
import os

import keras
import numpy as np

import keras_drifa
from keras_drifa.explain import GradCAM, overlay

SIZE = 64
RADIUS = 7
BAR = (4, 22)  # thickness, length
COLOURS = np.array([[0.9, 0.15, 0.1], [0.1, 0.8, 0.2], [0.15, 0.3, 0.95]])


def _texture(rng, channels):
    """Smooth random texture in [0.2, 0.6]: a few broad Gaussian bumps plus faint noise."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    image = np.zeros((SIZE, SIZE, channels))
    for _ in range(6):
        cy, cx = rng.uniform(0, SIZE, 2)
        width = rng.uniform(8, 20)
        bump = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width**2))
        image += bump[..., None] * rng.uniform(0.1, 0.3, channels)
    image = 0.2 + image / max(image.max(), 1e-6) * 0.4
    return image + rng.normal(0, 0.02, image.shape)


def make_pairs(n, seed):
    """`(x_a, x_b, labels, regions_a, regions_b)`: `labels` is `(n, 2)`, one class per
    task; regions are boolean evidence masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    x_a = np.empty((n, SIZE, SIZE, 3), np.float32)
    x_b = np.empty((n, SIZE, SIZE, 1), np.float32)
    regions_a = np.empty((n, SIZE, SIZE), bool)
    regions_b = np.empty((n, SIZE, SIZE), bool)
    labels = rng.integers(0, 3, (n, 2))
    for i, (label, orientation) in enumerate(labels):
        image = _texture(rng, 3)
        cy, cx = rng.uniform(RADIUS + 2, SIZE - RADIUS - 2, 2)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= RADIUS**2
        image[disc] = COLOURS[label]
        x_a[i], regions_a[i] = np.clip(image, 0, 1), disc

        image = _texture(rng, 1)
        cy, cx = rng.uniform(BAR[1] / 2 + 2, SIZE - BAR[1] / 2 - 2, 2)
        dy, dx = yy - cy, xx - cx
        along, across = {
            0: (dx, dy),
            1: (dy, dx),
            2: ((dx + dy) / np.sqrt(2), (dx - dy) / np.sqrt(2)),
        }[orientation]
        bar = (np.abs(along) <= BAR[1] / 2) & (np.abs(across) <= BAR[0] / 2)
        image[bar] = 0.95
        x_b[i], regions_b[i] = np.clip(image, 0, 1), bar
    return x_a, x_b, labels, regions_a, regions_b


def pointing_game(maps, regions, margin=3):
    """Fraction of maps whose maximum lies within `margin` pixels of the evidence region."""
    hits = 0
    for heatmap, region in zip(maps, regions):
        y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        window = region[max(0, y - margin) : y + margin + 1, max(0, x - margin) : x + margin + 1]
        hits += bool(window.any())
    return hits / len(maps)


def figure(x_a, x_b, labels, regions, means, stds, probabilities):
    """One row per pair: per modality the input, the Grad-CAM of its task and the MC std."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = len(labels)
    fig = Figure(figsize=(8.4, 1.5 * rows + 0.3), dpi=72)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 6, squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.88, bottom=0.01, wspace=0.05, hspace=0.2)
    headers = ("A: input", "A: Grad-CAM, disc colour", "A: MC std",
               "B: input", "B: Grad-CAM, bar orientation", "B: MC std")
    for ax, header in zip(axes[0], headers):
        box = ax.get_position()
        fig.text((box.x0 + box.x1) / 2, 0.975, header, ha="center", va="top", fontsize=8)
    images = (x_a, x_b[..., 0])
    for i in range(rows):
        for k, name in enumerate(("image_a", "image_b")):
            image = images[k][i]
            predicted = probabilities[k][i].argmax()
            axes[i, 3 * k].imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            axes[i, 3 * k + 1].imshow(overlay(image, means[k][name][i], alpha=0.45))
            axes[i, 3 * k + 1].contour(regions[k][i], levels=[0.5], colors="white", linewidths=0.8)
            axes[i, 3 * k + 1].set_title(
                f"true {labels[i, k]}, pred {predicted} ({probabilities[k][i, predicted]:.2f})",
                fontsize=7, pad=2,
            )
            axes[i, 3 * k + 2].imshow(stds[k][name][i], cmap="magma", vmin=0, vmax=0.3)
    for ax in axes.ravel():
        ax.set_axis_off()
    return fig


def _small_png(fig):
    """The figure as a PNG with an adaptive 128-colour palette (a third of the RGB size)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    image = Image.open(buffer).convert("RGB").quantize(colors=128)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=os.path.join("docs", "images", "gradcam.png"))
    parser.add_argument("--train", type=int, default=800, help="training pairs")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    x_a, x_b, y, _, _ = make_pairs(args.train, seed=0)
    model = keras_drifa.build_model(
        ["image_a", "image_b"], [(SIZE, SIZE, 3), (SIZE, SIZE, 1)],
        num_classes={"disc_colour": 3, "bar_orientation": 3}, widths=(8, 16),
        blocks_per_stage=(1, 1),
    )
    model.compile(keras.optimizers.Adam(1e-3), "categorical_crossentropy",
                  metrics=["accuracy", "accuracy"])
    targets = [keras.utils.to_categorical(y[:, k], 3) for k in range(2)]
    model.fit([x_a, x_b], targets, epochs=args.epochs, batch_size=16, verbose=2)
    # Batch-norm statistics for the final weights (README, "Training recipe").
    keras_drifa.recalibrate_batch_norm(model, [x_a[:256], x_b[:256]])

    t_a, t_b, t_y, r_a, r_b = make_pairs(300, seed=1)
    probabilities = model.predict([t_a, t_b], verbose=0)
    for k, task in enumerate(("disc_colour", "bar_orientation")):
        accuracy = np.mean(probabilities[k].argmax(-1) == t_y[:, k])
        print(f"held-out accuracy, {task}: {accuracy:.3f} (300 pairs)")
    cam = GradCAM(model)
    a = cam([t_a, t_b], task="disc_colour", class_index=t_y[:, 0], verbose=0)["image_a"]
    b = cam([t_a, t_b], task="bar_orientation", class_index=t_y[:, 1], verbose=0)["image_b"]
    print(
        "pointing game (map peak within 3 px of the evidence, true class, 300 pairs): "
        f"modality A / disc_colour {pointing_game(a, r_a):.3f}, "
        f"modality B / bar_orientation {pointing_game(b, r_b):.3f}"
    )

    # One pair per class of task disc_colour, each explained under MC dropout.
    shown = [int(np.flatnonzero(t_y[:, 0] == c)[0]) for c in range(3)]
    sampled = GradCAM(model, num_samples=20)
    inputs = [t_a[shown], t_b[shown]]
    per_task = [sampled(inputs, task=t, verbose=0) for t in ("disc_colour", "bar_orientation")]
    fig = figure(
        t_a[shown], t_b[shown], t_y[shown], (r_a[shown], r_b[shown]),
        [dict(r) for r in per_task], [r.std for r in per_task], [p[shown] for p in probabilities],
    )
    png = _small_png(fig)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "wb") as file:
        file.write(png)
    print(f"wrote {args.output} ({len(png) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
