"""DRIFA-Net against the fusion baselines and its own ablations, on the synthetic tasks.

Run (the default size: 800 image pairs per data set at 64x64, 6 epochs, 3 seeds, sized
from the demo's training times for about 20 to 30 minutes on a quiet 2-core CPU machine;
README says what has been measured. PyTorch compiles nothing first, so it is the fastest
backend on a CPU):

    KERAS_BACKEND=torch python benchmarks/fusion_comparison.py

Models: every fusion option of `build_model(fusion=...)` (`keras_drifa.models.FUSIONS`:
drifa, concat, mlp, gated, cross_attention, transformer) and every rung of the ablation
ladder (`keras_drifa.models.ABLATIONS`). Two names that build the same network are trained
once, and the output says which (the ladder's "DRIFA-Net" is `fusion="drifa"`, its
"ResNet baseline" is `fusion="concat"`). All share the branches: per modality a stem and
three stages of one RRA block (16, 32, 64 filters), as the demo's reduced DRIFA-Net; the
baselines' heads have the default width (`fusion_units`: the branches' 64 channels).

Tasks (`keras_drifa.data.make_synthetic`, two modalities, noise 0.5, as the demo):

- the demo's paired data (`label_mode="paired"`, 4 classes): `pair_class = (cytology
  class + dermoscopy class) mod 4`, trained together with the two single-image heads
  `cytology_class` and `dermoscopy_class`, as in the demo;
- `same_quadrant` (`label_mode="same_quadrant"`, 2 classes): whether the two images'
  evidence regions sit in the same quadrant, a task that pooled vectors cannot solve.

Each data set is split 65/15/20 (train/validation/test, stratified on the fused label).

The recipe, one for every model and task, fixed before the first run and never changed
after looking at results (the demo's recipe, which was fixed on the demo's validation
split; the validation split of each run picks its kept epoch): Adam, learning rate 2e-3,
batch 32, 6 epochs, categorical cross-entropy per head, batch-norm momentum 0.9, and `keras_drifa.training.paper_schedule` (batch-norm
recalibration on 256 training inputs, learning rate x0.2 after 2 epochs without a lower
validation loss, the weights of the epoch with the lowest validation loss kept). Every
model is compiled once and trained from scratch per seed (`SeededRuns`), seeds 0, 1, ...

Printed per task: mean ± standard deviation over seeds of test accuracy, macro F1 and ECE,
and the parameter count, then a verdict per pair, DRIFA-Net against each other model, from
`keras_drifa.evaluation.compare_runs` on accuracy (the demo's rule: the difference of the
means counts when it exceeds twice its standard error and 0.01). The runs, the tables and
the verdicts are also written to `<output>/fusion_comparison.json` and
`<output>/fusion_comparison.csv` (rewritten after every model, so an interrupted run
leaves the runs it finished; `"complete": false` in the JSON until the end).

For a GPU, raise the sizes: e.g. `--samples 4000 --epochs 20 --seeds 5 --widths 32 64 128`.
"""

import argparse
import csv
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402
from keras_drifa import data as drifa_data  # noqa: E402
from keras_drifa.evaluation import classification_metrics, compare_runs, runs_table  # noqa: E402
from keras_drifa.models import ABLATIONS, FUSIONS  # noqa: E402
from keras_drifa.models.fusion import WIDE_FUSIONS  # noqa: E402
from keras_drifa.training import SeededRuns, paper_schedule  # noqa: E402

REFERENCE = "DRIFA-Net"
# The fusion options under their printed names; the ablation ladder keeps its own names.
FUSION_NAMES = {"drifa": REFERENCE, "concat": "concat", "mlp": "mlp", "gated": "gated",
                "cross_attention": "cross_attention", "transformer": "transformer"}
DATA_SETS = {
    # data set -> make_synthetic label_mode, classes, the task the split is stratified on
    "pair": ("paired", 4, "pair_class"),
    "same_quadrant": ("same_quadrant", 4, "same_quadrant"),
}
MODALITIES = ("cytology", "dermoscopy")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="training runs per model and task")
    parser.add_argument("--samples", type=int, default=800, help="image pairs per data set")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--noise", type=float, default=0.5, help="pixel noise of the images")
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64],
                        help="filters per stage (one RRA block each)")
    parser.add_argument("--fusion-units", type=int, default=None,
                        help="width of the baselines' fusion heads (default: the last width)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--models", nargs="+", default=None,
                        help="train only these (printed names, e.g. DRIFA-Net mlp)")
    parser.add_argument("--data", nargs="+", default=list(DATA_SETS), choices=list(DATA_SETS),
                        help="data sets to train on")
    parser.add_argument("--output", default="outputs", help="folder for the JSON and CSV")
    return parser.parse_args(argv)


