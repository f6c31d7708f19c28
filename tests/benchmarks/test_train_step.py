"""benchmarks/train_step.py: the `optimizer` measure times both Adams on this backend,
`--optimizer` gives `train` the optimizer asked for, and `--member-loop` the ensemble its
member loop setting."""

import argparse
import importlib.util
import pathlib

import keras

from keras_drifa.optimizers import FusedAdam

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def load_script():
    spec = importlib.util.spec_from_file_location("train_step", BENCHMARKS / "train_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_args(**overrides):
    values = dict(size=32, batch_size=2, steps=1, repeats=1, widths=[8, 16], blocks=[1, 1],
                  optimizer="adam")
    return argparse.Namespace(**{**values, **overrides})


def test_optimizer_measure_times_both_adams():
    result = load_script().measure_optimizer(tiny_args())
    assert result["Adam update ms"] > 0 and result["FusedAdam update ms"] > 0
    assert result["FusedAdam / Adam"] == result["FusedAdam update ms"] / result["Adam update ms"]


def test_optimizer_option_picks_the_optimizer():
    script = load_script()
    assert isinstance(script._optimizer(keras, "fused"), FusedAdam)
    assert type(script._optimizer(keras, "adam")).__name__ == "Adam"


def test_member_loop_option_reaches_the_ensemble_when_it_has_the_argument():
    script = load_script()
    import keras_drifa

    assert script._member_loop_argument(keras_drifa, "auto") == {}
    assert script._member_loop_argument(keras_drifa, "on") == {"member_loop": True}
    assert script._member_loop_argument(keras_drifa, "off") == {"member_loop": False}

    class Before:  # a baseline's package, from before the member loop
        class MCDropoutEnsemble:
            def __init__(self, members, num_members=None, **kwargs):
                pass

    assert script._member_loop_argument(Before, "on") == {}
