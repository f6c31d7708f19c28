"""keras-drifa quick start: what DRIFA-Net's attention adds, measured on embedded data.

Run with `make demo` (sets up a virtual environment first) or directly:

    KERAS_BACKEND=jax python examples/quickstart.py

It generates pairs of noisy synthetic images (a pap-smear-like cell field and a
dermoscopy-like lesion, 64x64) with three labels: the class drawn into the cell image, the
class drawn into the lesion image, and the pair class `(cell class + lesion class) mod 4`,
which neither image determines alone. It trains a reduced DRIFA-Net and, as its opponent,
the same branches without MFA and MIFA fused by a hidden layer (`fusion="mlp"`: late fusion
with a ReLU layer before the heads, which can combine the two images' features) with three
seeds each, prints mean and standard deviation of accuracy, macro F1 and calibration error
per task with a verdict, turns the three DRIFA-Nets into a Monte Carlo dropout ensemble and
reports its uncertainty, scores Grad-CAM maps against the known evidence regions, and
writes its figures to `outputs/`. `benchmarks/fusion_comparison.py` puts DRIFA-Net against
every fusion baseline and ablation.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Minutes for the default settings on a quiet 2-core CPU machine, first run (compilation
# included), measured with `make demo BACKEND=...` (README, "The demo").
EXPECTED_MINUTES = {"tensorflow": 6, "jax": 7, "torch": 4}
# JAX keeps compiled code here between runs. A second run of the demo reuses it: 222 s
# instead of 396 s, its first seed 52 s instead of 124 s (README, "The demo": Time).
JAX_CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "jax")


def _enable_jax_cache():
    """Turns on JAX's persistent compilation cache (before anything compiles)."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "jax":
        return None
    import jax

    os.makedirs(JAX_CACHE, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", JAX_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return len(os.listdir(JAX_CACHE))


_CACHED_ENTRIES = _enable_jax_cache()

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_drifa  # noqa: E402
from keras_drifa import calibration, conformal, ood, referral  # noqa: E402
from keras_drifa import data as drifa_data  # noqa: E402
from keras_drifa.evaluation import classification_metrics, compare_runs, runs_table  # noqa: E402
from keras_drifa.explain import GradCAM  # noqa: E402
from keras_drifa.training import SeededRuns, paper_schedule  # noqa: E402
from keras_drifa.uncertainty import summarize_samples  # noqa: E402

# DRIFA-Net and its opponent. The opponent is the strongest baseline that fits the time
# budget: late fusion with a hidden layer (benchmarks/fusion_comparison.py has them all).
BASELINE = "mlp fusion"
MODELS = ("DRIFA-Net", BASELINE)
INTERACTIVE = sys.stdout.isatty()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="image pairs in all")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--classes", type=int, default=4, help="classes of every task")
    # Noisy images, so that the single-image tasks are not solved perfectly: the
    # uncertainty section needs some wrong predictions to say anything.
    parser.add_argument("--noise", type=float, default=0.5, help="pixel noise of the images")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=3, help="training runs per model")
    parser.add_argument("--mc-samples", type=int, default=10, help="MC dropout samples")
    parser.add_argument("--output", default="outputs", help="folder for the figures")
    return parser.parse_args(argv)


# --- data ----------------------------------------------------------------------------


def make_data(args):
    """Synthetic pairs with three tasks: each image's own class and the pair class."""
    data = drifa_data.make_synthetic(
        args.samples, modalities=["cytology", "dermoscopy"], image_size=args.image_size,
        num_classes=args.classes, label_mode="paired", noise=args.noise, seed=0,
    )
    labels = {f"{m}_class": codes for m, codes in data.codes.items()}
    labels["pair_class"] = data.labels["label"]
    train, val, test = drifa_data.stratified_split(labels["pair_class"], 0.15, 0.2, seed=0)
    return data, labels, (train, val, test)


def take(arrays, index):
    return {name: array[index] for name, array in arrays.items()}


def one_hot(labels, num_classes):
    return {t: np.eye(num_classes, dtype="float32")[y] for t, y in labels.items()}


# --- training -------------------------------------------------------------------------


