"""`last_stage_layout_map`: which kernels ModelParallel splits (cheap: no training).

That a model trains under it as under DataParallel is measured by
benchmarks/model_parallel.py (1.4e-5 apart after 4 SGD steps on two virtual devices).
"""

import re

import keras
import pytest

import keras_drifa

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution.ModelParallel runs on JAX only",
)


def mesh(axes=("batch", "model")):
    devices = keras.distribution.list_devices()[:1]
    return keras.distribution.DeviceMesh((1, 1), list(axes), devices)


def test_splits_the_last_stage_kernels_only():
    model = keras_drifa.build_model(
        2, (16, 16, 3), 3, widths=(4, 4, 8, 16), blocks_per_stage=(1, 1, 1, 2)
    )
    layouts = keras_drifa.distributed.last_stage_layout_map(mesh(), (1, 1, 1, 2))
    split = {
        v.path: layouts[v.path].axes for v in model.weights
        if any(re.search(key, v.path) for key in layouts.keys())
    }
    assert len(split) == 18  # per branch: 2 blocks x (2 convs + 2 MFAs) + the block-4 MFA
    assert all(("block4" in p or "block5" in p) for p in split)
    assert split["modality_1_block5/conv_2/kernel"] == (None, None, None, "model")
    assert split["modality_0_block4_mfa/kernels"] == (None, None, "model")


def test_needs_the_model_axis():
    with pytest.raises(ValueError, match="model_axis='model' is not an axis"):
        keras_drifa.distributed.last_stage_layout_map(mesh(("batch", "width")))
