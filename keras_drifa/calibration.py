"""Post-hoc calibration: temperature and vector scaling, fitted on held-out data.

NumPy in, NumPy out. A classifier trained to high accuracy is often over- or
under-confident: its probabilities say 0.6 where it is right 99% of the time. Post-hoc
scaling refits the sharpness of its probabilities on held-out data by minimising the
negative log-likelihood, and leaves the network alone.

Both methods act on log-probabilities `l = log p`. For a softmax head `p = softmax(z)`,
`l = z - logsumexp(z)` differs from the logits `z` by one constant per example, which
softmax ignores; so scaling `l` by one number is temperature scaling of the logits.

- `"temperature"`: `q = softmax(l / T)` with one temperature `T > 0` per task (Guo et
  al., "On Calibration of Modern Neural Networks", ICML 2017). It never changes which
  class is predicted, nor the order of the examples by confidence.
- `"vector"`: `q = softmax(w * l + b)` with one scale `w_k > 0` and one bias `b_k` per
  class: vector scaling (Guo et al. 2017) on log-probabilities, which is the diagonal form
  of Dirichlet calibration (Kull et al., NeurIPS 2019). It can fix per-class biases that a
  single temperature cannot, and it CAN change the predicted class; `fit_scaling`'s
  callers report how often it does.

Temperature scaling keeps the class of every single prediction; averaged samples, each
scaled first, can change their average's class where the samples disagree.

Monte Carlo samples (`(..., num_examples, num_classes)`, leading axes the samples) are
calibrated one sample at a time and then averaged ("calibrate, then pool"): the fit
minimises the NLL of the averaged calibrated samples, so the mean, its entropy and the
mutual information all come from one consistent set of calibrated samples (the mutual
information stays >= 0).

Example:

>>> import numpy as np
>>> from keras_drifa import calibration
>>> probs = np.array([[0.6, 0.4], [0.4, 0.6], [0.6, 0.4], [0.7, 0.3]])
>>> scaling = calibration.fit_scaling(probs, [0, 1, 0, 0])   # always right: sharpen
>>> bool(scaling.temperature < 1), scaling(probs).argmax(-1).tolist()
(True, [0, 1, 0, 0])
"""

import dataclasses

import numpy as np

from keras_drifa import _checks

METHODS = ("temperature", "vector")
# Temperatures (and per-class scales) are kept within [1 / MAX_SCALE, MAX_SCALE]: data
# that the model gets all right would otherwise drive the temperature to zero.
MAX_SCALE = 100.0
# log p is taken of p clipped to float32's smallest normal number, as the Keras layer
# (`keras_drifa.layers.ProbabilityCalibration`) does in float32.
_TINY = float(np.finfo(np.float32).tiny)
# A tiny ridge on the parameters: softmax ignores a common shift of the biases, so
# without it the vector-scaling optimum is a line, not a point.
_RIDGE = 1e-6


@dataclasses.dataclass(frozen=True)
class Scaling:
    """Fitted scaling of one task's probabilities: `softmax(scale * log p + bias)`.

    Attributes:
        method: `"temperature"` or `"vector"`.
        scale: float64 `(num_classes,)`; all entries equal `1 / temperature` for
            temperature scaling.
        bias: float64 `(num_classes,)`; zero for temperature scaling.
    """

    method: str
    scale: np.ndarray
    bias: np.ndarray

    @property
    def temperature(self):
        """The fitted temperature (`1 / scale`); for vector scaling, one per class."""
        t = 1.0 / self.scale
        return float(t[0]) if self.method == "temperature" else t

    def __call__(self, probs):
        """Calibrated probabilities of the same shape as `probs` (samples not pooled)."""
        probs = _checks.probabilities("Scaling", "probs", probs)
        if probs.shape[-1] != len(self.scale):
            raise ValueError(
                f"Scaling: `probs` has {probs.shape[-1]} classes; this scaling was fitted on "
                f"{len(self.scale)}."
            )
        return _softmax(self.scale * _log(probs) + self.bias)