def build(data, num_classes, fusion="drifa"):
    """A reduced DRIFA-Net (`fusion="drifa"`) or baseline (e.g. `"mlp"`, the same branches
    without MFA and MIFA, fused by a hidden layer of 64 units): three stages of one RRA
    block (16, 32, 64 filters), so that 64x64 inputs end in 4x4 feature maps, the
    resolution Grad-CAM explains."""
    return keras_drifa.build_model(
        modalities=data.modality_names,
        input_shape=data.input_shapes,
        num_classes={t: num_classes for t in ("cytology_class", "dermoscopy_class", "pair_class")},
        widths=(16, 32, 64),
        blocks_per_stage=(1, 1, 1),
        fusion=fusion,
        batch_norm_momentum=0.9,
        name="drifa_net" if fusion == "drifa" else f"{fusion}_fusion",
    )


def compile_model(model):
    tasks = model.output_names
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss={t: "categorical_crossentropy" for t in tasks},
        metrics={t: ["accuracy"] for t in tasks},
    )
    return model


def train_over_seeds(model, args, x, y, validation, x_test, labels_test, labels_val):
    """Trains `model` once per seed (compiled once), returns the test metrics per seed,
    the weights per seed, the validation accuracy curves and, per seed, the test metrics
    after temperature scaling fitted on the validation split."""
    runs = SeededRuns(compile_model(model))
    metrics, weights, curves, calibrated = [], [], [], []
    for seed in range(args.seeds):
        start = time.perf_counter()
        runs.start(seed)
        history = model.fit(
            x, y, validation_data=validation, epochs=args.epochs, batch_size=32,
            callbacks=paper_schedule(take(x, slice(0, 256)), patience=2),
            verbose=1 if INTERACTIVE else 2,
        )
        probs = dict(zip(model.output_names, model.predict(x_test, batch_size=64, verbose=0)))
        metrics.append({t: classification_metrics(probs[t], labels_test[t]) for t in probs})
        weights.append(model.get_weights())
        curves.append({t: history.history[f"val_{t}_accuracy"] for t in probs})
        # Post-hoc calibration: one temperature per task, fitted on the validation split
        # (the model's own `predict`, compiled already), judged on the test split.
        calibrated_model = keras_drifa.CalibratedModel(model)
        fitted = calibrated_model.fit_calibration(validation[0], labels_val, verbose=0)
        after = {t: scaling(probs[t]) for t, scaling in calibrated_model.scalings.items()}
        calibrated.append({
            t: {"ece_before": metrics[-1][t]["ece"],
                "ece_after": classification_metrics(after[t], labels_test[t])["ece"],
                "temperature": fitted[t]["temperature"],
                "changed": int(np.sum(after[t].argmax(-1) != probs[t].argmax(-1)))}
            for t in probs
        })
        print(f"  {model.name}, seed {seed}: {time.perf_counter() - start:.0f} s")
    return metrics, weights, curves, calibrated


def report(results, tasks):
    """Per task: mean and standard deviation over seeds, and a verdict from them."""
    verdicts = {}
    for task in tasks:
        rows = {name: [run[task] for run in results[name]] for name in MODELS}
        print(runs_table(rows, title=f"\n{task}"))
        if len(rows["DRIFA-Net"]) < 2:
            verdicts[task] = "not judged (one seed per model; a verdict needs two or more)"
            print(f"verdict: {verdicts[task]}")
            continue
        verdict, difference, error = compare_runs(rows["DRIFA-Net"], rows[BASELINE])
        verdicts[task] = verdict
        print(f"verdict: DRIFA-Net {verdict} against the {BASELINE} baseline (accuracy "
              f"{difference:+.3f} ± {error:.3f}, difference of means ± its standard error)")
    return verdicts


# --- calibration, referral, conformal sets ----------------------------------------------


def mean_and_std(values):
    values = np.asarray(values, dtype=float)
    return values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0


