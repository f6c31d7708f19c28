"""Model parallelism on JAX: DRIFA-Net's widest kernels split over a `model` axis of devices."""

import keras


def last_stage_layout_map(device_mesh, blocks_per_stage=None, model_axis="model"):
    """A `keras.distribution.LayoutMap` that splits the last stage over `model_axis`.

    The last stage of the `"drifa"` backbone (512 channels in the paper) holds most of the
    paper network's weights: its 3x3 convolutions and the stacked kernels of its MFAs are
    32.2 of the 53.9 million parameters. This map splits their output channels over the
    `model_axis` of `device_mesh`; everything else stays replicated, and the batch is split
    over the mesh's other axis. Use it with `keras.distribution.ModelParallel` (JAX only).

    When it pays: only when those kernels and their optimizer state (about 0.5 GB in
    float32 with Adam at the paper's widths) crowd a device's memory. DRIFA-Net's
    activations, not its weights, fill a GPU at 128x128, so data parallelism is the faster
    choice whenever the model fits (see `benchmarks/model_parallel.py`).

    Args:
        device_mesh: a `keras.distribution.DeviceMesh` with a `model_axis`.
        blocks_per_stage: the model's `build_model(blocks_per_stage=...)`; default the
            paper's.
        model_axis: the mesh axis to split the kernels over.

    Example:

    ```python
    devices = keras.distribution.list_devices()
    mesh = keras.distribution.DeviceMesh((len(devices) // 2, 2), ["batch", "model"], devices)
    distribution = keras.distribution.ModelParallel(
        layout_map=keras_drifa.distributed.last_stage_layout_map(mesh), batch_dim_name="batch")
    with distribution.scope():
        model = keras_drifa.build_model(2)
    ```
    """
    if model_axis not in device_mesh.axis_names:
        raise ValueError(
            f"last_stage_layout_map: model_axis={model_axis!r} is not an axis of the device "
            f"mesh, whose axes are {list(device_mesh.axis_names)}."
        )
    if blocks_per_stage is None:
        from keras_drifa.models.drifa_net import PAPER_BLOCKS_PER_STAGE as blocks_per_stage
    blocks_per_stage = tuple(blocks_per_stage)
    first = sum(blocks_per_stage[:-1]) + 1
    blocks = "|".join(str(k) for k in range(first, sum(blocks_per_stage) + 1))
    layouts = keras.distribution.LayoutMap(device_mesh)
    # Stacked attention kernels (k, C, C) and 3x3 convolution kernels (3, 3, C_in, C).
    layouts[rf".*block({blocks})(_mfa|/mfa_\d)?/kernels"] = (None, None, model_axis)
    layouts[rf".*block({blocks})/conv_\d/kernel"] = (None, None, None, model_axis)
    return layouts
