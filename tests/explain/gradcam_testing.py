"""Models with known Grad-CAM behaviour, shared by the tests of `keras_drifa.explain`."""

import keras
import numpy as np
from keras import layers, ops

import keras_drifa

# A DRIFA-Net with every kind of layer (MFA, MIFA, MC dropout, RRA blocks) but only two
# stages, so its last feature maps are 4x4 and 3x3 rather than 1x1; the modalities have
# different sizes and channels, which the fusion head handles branch by branch.
TINY_DRIFA = dict(
    modalities=2,
    input_shape=[(32, 32, 3), (24, 24, 1)],
    num_classes=(3, 4),
    widths=(8, 16),
    blocks_per_stage=(1, 1),
)


def tiny_drifa(**overrides):
    return keras_drifa.build_model(**dict(TINY_DRIFA, **overrides))


def drifa_inputs(model, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((n,) + tuple(t.shape[1:]), dtype=np.float32) for t in model.inputs]


def conv_bn_gap_dense(activation="softmax", seed=0):
    """image (6, 5, 2) -> conv "conv" (3 filters) -> batch norm -> dropout -> GAP -> Dense(4).

    The batch norm has non-trivial moving statistics and the dropout a high rate, so maps
    computed in training mode would differ from the closed form.
    """
    rng = np.random.default_rng(seed)
    inputs = keras.Input((6, 5, 2), name="image")
    features = layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    normalised = layers.BatchNormalization(name="bn")(features)
    dropped = layers.Dropout(0.5, name="dropout")(normalised)
    pooled = layers.GlobalAveragePooling2D(name="pool")(dropped)
    outputs = layers.Dense(4, activation=activation, name="out")(pooled)
    model = keras.Model(inputs, outputs)
    bn = model.get_layer("bn")
    bn.set_weights(
        [rng.uniform(0.5, 2.0, 3), rng.normal(0, 0.5, 3), rng.normal(0, 0.5, 3),
         rng.uniform(0.5, 2.0, 3)]
    )
    return model


def conv2d_same(x, kernel, bias):
    """NumPy stride-1 'same' convolution, (batch, h, w, c) * (kh, kw, c, k)."""
    kh, kw = kernel.shape[:2]
    h, w = x.shape[1:3]
    padded = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    out = np.zeros(x.shape[:3] + (kernel.shape[-1],))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("bhwc,ck->bhwk", padded[:, i : i + h, j : j + w], kernel[i, j])
    return out + bias


def closed_form(model, x, method, class_index=None):
    """Grad-CAM of `conv_bn_gap_dense` in closed form, from its weights (float64).

    Inference-mode batch norm is affine per channel and GAP and Dense are linear, so the
    gradient of logit c with respect to the conv map is constant over space:
    g_k = W[k, c] * scale_k / (H W), with scale_k = gamma_k / sqrt(var_k + eps).
    """
    kernel, bias = model.get_layer("conv").get_weights()
    gamma, beta, mean, var = model.get_layer("bn").get_weights()
    weights, dense_bias = model.get_layer("out").get_weights()
    eps = model.get_layer("bn").epsilon
    features = conv2d_same(np.asarray(x, np.float64), kernel, bias)
    scale = gamma / np.sqrt(var + eps)
    pooled = ((features - mean) * scale + beta).mean(axis=(1, 2))
    logits = pooled @ weights + dense_bias
    if class_index is None:
        class_index = logits.argmax(-1)
    class_index = np.broadcast_to(class_index, (x.shape[0],))
    area = features.shape[1] * features.shape[2]
    g = weights[:, class_index].T * scale / area  # (batch, channels), constant over space
    if method in ("gradcam", "hirescam"):
        channel_weights = g
    else:  # gradcam++ with a spatially constant gradient
        total = features.sum(axis=(1, 2))
        denominator = 2 * g**2 + total * g**3
        alpha = np.where(denominator != 0, g**2 / np.where(denominator != 0, denominator, 1), 0)
        channel_weights = area * alpha * np.maximum(g, 0)
    return np.maximum(np.einsum("bhwk,bk->bhw", features, channel_weights), 0), class_index


