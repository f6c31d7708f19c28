"""Parameter counts of DRIFA models on other backbones: two modalities at 224x224.

Builds `keras_drifa.build_model(modalities=2, input_shape=(224, 224, 3), num_classes=(5, 7),
backbone=...)` with random weights (nothing is downloaded) for each backbone and prints a
Markdown table: the default feature levels (layer name and channels), the parameters of the
two backbone copies, of DRIFA's attention (MFA per branch and MIFA at every level) and in
total. The first row is the paper network (`backbone="drifa"`). A KerasCV ResNet50V2
(`ResNetV2Backbone` with the ResNet50V2 configuration, built offline) is added when
KerasCV is installed (`pip install keras-drifa[cv]`).

    KERAS_BACKEND=torch python benchmarks/backbone_params.py
    KERAS_BACKEND=torch python benchmarks/backbone_params.py --backbones resnet50 efficientnetb0

Parameter counts do not depend on the backend.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_drifa  # noqa: E402
from keras_drifa.layers import MFA, MIFA  # noqa: E402

BACKBONES = [
    "drifa",
    "resnet50",
    "resnet50v2",
    "efficientnetb0",
    "efficientnetv2b0",
    "densenet121",
    "mobilenet",
    "mobilenetv2",
    "mobilenetv3small",
    "mobilenetv3large",
    "convnexttiny",
    "keras_cv.ResNetV2Backbone (ResNet50V2)",
]
KERAS_CV_RESNET50V2 = BACKBONES[-1]


def keras_cv_resnet50v2():
    import keras_cv

    # The ResNet50V2Backbone alias fetches its preset config from Kaggle; the base class
    # with the same configuration builds offline.
    return keras_cv.models.ResNetV2Backbone(
        stackwise_filters=[64, 128, 256, 512],
        stackwise_blocks=[3, 4, 6, 3],
        stackwise_strides=[1, 2, 2, 2],
        input_shape=(None, None, 3),
        include_rescaling=False,
    )


def count(layers):
    return sum(layer.count_params() for layer in layers)


def row(name):
    backbone = keras_cv_resnet50v2() if name == KERAS_CV_RESNET50V2 else name
    model = keras_drifa.build_model(
        modalities=2, input_shape=(224, 224, 3), num_classes=(5, 7), backbone=backbone
    )
    total = model.count_params()
    if name == "drifa":
        return f"| drifa (the paper network) | 8 RRA blocks, 64-512 channels | | | {total:,} |"
    mifas = [layer for layer in model.layers if isinstance(layer, MIFA)]
    mfas = [layer for layer in model.layers if isinstance(layer, MFA)]
    heads = [model.get_layer(task) for task in ("task_0", "task_1")]
    attention = count(mifas) + count(mfas)
    levels = []
    for k, mifa in enumerate(mifas, start=1):
        consumer = model.get_layer(f"modality_0_level{k}_mfa")
        tapped = consumer.input._keras_history.operation.name.removeprefix("modality_0_")
        levels.append(f"{tapped} ({mifa.units})")
    return (
        f"| {name} | {', '.join(levels)} | {total - attention - count(heads):,} | "
        f"{attention:,} | {total:,} |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=BACKBONES)
    args = parser.parse_args()
    try:
        import keras_cv  # noqa: F401
    except ImportError:
        args.backbones = [b for b in args.backbones if b != KERAS_CV_RESNET50V2]

    print(f"keras {keras.__version__}, backend {keras.backend.backend()}; two modalities, "
          "224x224x3, heads of 5 and 7 classes, random weights\n")
    print("| backbone | default feature levels (channels) | backbone copies | "
          "MFA + MIFA | total |")
    print("|---|---|---:|---:|---:|")
    for name in args.backbones:
        print(row(name), flush=True)
        keras.backend.clear_session()


if __name__ == "__main__":
    main()