def report_calibration(calibrated, tasks):
    """ECE on the test split before and after temperature scaling, mean ± std over seeds."""
    print("\nTemperature scaling (one temperature per task, fitted on the validation split), "
          "test-split ECE, mean ± std over seeds:")
    for name, runs in calibrated.items():
        for task in tasks:
            before = mean_and_std([run[task]["ece_before"] for run in runs])
            after = mean_and_std([run[task]["ece_after"] for run in runs])
            temperatures = [run[task]["temperature"] for run in runs]
            changed = sum(run[task]["changed"] for run in runs)
            print(f"  {name}, {task}: ECE {before[0]:.3f} ± {before[1]:.3f} -> {after[0]:.3f} ± "
                  f"{after[1]:.3f} (temperature {min(temperatures):.2f}-{max(temperatures):.2f}); "
                  f"predicted classes changed: {changed}")


def report_ensemble(sampled, labels_val, labels_test, tasks):
    """The ensemble's accuracy and ECE before and after temperature scaling of every
    Monte Carlo sample (fitted on the validation samples); returns the calibrated test
    summaries, with their samples."""
    calibrated = {}
    for task in tasks:
        scaling = calibration.fit_scaling(sampled["validation"][task]["samples"], labels_val[task])
        samples = scaling(sampled["test"][task]["samples"]).astype("float32")
        calibrated[task] = {**summarize_samples(samples), "samples": samples}
        raw, u = sampled["test"][task], calibrated[task]
        before = classification_metrics(raw["mean"], labels_test[task])["ece"]
        after = classification_metrics(u["mean"], labels_test[task])["ece"]
        accuracy = np.mean(u["predicted_class"] == labels_test[task])
        changed = int(np.sum(u["predicted_class"] != raw["predicted_class"]))
        print(f"  {task}: accuracy {accuracy:.3f}; ECE {before:.3f} -> {after:.3f} after "
              f"temperature scaling (T = {scaling.temperature:.2f}); predicted classes "
              f"changed: {changed}")
    return calibrated


def paired_aurc_difference(probs, labels, score_a, score_b, num_resamples=200, seed=0):
    """AURC(score_a) - AURC(score_b) and its bootstrap standard error (cases resampled
    together, so both scores see the same resample)."""
    rng = np.random.default_rng(seed)
    difference = referral.aurc(probs, labels, score_a) - referral.aurc(probs, labels, score_b)
    draws = []
    for _ in range(num_resamples):
        i = rng.integers(0, len(labels), len(labels))
        draws.append(referral.aurc(probs[i], labels[i], score_a[i])
                     - referral.aurc(probs[i], labels[i], score_b[i]))
    return difference, float(np.std(draws, ddof=1))


def report_referral(samples, labels, description):
    """"Refer the least certain X%": the referral table and whether mutual information
    beats the softmax baseline, with a bootstrap standard error."""
    table = referral.referral_table(samples, labels, scores=("max_softmax", "predictive_entropy",
                                                             "mutual_information"))
    print(f"\nReferral, {description}: accuracy on the cases kept when the least certain share "
          "is referred; AURC, AUGRC lower is better.")
    print("  " + str(table).replace("\n", "\n  "))
    baseline = referral.score(samples, "max_softmax")
    mi = referral.score(samples, "mutual_information")
    mean = samples.reshape((-1,) + samples.shape[-2:]).mean(axis=0)
    difference, error = paired_aurc_difference(mean, labels, mi, baseline)
    verdict = ("beats" if difference + 2 * error < 0 else
               "is worse than" if difference - 2 * error > 0 else "does not beat")
    print(f"  mutual information {verdict} the softmax baseline: AURC difference "
          f"{difference:+.4f} ± {error:.4f} (bootstrap standard error).")


def report_conformal(sampled, labels_val, labels_test, tasks, alpha):
    """Split conformal sets from the ensemble's (uncalibrated) mean: calibrated on the
    validation split, evaluated on the test split."""
    print(f"\nConformal prediction sets at alpha = {alpha} (promised coverage "
          f"{1 - alpha:.0%}; calibration split: validation, test split: test):")
    for task in tasks:
        cells = []
        for method in ("lac", "aps"):
            predictor = conformal.SplitConformal(alpha=alpha, method=method)
            predictor.fit(sampled["validation"][task]["mean"], labels_val[task])
            result = predictor.evaluate(sampled["test"][task]["mean"], labels_test[task])
            cells.append(f"{method.upper()} coverage {result['coverage']:.3f}, mean set size "
                         f"{result['mean_set_size']:.2f}, empty {result['empty']:.1%}")
        print(f"  {task}: " + "; ".join(cells))


