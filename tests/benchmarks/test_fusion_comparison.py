"""benchmarks/fusion_comparison.py at its smallest: it trains, tabulates, judges and writes
its JSON and CSV, and trains a network that two names build only once."""

import csv
import importlib.util
import json
import pathlib

from drifa_testing import ONCE_ON_TORCH

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "fusion_comparison.py"


def load_script():
    spec = importlib.util.spec_from_file_location("fusion_comparison", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@ONCE_ON_TORCH
def test_minimal_run_prints_tables_and_writes_results(tmp_path, capsys):
    script = load_script()
    summary = script.main([
        "--seeds", "1", "--samples", "40", "--image-size", "16", "--widths", "4", "8",
        "--epochs", "1", "--models", "DRIFA-Net", "mlp", "--data", "same_quadrant",
        "--output", str(tmp_path),
    ])
    out = capsys.readouterr().out

    assert "\nsame_quadrant\n" in out and "parameters" in out
    assert "DRIFA-Net " in out and "mlp " in out
    # One seed gives no standard error, so no verdict, and the script says so.
    assert "verdicts: none" in out
    # The ladder's DRIFA-Net is fusion="drifa": trained once.
    assert "The ablation ladder's 'DRIFA-Net' builds the same network as 'DRIFA-Net'" in out
    runs = summary["runs"]["same_quadrant"]
    assert set(runs) == {"DRIFA-Net", "mlp"} and all(len(r) == 1 for r in runs.values())
    counts = summary["parameters"]["same_quadrant"]
    assert counts["DRIFA-Net"] > counts["mlp"] > 0
    written = json.loads((tmp_path / "fusion_comparison.json").read_text())
    assert written["runs"] == json.loads(json.dumps(summary["runs"]))
    with open(tmp_path / "fusion_comparison.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["seed"]) for r in rows] == [("DRIFA-Net", "0"), ("mlp", "0")]
    assert all(0 <= float(r["accuracy"]) <= 1 for r in rows)


def test_two_seeds_give_a_verdict_per_pair():
    script = load_script()
    run = {"accuracy": 0.9, "f1": 0.9, "ece": 0.05}
    worse = {"accuracy": 0.5, "f1": 0.5, "ece": 0.05}
    verdicts = script.verdicts_for({
        "DRIFA-Net": [run, {**run, "accuracy": 0.92}],
        "mlp": [worse, {**worse, "accuracy": 0.52}],
        "concat": [run, {**run, "accuracy": 0.91}],
    })
    assert verdicts["mlp"][0] == "better"
    assert verdicts["concat"][0] == "no clear difference"
    assert "DRIFA-Net" not in verdicts


def test_every_fusion_option_and_ablation_rung_is_configured():
    from keras_drifa.models import ABLATIONS, FUSIONS

    configs = load_script().configurations()
    kwargs = [c[2] for c in configs]
    assert [{"fusion": f} for f in FUSIONS] == kwargs[: len(FUSIONS)]
    assert list(ABLATIONS.values()) == kwargs[len(FUSIONS):]