def fit_scaling(probs, labels, method="temperature"):
    """Fits temperature or vector scaling to `probs` by minimising the NLL of `labels`.

    Args:
        probs: held-out probabilities `(num_examples, num_classes)`, or Monte Carlo samples
            `(..., num_examples, num_classes)`: each sample is scaled, then they are
            averaged (the averaged prediction's NLL is what is minimised).
        labels: the true classes, `(num_examples,)` indices or one-hot.
        method: `"temperature"` (one parameter; keeps each sample's predicted class,
            though with several samples their average's may move) or `"vector"` (a
            scale and a bias per class; may change the predicted class).

    Returns:
        A `Scaling`; call it on probabilities (of the same model, same data
        distribution) to calibrate them.

    Example:

    >>> import numpy as np
    >>> probs = np.array([[0.99, 0.01], [0.99, 0.01], [0.01, 0.99], [0.99, 0.01]])
    >>> round(fit_scaling(probs, [0, 1, 1, 0]).temperature, 2)   # overconfident: soften
    4.18
    """
    fn = "fit_scaling"
    _checks.choice(fn, "method", method, METHODS)
    probs = _checks.probabilities(fn, "probs", probs)
    num_examples, num_classes = probs.shape[-2:]
    labels = _checks.class_labels(fn, labels, num_examples, num_classes)
    logs = _log(probs).reshape((-1, num_examples, num_classes))
    bound = np.log(MAX_SCALE)
    if method == "temperature":
        theta = _minimise(lambda t: _objective(logs, labels, t, tied=True), np.zeros(1), bound, 1)
        scale, bias = np.full(num_classes, np.exp(theta[0])), np.zeros(num_classes)
    else:
        start = fit_scaling(probs, labels, "temperature")
        theta0 = np.concatenate([np.log(start.scale), np.zeros(num_classes)])
        theta = _minimise(
            lambda t: _objective(logs, labels, t, tied=False), theta0, bound, num_classes
        )
        scale, bias = np.exp(theta[:num_classes]), theta[num_classes:]
    return Scaling(method, scale, bias)


def _log(probs):
    return np.log(np.maximum(probs, _TINY))


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _objective(logs, labels, theta, tied):
    """NLL of the averaged scaled samples and its gradient in `theta`.

    `theta` holds log scales (one, `tied`, or one per class) and then, untied, the biases.
    With `a = exp(u)` and `z_s = a * l_s + b`, `q_s = softmax(z_s)`, `m = mean_s q_s`:
    `dNLL / dz_sk = -(1 / (N S)) (q_sy / m_y) (delta_ky - q_sk)`.
    """
    num_samples, num_examples, num_classes = logs.shape
    if tied:
        log_scale, bias = np.full(num_classes, theta[0]), np.zeros(num_classes)
    else:
        log_scale, bias = theta[:num_classes], theta[num_classes:]
    scale = np.exp(log_scale)
    z = scale * logs + bias
    z = z - z.max(axis=-1, keepdims=True)
    log_q = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    rows = np.arange(num_examples)
    log_q_true = log_q[:, rows, labels]  # (S, N)
    top = log_q_true.max(axis=0)
    log_m_true = top + np.log(np.exp(log_q_true - top).mean(axis=0))
    loss = -log_m_true.mean() + _RIDGE * np.sum(theta**2)
    weight = np.exp(log_q_true - log_m_true) / (num_examples * num_samples)  # (S, N)
    q = np.exp(log_q)
    dz = weight[..., None] * q
    dz[:, rows, labels] -= weight
    grad_scale = scale * np.einsum("snk,snk->k", dz, logs)
    grad_bias = dz.sum(axis=(0, 1))
    grad = np.array([grad_scale.sum()]) if tied else np.concatenate([grad_scale, grad_bias])
    return loss, grad + 2 * _RIDGE * theta


def _minimise(objective, theta, bound, num_bounded, max_iter=500, tol=1e-9):
    """BFGS with a backtracking (Armijo) line search; the first `num_bounded` entries
    (log scales) are kept within `[-bound, bound]`."""
    def project(t):
        t = t.copy()
        t[:num_bounded] = np.clip(t[:num_bounded], -bound, bound)
        return t

    loss, grad = objective(theta)
    inverse_hessian = np.eye(len(theta))
    for _ in range(max_iter):
        if np.max(np.abs(grad)) < tol:
            break
        direction = -inverse_hessian @ grad
        if direction @ grad >= 0:  # not a descent direction: restart from the gradient
            inverse_hessian = np.eye(len(theta))
            direction = -grad
        step, improved = 1.0, False
        while step > 1e-12:
            candidate = project(theta + step * direction)
            new_loss, new_grad = objective(candidate)
            if new_loss <= loss + 1e-4 * grad @ (candidate - theta):
                improved = True
                break
            step /= 2
        if not improved:
            break
        s, y = candidate - theta, new_grad - grad
        theta, loss, grad = candidate, new_loss, new_grad
        sy = s @ y
        if sy > 1e-12:
            rho = 1.0 / sy
            eye = np.eye(len(theta))
            inverse_hessian = (eye - rho * np.outer(s, y)) @ inverse_hessian @ (
                eye - rho * np.outer(y, s)
            ) + rho * np.outer(s, s)
        if np.all(np.abs(s) < 1e-12):
            break
    return theta