def report_shift(ensemble, model, x_test, clean_samples, x_train, args, task="pair_class",
                 broken="dermoscopy"):
    """One failing input: the test pairs again with one modality replaced by noise. Can
    each score tell them from the clean pairs, and which input's influence on the
    prediction changes most? Returns the ensemble's samples of the shifted pairs."""
    shifted = drifa_data.make_shifted(x_test, "noise_modality", modality=broken, seed=1).images
    samples = {
        "clean": clean_samples,
        "shifted": ensemble.predict_uncertainty(
            shifted, num_samples=args.mc_samples, seed=0, return_samples=True, verbose=0
        )[task]["samples"],
    }
    logits = {name: ood.predict_logits(model, x, batch_size=64)[task]
              for name, x in (("clean", x_test), ("shifted", shifted))}
    ensemble_scores = {n: ood.ood_scores(samples=s) for n, s in samples.items()}
    single_scores = {n: ood.ood_scores(logits=z) for n, z in logits.items()}
    ensemble_table = ood.detection_table(ensemble_scores["clean"], ensemble_scores["shifted"])
    single_table = ood.detection_table(single_scores["clean"], single_scores["shifted"])
    print(f"\nShift detection: the {len(x_test[broken])} test pairs with {broken} replaced by "
          f"noise against the clean ones, {task}, AUROC (1 = always told apart, 0.5 = chance):")
    for label, table in (("ensemble", ensemble_table), ("DRIFA-Net seed 0", single_table)):
        cells = [f"{name} {row['auroc']:.3f}" for name, row in table.items()]
        print(f"  {label}: " + ", ".join(cells) + " (msp: the softmax baseline)")
    fill = {m: x.mean(axis=0) for m, x in x_train.items()}
    leaning = {
        name: ood.modality_attribution(model, x, fill=fill, batch_size=64)[task]
        for name, x in (("clean", x_test), ("shifted", shifted))
    }
    change = {m: abs(leaning["shifted"][m].mean() - leaning["clean"][m].mean()) for m in x_test}
    suspect = max(change, key=change.get)
    print("  which input broke: how much the prediction moves when each input is replaced by "
          "the training mean (total variation), clean -> shifted: " + ", ".join(
              f"{m} {leaning['clean'][m].mean():.3f} -> {leaning['shifted'][m].mean():.3f}"
              for m in x_test)
          + f"; it changes most for {suspect}"
          + (" (right)." if suspect == broken else f" (wrong: {broken} was broken)."))
    return samples["shifted"]


# --- Grad-CAM -------------------------------------------------------------------------


def peak_inside_mask(heatmaps, masks):
    """Share of maps whose maximum lies on the evidence region (the "pointing game" of
    Zhang et al., 2018). A flat map has no peak: its score is the chance that a random
    pixel is on the region, the region's mean area."""
    flat = heatmaps.reshape(len(heatmaps), -1)
    peaks = flat.argmax(axis=1)
    return float(np.mean(masks.reshape(len(masks), -1)[np.arange(len(flat)), peaks]))


def energy_inside_mask(heatmaps, masks):
    """Mean share of each map's energy that falls on the evidence region (a flat map
    scores the region's area)."""
    heat = heatmaps.reshape(len(heatmaps), -1)
    inside = (heat * masks.reshape(len(masks), -1)).sum(axis=1)
    return float(np.mean(inside / np.maximum(heat.sum(axis=1), 1e-12)))


def gradcam_scores(model, weights, x_test, masks, task):
    """Grad-CAM maps and localisation scores of the trained and of random weights."""
    cam = GradCAM(model)
    model.set_weights(weights)
    trained = cam(x_test, task=task, verbose=0)
    # A random-weights model of the same architecture, in the same (compiled) model.
    model.set_weights(type(model).from_config(model.get_config()).get_weights())
    random_maps = cam(x_test, task=task, verbose=0)
    model.set_weights(weights)
    scores = {
        m: {
            score.__name__: (score(trained[m], masks[m]), score(random_maps[m], masks[m]),
                             float(masks[m].mean()))
            for score in (peak_inside_mask, energy_inside_mask)
        }
        for m in masks
    }
    return trained, random_maps, scores