def fusion_model(seed=0):
    """Two branches that read each other after their first convolutions.

    conv_a, conv_b -> each gated by a sigmoid of the *other* branch's pooled features ->
    conv_a2, conv_b2 (tanh) -> pooled and concatenated with a skip of input a's mean ->
    Dense(3, softmax). Layers after conv_a and conv_b read both branches, and conv_a feeds
    conv_b2 through the gate.
    """
    keras.utils.set_random_seed(seed)
    a = keras.Input((6, 6, 2), name="a")
    b = keras.Input((4, 4, 2), name="b")
    fa = layers.Conv2D(3, 3, padding="same", name="conv_a")(a)
    fb = layers.Conv2D(3, 3, padding="same", name="conv_b")(b)
    gate_a = layers.Reshape((1, 1, 3), name="gate_a_shape")(
        layers.Dense(3, activation="sigmoid", name="gate_a")(
            layers.GlobalAveragePooling2D(name="pool_fa")(fa)
        )
    )
    gate_b = layers.Reshape((1, 1, 3), name="gate_b_shape")(
        layers.Dense(3, activation="sigmoid", name="gate_b")(
            layers.GlobalAveragePooling2D(name="pool_fb")(fb)
        )
    )
    ua = layers.Multiply(name="mix_a")([fa, gate_b])
    ub = layers.Multiply(name="mix_b")([fb, gate_a])
    va = layers.Conv2D(3, 3, padding="same", activation="tanh", name="conv_a2")(ua)
    vb = layers.Conv2D(3, 3, padding="same", activation="tanh", name="conv_b2")(ub)
    fused = layers.Concatenate(name="fused")(
        [
            layers.GlobalAveragePooling2D(name="pool_va")(va),
            layers.GlobalAveragePooling2D(name="pool_vb")(vb),
            layers.GlobalAveragePooling2D(name="skip")(a),
        ]
    )
    outputs = layers.Dense(3, activation="softmax", name="out")(fused)
    return keras.Model([a, b], outputs)


def fusion_logits(model, a, b, conv_a=None, conv_b=None, conv_b2=None):
    """The logits of `fusion_model`, written out by hand, with any of the three feature
    maps replaced by a given value (the rest of the network recomputed from it)."""
    layer = model.get_layer
    fa = layer("conv_a")(a) if conv_a is None else ops.convert_to_tensor(conv_a)
    fb = layer("conv_b")(b) if conv_b is None else ops.convert_to_tensor(conv_b)
    gate_a = layer("gate_a_shape")(layer("gate_a")(layer("pool_fa")(fa)))
    gate_b = layer("gate_b_shape")(layer("gate_b")(layer("pool_fb")(fb)))
    va = layer("conv_a2")(fa * gate_b)
    vb = layer("conv_b2")(fb * gate_a) if conv_b2 is None else ops.convert_to_tensor(conv_b2)
    fused = ops.concatenate(
        [ops.mean(va, axis=(1, 2)), ops.mean(vb, axis=(1, 2)), ops.mean(a, axis=(1, 2))],
        axis=-1,
    )
    out = layer("out")
    return ops.convert_to_numpy(ops.matmul(fused, out.kernel) + out.bias).astype(np.float64)


def finite_difference_gradient(logits_of, feature, class_index, eps=1e-2):
    """Central differences of logit `class_index[b]` of each sample with respect to
    `feature` (batch, h, w, k).

    `logits_of(features, copies)` returns the logits of `copies` stacked copies of the
    batch (its other inputs tiled to match); copy p has position p of the feature moved,
    so every perturbation goes through the model in one call.
    """
    feature = np.asarray(feature, np.float32)
    batch, shape = feature.shape[0], feature.shape[1:]
    positions = int(np.prod(shape))
    steps = eps * np.eye(positions, dtype=np.float32).reshape((positions, 1) + shape)
    index = np.broadcast_to(np.asarray(class_index)[None, :, None], (positions, batch, 1))

    def chosen_logits(sign):
        moved = (feature[None] + sign * steps).reshape((-1,) + shape)
        logits = logits_of(moved, positions).reshape(positions, batch, -1)
        return np.take_along_axis(logits, index, axis=-1)[..., 0]

    gradient = (chosen_logits(1) - chosen_logits(-1)) / (2 * eps)  # (positions, batch)
    return gradient.T.reshape(feature.shape)
