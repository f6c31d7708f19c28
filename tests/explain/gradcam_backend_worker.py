"""Grad-CAM maps of a tiny DRIFA-Net with saved weights, under the backend in KERAS_BACKEND.

Run as a script by test_gradcam_backends.py, once per other backend:
    python gradcam_backend_worker.py WEIGHTS INPUTS OUTPUT
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gradcam_testing import tiny_drifa  # noqa: E402

from keras_drifa.explain import GradCAM  # noqa: E402

# One stage keeps JAX's compilation short; the model still has MFA, MIFA, RRA blocks,
# MC dropout and batch normalisation.
CONFIG = dict(widths=(8,), blocks_per_stage=(1,))
# (method, task, class_index): predicted and fixed classes, both heads.
CASES = (
    ("gradcam", 0, None),
    ("hirescam", 1, None),
    ("gradcam++", 1, [0, 3, 2, 1]),
)


def explain(weights_path, inputs_path, output_path):
    model = tiny_drifa(**CONFIG)
    model.load_weights(weights_path)
    inputs = np.load(inputs_path)
    x = [inputs[name] for name in ("modality_0", "modality_1")]
    results = {}
    for method, task, class_index in CASES:
        maps = GradCAM(model, method=method)(x, task=task, class_index=class_index, verbose=0)
        raw = maps.raw
        for modality in maps:
            results[f"{method}/{modality}"] = maps[modality]
            results[f"{method}/{modality}/raw"] = raw[modality]
    np.savez(output_path, **results)


if __name__ == "__main__":
    explain(*sys.argv[1:4])