def save_gradcam_figure(path, images, masks, trained, random_maps, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modalities = list(images)
    rows = len(images[modalities[0]])
    fig, axes = plt.subplots(rows, 3 * len(modalities), figsize=(2.0 * 3 * len(modalities), 2.1 * rows))
    for r in range(rows):
        for m, name in enumerate(modalities):
            image = images[name][r]
            panels = [(image, name), (trained[name][r], "Grad-CAM, trained"),
                      (random_maps[name][r], "Grad-CAM, random weights")]
            for c, (picture, label) in enumerate(panels):
                ax = axes[r, 3 * m + c]
                if c == 0:
                    ax.imshow(picture.squeeze(), cmap="gray" if picture.shape[-1] == 1 else None)
                else:
                    ax.imshow(picture, cmap="inferno", vmin=0, vmax=1)
                ax.contour(masks[name][r], levels=[0.5], colors="cyan", linewidths=0.8)
                ax.set_title(label, fontsize=7)
                ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_reliability_figure(path, panels):
    """One reliability diagram per `(title, probs, labels)` panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_drifa.viz import reliability_diagram

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
    for ax, (title, probs, labels) in zip(axes, panels):
        reliability_diagram(probs, labels, title=title, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_curves_figure(path, curves, tasks):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3), sharey=True)
    for ax, task in zip(axes, tasks):
        for name, style in zip(MODELS, ("-", "--")):
            for s, run in enumerate(curves[name]):
                ax.plot(range(1, len(run[task]) + 1), run[task], style, color=f"C{s}",
                        label=f"{name}, seed {s}")
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("validation accuracy")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    backend = keras.backend.backend()
    os.makedirs(args.output, exist_ok=True)
    print(f"keras-drifa {keras_drifa.__version__} on Keras {keras.__version__}, backend {backend}.")
    print(f"This takes about {EXPECTED_MINUTES.get(backend, 8)} minutes on a 2-core CPU with the "
          "default settings, most of it compiling and training.")
    if _CACHED_ENTRIES is not None:
        print(f"JAX compilation cache: {JAX_CACHE} ({_CACHED_ENTRIES} entries from earlier runs; "
              "a second run reuses them, which on a 2-core CPU took 222 s instead of 396 s).")

    # 1. Data.
    data, labels, (train, val, test) = make_data(args)
    tasks = list(labels)
    targets = one_hot(labels, args.classes)
    x_train, y_train = take(data.images, train), take(targets, train)
    validation = (take(data.images, val), take(targets, val))
    x_test = take(data.images, test)
    labels_test = {t: y[test] for t, y in labels.items()}
    labels_val = {t: y[val] for t, y in labels.items()}
    print(f"\nData: {len(train)} train / {len(val)} validation / {len(test)} test pairs of "
          f"{args.image_size}x{args.image_size} images; tasks {tasks}, {args.classes} classes "
          f"each (chance {1 / args.classes:.2f}). pair_class needs both images.")

    # 2. DRIFA-Net and the mlp fusion baseline, several seeds each, one compiled model per
    # architecture.
    models = {"DRIFA-Net": build(data, args.classes), BASELINE: build(data, args.classes, "mlp")}
    results, weights, curves, calibrated = {}, {}, {}, {}
    for name, model in models.items():
        print(f"\nTraining {name} ({model.count_params():,} parameters), {args.seeds} seeds")
        results[name], weights[name], curves[name], calibrated[name] = train_over_seeds(
            model, args, x_train, y_train, validation, x_test, labels_test, labels_val
        )
    verdicts = report(results, tasks)
    report_calibration(calibrated, tasks)

    # 3. Uncertainty: the DRIFA-Nets of all seeds as one Monte Carlo dropout ensemble.
    drifa = models["DRIFA-Net"]
    members = []
    for w in weights["DRIFA-Net"]:
        member = type(drifa).from_config(drifa.get_config())
        member.set_weights(w)
        members.append(member)
    ensemble = keras_drifa.MCDropoutEnsemble(members)
    print(f"\nMC dropout ensemble of the {len(members)} DRIFA-Nets, {args.mc_samples} samples each "
          "(validation split, then test split):")
    sampled = {
        split: ensemble.predict_uncertainty(
            x, num_samples=args.mc_samples, seed=0, return_samples=True,
            verbose=1 if INTERACTIVE else 2)
        for split, x in (("validation", validation[0]), ("test", x_test))
    }
    uncertainty = report_ensemble(sampled, labels_val, labels_test, tasks)
    report_conformal(sampled, labels_val, labels_test, tasks, alpha=0.1)
    drifa.set_weights(weights["DRIFA-Net"][0])
    shifted_samples = report_shift(
        ensemble, drifa, x_test, sampled["test"]["pair_class"]["samples"], x_train, args)
    # Referral needs errors to refer: the clean test pairs plus the same pairs with a broken
    # dermoscopy image, as a clinic would see them if some images failed. Uncalibrated
    # samples: referral uses only the order of the cases.
    mixed = np.concatenate([sampled["test"]["pair_class"]["samples"], shifted_samples], axis=-2)
    mixed_labels = np.concatenate([labels_test["pair_class"]] * 2)
    report_referral(mixed, mixed_labels, "pair_class, the test pairs clean and again with "
                    "dermoscopy replaced by noise (ensemble)")

    # 4. Grad-CAM on the pair task: where in each image is the evidence for the pair class?
    masks = {m: data.masks[m][test] for m in data.modality_names}
    drifa.set_weights(weights["DRIFA-Net"][0])
    trained, random_maps, scores = gradcam_scores(
        drifa, weights["DRIFA-Net"][0], x_test, masks, "pair_class"
    )
    print("\nGrad-CAM of DRIFA-Net (seed 0) for pair_class on the test pairs, against the "
          "evidence regions:")
    labels = {"peak_inside_mask": "map's peak on the region",
              "energy_inside_mask": "map's energy on the region"}
    for m, by_score in scores.items():
        for name, (score, random_score, area) in by_score.items():
            localises = score > max(random_score, area) + 0.05
            print(f"  {m}, {labels[name]}: trained {score:.1%}, random weights "
                  f"{random_score:.1%}, a flat map {area:.1%}: "
                  + ("the trained model localises the evidence." if localises else
                     "NOT better than a flat or a random map: no localisation shown."))

    # 5. Figures.
    paths = []
    shown = slice(0, 4)
    path = os.path.join(args.output, "gradcam.png")
    save_gradcam_figure(
        path, take(x_test, shown), {m: masks[m][shown] for m in masks},
        {m: trained[m][shown] for m in trained}, {m: random_maps[m][shown] for m in random_maps},
        "Grad-CAM of DRIFA-Net for pair_class (cyan outline: where each image's class is drawn)",
    )
    paths.append(path)
    path = os.path.join(args.output, "validation_curves.png")
    save_curves_figure(path, curves, tasks)
    paths.append(path)
    from keras_drifa.viz import plot_embeddings, risk_coverage_plot

    path = os.path.join(args.output, "reliability.png")
    save_reliability_figure(path, [
        (f"ensemble, {task}, {when}", probs[task]["mean"], labels_test[task])
        for task in ("cytology_class", "pair_class")
        for when, probs in (("raw", sampled["test"]), ("temperature-scaled", uncertainty))
    ])
    paths.append(path)
    path = os.path.join(args.output, "referral.png")
    risk_coverage_plot(mixed, mixed_labels, scores=("max_softmax", "mutual_information"),
                       save_path=path, title="pair_class, test pairs clean and with a broken "
                       "dermoscopy image: refer the least certain")
    paths.append(path)
    path = os.path.join(args.output, "embeddings.png")
    fig = plot_embeddings(drifa, take(x_test, slice(0, 300)), labels_test["pair_class"][:300],
                          method="pca")
    fig.savefig(path, dpi=80)
    paths.append(path)

    print(f"\nVerdicts against the {BASELINE} baseline (accuracy over seeds): "
          + "; ".join(f"{t}: DRIFA-Net {v}" for t, v in verdicts.items()))
    print("Wrote:\n  " + "\n  ".join(paths))
    print(f"Done in {time.perf_counter() - start:.0f} s.")


if __name__ == "__main__":
    main()