# --- models ---------------------------------------------------------------------------


def configurations():
    """`[(name, origin, build_model keyword arguments)]`: the fusion options, then the
    ablation ladder; `origin` says where the name comes from, for the output."""
    configs = [(FUSION_NAMES[f], f"fusion={f!r}", {"fusion": f}) for f in FUSIONS]
    configs += [(name, f"ablation ladder's {name!r}", dict(kwargs)) for name, kwargs in ABLATIONS.items()]
    return configs


def build(kwargs, data, args, name):
    return keras_drifa.build_model(
        modalities=data.modality_names,
        input_shape=data.input_shapes,
        num_classes=task_classes(data),
        widths=tuple(args.widths),
        blocks_per_stage=(1,) * len(args.widths),
        batch_norm_momentum=0.9,
        name=name.replace(" ", "_").replace("-", "_").lower(),
        **({"fusion_units": args.fusion_units}
           if args.fusion_units and kwargs.get("fusion") in WIDE_FUSIONS else {}),
        **kwargs,
    )


def architecture(model):
    """The model's configuration without its name: equal for equal networks."""
    config = model.get_config()
    config.pop("name", None)
    return json.dumps(config, sort_keys=True, default=str)


def distinct_models(data, args):
    """`(models, same_as)`: one built model per distinct network, under the name it is
    reported by, and `{origin: reported name}` for every configuration whose network is
    already among them."""
    models, seen, same_as = {}, {}, {}
    for name, origin, kwargs in configurations():
        if args.models and name not in args.models:
            continue
        model = build(kwargs, data, args, name)
        key = architecture(model)
        if key in seen:
            same_as[origin] = seen[key]
            continue
        seen[key] = name
        models[name] = model
    return models, same_as


# --- data -----------------------------------------------------------------------------


def task_classes(data):
    if data.label_mode == "paired":
        classes = data.num_classes["label"]
        return {**{f"{m}_class": classes for m in data.modality_names}, "pair_class": classes}
    return {"same_quadrant": 2}


def task_labels(data):
    if data.label_mode == "paired":
        return {**{f"{m}_class": codes for m, codes in data.codes.items()},
                "pair_class": data.labels["label"]}
    return {"same_quadrant": data.labels["label"]}


def make_data(name, args):
    label_mode, classes, stratify = DATA_SETS[name]
    data = drifa_data.make_synthetic(
        args.samples, modalities=list(MODALITIES), image_size=args.image_size,
        num_classes=classes, label_mode=label_mode, noise=args.noise, seed=0,
    )
    labels = task_labels(data)
    split = drifa_data.stratified_split(labels[stratify], 0.15, 0.2, seed=0)
    return data, labels, split


def take(arrays, index):
    return {name: array[index] for name, array in arrays.items()}


def targets(labels, classes, index):
    """One-hot targets of the rows `index`: a dict for several heads, one array for one."""
    y = {t: np.eye(classes[t], dtype="float32")[labels[t][index]] for t in labels}
    return y if len(y) > 1 else next(iter(y.values()))


# --- training -------------------------------------------------------------------------


def train_over_seeds(model, args, data, labels, split):
    """Test metrics per seed, `[{task: classification_metrics(...)}]`, for one model."""
    train, val, test = split
    classes = task_classes(data)
    x_train, x_val, x_test = (take(data.images, i) for i in split)
    y_train, y_val = targets(labels, classes, train), targets(labels, classes, val)
    tasks = list(classes)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss={t: "categorical_crossentropy" for t in tasks} if len(tasks) > 1
        else "categorical_crossentropy",
    )
    runs = SeededRuns(model)
    results = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        runs.start(seed)
        model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                  batch_size=args.batch_size, verbose=0,
                  callbacks=paper_schedule(take(x_train, slice(0, 256)), patience=2))
        probs = model.predict(x_test, batch_size=64, verbose=0)
        probs = dict(zip(tasks, probs if len(tasks) > 1 else [probs]))
        results.append({t: classification_metrics(probs[t], labels[t][test]) for t in tasks})
        cells = ", ".join(f"{t} {results[-1][t]['accuracy']:.3f}" for t in tasks)
        print(f"  {model.name}, seed {seed}: {time.perf_counter() - start:.0f} s; test "
              f"accuracy {cells}", flush=True)
    return results


