"""Referral plot: the risk-coverage curves of several uncertainty scores, with bands."""

from keras_drifa import _checks
from keras_drifa import referral as _referral
from keras_drifa.viz._figures import new_axes, save


def risk_coverage_plot(probs, labels, scores=None, *, band=True, num_resamples=200, ax=None,
                       title=None, save_path=None):
    """Selective risk (error rate among the kept cases) against coverage (share kept),
    one curve per score, the softmax baseline first; lower is better. The legend gives
    each score's AURC. Needs matplotlib (`pip install 'keras-drifa[viz]'`).

    Args:
        probs: probabilities `(num_examples, num_classes)` or Monte Carlo samples
            `(..., num_examples, num_classes)`.
        labels: class indices `(num_examples,)` or one-hot labels.
        scores: names from `keras_drifa.referral.SCORES` or a dict `{name: scores}`, as
            in `keras_drifa.referral.referral_table`.
        band: shade each curve's 95% bootstrap band (`referral.risk_coverage_band`).
        num_resamples: bootstrap resamples of the band.
        ax: a matplotlib `Axes` to draw on; a new figure is made when `None`.
        title: axes title (default "Refer the least certain cases").
        save_path: if given, the figure is also saved there as a PNG.

    Returns:
        The matplotlib `Figure`; `ax.lines` holds one curve per score, in order.

    Example:

    ```python
    u = ensemble.predict_uncertainty(x_test, return_samples=True)
    keras_drifa.viz.risk_coverage_plot(u["task_0"]["samples"], y_test, save_path="referral.png")
    ```
    """
    fn = "risk_coverage_plot"
    checked = _checks.probabilities(fn, "probs", probs)
    if scores is None:
        scores = _referral.SCORES if checked.ndim > 2 else ("max_softmax", "predictive_entropy")
    if not isinstance(scores, dict):
        scores = {kind: _referral.score(checked, kind) for kind in scores}
    figure, ax = new_axes(ax, (5.0, 4.0))
    for name, values in scores.items():
        curve = _referral.risk_coverage_curve(checked, labels, values)
        area = _referral.aurc(checked, labels, values)
        (line,) = ax.plot(curve["coverage"], curve["selective_risk"],
                          label=f"{name.replace('_', ' ')} (AURC {area:.3f})")
        if band:
            low_high = _referral.risk_coverage_band(checked, labels, values, num_resamples)
            ax.fill_between(low_high["coverage"], low_high["low"], low_high["high"],
                            color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("coverage (share of cases kept)")
    ax.set_ylabel("error rate among kept cases")
    ax.set_title(title or "Refer the least certain cases")
    ax.legend(loc="upper left", fontsize=8)
    save(figure, save_path, fn)
    return figure
