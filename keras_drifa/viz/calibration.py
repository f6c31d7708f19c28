"""Calibration plots: a reliability diagram and uncertainty of right against wrong predictions."""

import numpy as np

from keras_drifa import _checks, uncertainty as _uncertainty
from keras_drifa.viz._figures import new_axes, save


def reliability_diagram(
    probs, labels, num_bins=_uncertainty.DEFAULT_NUM_BINS, *, ax=None, title=None, save_path=None
):
    """Reliability diagram: accuracy against confidence in equal-width bins.

    Each bar is the accuracy of the predictions whose top probability falls in the bin;
    the diagonal is perfect calibration. Red segments show the gap to the bin's mean
    confidence: bars below the diagonal mean overconfidence. The legend gives the ECE
    (`keras_drifa.uncertainty.expected_calibration_error`, same bins). Needs matplotlib
    (`pip install 'keras-drifa[viz]'`).

    Args:
        probs: probabilities `(num_examples, num_classes)`, e.g.
            `ensemble.predict_uncertainty(x)["task_0"]["mean"]`.
        labels: class indices `(num_examples,)` or one-hot labels.
        num_bins: number of equal-width confidence bins.
        ax: a matplotlib `Axes` to draw on; a new figure is made when `None`.
        title: axes title (default "Reliability diagram").
        save_path: if given, the figure is also saved there as a PNG.

    Returns:
        The matplotlib `Figure`. Its first `ax.containers` entry holds one accuracy bar
        per non-empty bin.

    Example:

    ```python
    u = ensemble.predict_uncertainty(x_test)
    fig = keras_drifa.viz.reliability_diagram(u["task_0"]["mean"], y_test, save_path="rel.png")
    ```
    """
    num_bins = _checks.num_bins("reliability_diagram", num_bins)
    bins = _uncertainty.reliability_bins(probs, labels, num_bins)
    ece = _uncertainty.expected_calibration_error(probs, labels, num_bins)
    figure, ax = new_axes(ax, (4.5, 4.5))
    edges, filled = bins["edges"], bins["count"] > 0
    width = edges[1] - edges[0]
    left = edges[:-1][filled]
    ax.bar(left, bins["accuracy"][filled], width=width, align="edge", color="tab:blue",
           edgecolor="black", linewidth=0.6, label="accuracy")
    ax.bar(left + width / 2, bins["confidence"][filled] - bins["accuracy"][filled],
           bottom=bins["accuracy"][filled], width=width * 0.35, color="tab:red", alpha=0.6,
           label="gap to confidence")
    ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(title or "Reliability diagram")
    ax.legend(loc="upper left", fontsize=8, title=f"ECE = {ece:.3f}", title_fontsize=8)
    save(figure, save_path, "reliability_diagram")
    return figure


def uncertainty_histogram(
    probs,
    labels,
    uncertainty,
    *,
    measure="uncertainty",
    num_bins=30,
    ax=None,
    title=None,
    save_path=None,
):
    """Histograms of an uncertainty score for right and for wrong predictions.

    A useful score puts wrong predictions to the right (more uncertain) of right ones;
    the legend gives the misclassification AUROC
    (`keras_drifa.uncertainty.misclassification_auroc`). The two histograms share bins and
    are normalised to unit area, so they compare even when errors are rare. Needs
    matplotlib (`pip install 'keras-drifa[viz]'`).

    Args:
        probs: probabilities `(num_examples, num_classes)`, which define the predictions.
        labels: class indices `(num_examples,)` or one-hot labels.
        uncertainty: one score per example `(num_examples,)`, e.g.
            `u["task_0"]["mutual_information"]`.
        measure: name of the score, for the axis label.
        num_bins: number of histogram bins.
        ax: a matplotlib `Axes` to draw on; a new figure is made when `None`.
        title: axes title.
        save_path: if given, the figure is also saved there as a PNG.

    Returns:
        The matplotlib `Figure`; `ax.containers` holds the bars of the right and then of
        the wrong predictions (a group is left out when it is empty).

    Example:

    ```python
    task = ensemble.predict_uncertainty(x_test)["task_0"]
    fig = keras_drifa.viz.uncertainty_histogram(
        task["mean"], y_test, task["mutual_information"], measure="mutual information")
    ```
    """
    fn = "uncertainty_histogram"
    num_bins = _checks.num_bins(fn, num_bins)
    auroc = _uncertainty.misclassification_auroc(probs, labels, uncertainty)
    probs = np.asarray(probs)
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[-1] > 1:
        labels = labels.argmax(axis=-1)
    labels = labels.reshape(-1)
    scores = np.asarray(uncertainty, dtype=np.float64)
    wrong = probs.argmax(axis=-1) != labels
    figure, ax = new_axes(ax, (5.5, 4))
    low, high = scores.min(), scores.max()
    edges = np.linspace(low, high if high > low else low + 1e-6, num_bins + 1)
    for chosen, name, color in ((~wrong, "right", "tab:green"), (wrong, "wrong", "tab:red")):
        if chosen.any():
            ax.hist(scores[chosen], bins=edges, density=True, alpha=0.55, color=color,
                    label=f"{name} ({int(chosen.sum())})")
    ax.set_xlabel(measure)
    ax.set_ylabel("density")
    ax.set_title(title or f"{measure.capitalize()} of right and wrong predictions")
    auroc_text = "undefined" if np.isnan(auroc) else f"{auroc:.3f}"
    ax.legend(fontsize=8, title=f"error AUROC = {auroc_text}", title_fontsize=8)
    save(figure, save_path, fn)
    return figure