# --- report ---------------------------------------------------------------------------


def task_table(task, runs, params):
    """runs_table's mean ± std per metric, with the parameter count appended."""
    lines = runs_table(runs, title=task).splitlines()
    lines[1] += f"{'parameters':>13}"
    for i, name in enumerate(runs, start=2):
        lines[i] += f"{params[name]:>13,}"
    return "\n".join(lines)


def verdicts_for(task_runs):
    """DRIFA-Net against every other model: `{name: (verdict, difference, error)}`."""
    reference = task_runs.get(REFERENCE)
    if reference is None or len(reference) < 2:
        return {}
    return {name: compare_runs(reference, runs) for name, runs in task_runs.items()
            if name != REFERENCE}


def report(results, params, same_as):
    """Prints a table and the verdicts per task; returns the verdicts."""
    verdicts = {task: verdicts_for(task_runs) for task, task_runs in results.items()}
    for task, task_runs in results.items():
        print("\n" + task_table(task, task_runs, params[task]))
        if not verdicts[task]:
            print(f"verdicts: none ({REFERENCE} not trained, or fewer than two seeds)")
        for name, (verdict, difference, error) in verdicts[task].items():
            print(f"{REFERENCE} against {name}: {verdict} (accuracy {difference:+.3f} ± "
                  f"{error:.3f}, difference of means ± its standard error)")
    for origin, name in same_as.items():
        print(f"\nThe {origin} builds the same network as {name!r}: trained once, reported "
              f"as {name!r}.")
    return verdicts


def write_outputs(path, args, results, params, same_as, seconds, complete):
    """Writes the JSON and CSV (after every model, so an interrupted run leaves its runs)."""
    os.makedirs(path, exist_ok=True)
    verdicts = {task: verdicts_for(task_runs) for task, task_runs in results.items()}
    summary = {
        "settings": vars(args),
        "backend": keras.backend.backend(),
        "complete": complete,
        "seconds": seconds,
        "parameters": params,
        "same_network": same_as,
        "runs": results,
        "verdicts": {
            task: {name: {"verdict": v, "accuracy_difference": d, "standard_error": e}
                   for name, (v, d, e) in by_model.items()}
            for task, by_model in verdicts.items()
        },
    }
    with open(os.path.join(path, "fusion_comparison.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(path, "fusion_comparison.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "model", "seed", "accuracy", "f1", "ece", "parameters"])
        for task, task_runs in results.items():
            for name, runs in task_runs.items():
                for seed, run in enumerate(runs):
                    writer.writerow([task, name, seed, run["accuracy"], run["f1"], run["ece"],
                                     params[task][name]])
    return summary


def run(args):
    """Trains every distinct model on every data set; returns the JSON summary."""
    start = time.perf_counter()
    results, params, same_as = {}, {}, {}
    for data_name in args.data:
        data, labels, split = make_data(data_name, args)
        models, same_as = distinct_models(data, args)
        print(f"\nData {data_name!r}: {len(split[0])} train / {len(split[1])} validation / "
              f"{len(split[2])} test pairs of {args.image_size}x{args.image_size} images; tasks "
              f"{list(labels)}; models {list(models)}", flush=True)
        for name, model in models.items():
            for seed_run in train_over_seeds(model, args, data, labels, split):
                for task, metrics in seed_run.items():
                    results.setdefault(task, {}).setdefault(name, []).append(metrics)
                    # Per task: the heads, and so the counts, differ between data sets.
                    params.setdefault(task, {})[name] = model.count_params()
            write_outputs(args.output, args, results, params, same_as,
                          time.perf_counter() - start, complete=False)
    report(results, params, same_as)
    seconds = time.perf_counter() - start
    summary = write_outputs(args.output, args, results, params, same_as, seconds, complete=True)
    print(f"\nWrote {os.path.join(args.output, 'fusion_comparison.json')} and .csv. "
          f"Done in {seconds:.0f} s.")
    return summary


def main(argv=None):
    args = parse_args(argv)
    print(f"keras-drifa {keras_drifa.__version__} on Keras {keras.__version__}, backend "
          f"{keras.backend.backend()}; {args.seeds} seeds, {args.samples} pairs per data set, "
          f"{args.image_size}x{args.image_size}, widths {tuple(args.widths)}, {args.epochs} "
          f"epochs, batch {args.batch_size}, Adam {args.learning_rate:g}.", flush=True)
    return run(args)


if __name__ == "__main__":
    main()
