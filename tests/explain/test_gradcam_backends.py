"""The same model and weights give the same Grad-CAM maps on TensorFlow, JAX and PyTorch.

The weights of a tiny DRIFA-Net are saved under the current backend; the other two
backends load them in subprocesses and compute the same maps.
"""

import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from gradcam_backend_worker import CONFIG, explain
from gradcam_testing import drifa_inputs, tiny_drifa

BACKENDS = ("tensorflow", "jax", "torch")
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gradcam_backend_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(WORKER)))
# Normalised maps are in [0, 1]; the backends' convolutions differ in float32 rounding only.
ATOL = 1e-4


def test_backends_agree(tmp_path):
    others = [b for b in BACKENDS if b != keras.backend.backend()]
    missing = [b for b in others if importlib.util.find_spec(b) is None]
    if missing:
        pytest.skip(f"backends {missing} are not installed")
    keras.utils.set_random_seed(11)
    model = tiny_drifa(**CONFIG)
    # Non-trivial batch-norm statistics, so inference mode matters.
    rng = np.random.default_rng(11)
    for layer in model.layers:
        for variable in layer.non_trainable_weights:
            if variable.path.endswith("moving_mean"):
                variable.assign(rng.normal(0, 0.1, variable.shape))
            elif variable.path.endswith("moving_variance"):
                variable.assign(rng.uniform(0.5, 1.5, variable.shape))
    weights, inputs = tmp_path / "tiny.weights.h5", tmp_path / "inputs.npz"
    model.save_weights(weights)
    x = drifa_inputs(model, n=4, seed=11)
    np.savez(inputs, modality_0=x[0], modality_1=x[1])

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    processes = {
        backend: subprocess.Popen(
            [sys.executable, WORKER, str(weights), str(inputs), str(tmp_path / f"{backend}.npz")],
            env=dict(env, KERAS_BACKEND=backend),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for backend in others
    }
    explain(weights, inputs, tmp_path / "here.npz")
    for backend, process in processes.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output.decode()[-3000:]

    here = np.load(tmp_path / "here.npz")
    assert any(here[k].max() > 0 for k in here.files)
    for backend in others:
        there = np.load(tmp_path / f"{backend}.npz")
        assert sorted(there.files) == sorted(here.files)
        for key in here.files:
            if key.endswith("/raw"):
                scale = np.abs(here[key]).max()
                np.testing.assert_allclose(
                    there[key], here[key], atol=1e-4 * scale, err_msg=f"{backend}: {key}"
                )
            else:
                np.testing.assert_allclose(
                    there[key], here[key], atol=ATOL, err_msg=f"{backend}: {key}"
                )
