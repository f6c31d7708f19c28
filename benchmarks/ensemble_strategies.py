"""Can an `MCDropoutEnsemble` trace its members once? Three strategies side by side.

`MCDropoutEnsemble` calls its members in turn, so a compiled training step holds one copy
of the member's graph per member and its first step grows with `num_members` (issue 18
asks for M=3 at most 1.3x M=1). This benchmark tries, without changing the library, the
two ways to trace a member once that Keras offers portably, and prints each against
calling the members in turn:

- `in-turn`: the library as it is.
- `map`: every member's weights stacked along a new member axis, and one copy of the
  first member mapped over that axis with `keras.ops.map` (`jax.lax.map`, a
  `tf.while_loop` on TensorFlow); each iteration runs the copy inside a
  `keras.StatelessScope` holding one member's weights, and each member's updated state
  (batch-norm statistics, seed states) is assigned back. The same outputs as `in-turn`
  within float rounding (the child prints the largest difference of one training call).
- `vectorized`: the same with `keras.ops.vectorized_map` (`jax.vmap`): the members run
  as one batched computation (grouped convolutions).

For each strategy and `--members` count, in a fresh process: the time to the first
`train_on_batch` of the ensemble and its steady training rate in member pairs/s (M times
pairs/s). The load average is printed before and after: timings need a quiet machine.

    KERAS_BACKEND=jax python benchmarks/ensemble_strategies.py              # paper model, 64x64
    KERAS_BACKEND=tensorflow python benchmarks/ensemble_strategies.py --size 32 \\
        --widths 8 16 16 32 --strategies in-turn map
"""

import argparse
import json
import os
import subprocess
import sys
import time

from train_step import RESULT, _data, _paper_model, _setup, time_training

STRATEGIES = ("in-turn", "map", "vectorized")


def traced_once(members, inputs, training, mapper):
    """Every member's outputs for `inputs` from one copy of `members[0]` mapped over the
    members' stacked weights with `mapper` (`keras.ops.map` or `vectorized_map`)."""
    import keras
    from keras import ops, tree

    template = members[0]

    def stacked(variables_per_member):
        return [ops.stack([v.value for v in vs], axis=0) for vs in zip(*variables_per_member)]

    trainable = stacked([m.trainable_variables for m in members])
    non_trainable = stacked([m.non_trainable_variables for m in members])

    def one_member(weights):
        mapping = list(zip(template.trainable_variables, weights[0])) + list(
            zip(template.non_trainable_variables, weights[1])
        )
        with keras.StatelessScope(state_mapping=mapping) as scope:
            outputs = template(inputs, training=training)
        return outputs, [scope.get_current_value(v) for v in template.non_trainable_variables]

    outputs, updated = mapper(one_member, (trainable, non_trainable))
    for m, member in enumerate(members):
        for variable, values in zip(member.non_trainable_variables, updated):
            variable.assign(values[m])
    return [tree.map_structure(lambda t, m=m: t[m], outputs) for m in range(len(members))]


def measure(args):
    keras, np, keras_drifa = _setup()
    xs, ys = _data(np, keras, args.size, args.batch_size)
    (m,) = args.members
    ensemble = keras_drifa.MCDropoutEnsemble(
        lambda: _paper_model(keras_drifa, args), num_members=m
    )
    if args.strategy != "in-turn" and m > 1:
        mapper = keras.ops.map if args.strategy == "map" else keras.ops.vectorized_map
        members = ensemble.members
        expected_state = [[keras.ops.convert_to_numpy(v) for v in member.variables]
                          for member in members]
        expected = ensemble.member_outputs(xs, training=True)  # the library: in turn
        for member, values in zip(members, expected_state):
            for variable, value in zip(member.variables, values):
                variable.assign(value)
        ensemble.member_outputs = lambda inputs, training=False: traced_once(
            members, inputs, training, mapper
        )
        got = ensemble.member_outputs(xs, training=True)
        difference = max(
            float(np.max(np.abs(keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(b))))
            for per_a, per_b in zip(got, expected) for a, b in zip(per_a, per_b)
        )
    else:
        difference = 0.0
    ensemble.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    first_s, steady_s = time_training(keras, ensemble, xs, ys, args.steps)
    return {
        "first step s": first_s,
        "member pairs/s": m * args.batch_size / steady_s,
        "max |output - in turn|": difference,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed steps after warm-up")
    parser.add_argument("--members", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--widths", type=int, nargs="+", help="default: the paper's")
    parser.add_argument("--blocks", type=int, nargs="+", help="default: the paper's")
    parser.add_argument("--strategy", choices=STRATEGIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.strategy:
        print(RESULT + json.dumps(measure(args)), flush=True)
        return
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    print(f"backend={backend} size={args.size} batch={args.batch_size} steps={args.steps}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    rows = {}
    for m in args.members:
        for strategy in args.strategies if m > 1 else ["in-turn"]:
            argv = [sys.executable, os.path.abspath(__file__), "--strategy", strategy,
                    "--members", str(m), "--size", str(args.size),
                    "--batch-size", str(args.batch_size), "--steps", str(args.steps)]
            for flag in ("widths", "blocks"):
                if getattr(args, flag):
                    argv += [f"--{flag}"] + [str(v) for v in getattr(args, flag)]
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            lines = [l for l in proc.stdout.splitlines() if l.startswith(RESULT)]
            if proc.returncode != 0 or not lines:
                sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
                raise RuntimeError(f"{strategy} M={m} failed (exit {proc.returncode})")
            rows[(strategy, m)] = json.loads(lines[-1][len(RESULT):])
            print(f"  {strategy} M={m}: {rows[(strategy, m)]}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    first = args.members[0]
    base = rows[("in-turn", first)]
    print(f"{'strategy, members':<22}{'first step s':>14}{'vs M=' + str(first):>10}"
          f"{'member pairs/s':>16}{'vs in turn':>12}{'max diff':>10}")
    for (strategy, m), row in rows.items():
        in_turn = rows.get(("in-turn", m), row)
        print(f"{strategy + ', M=' + str(m):<22}{row['first step s']:>14.1f}"
              f"{row['first step s'] / base['first step s']:>9.2f}x"
              f"{row['member pairs/s']:>16.1f}"
              f"{row['member pairs/s'] / in_turn['member pairs/s']:>11.2f}x"
              f"{row['max |output - in turn|']:>10.1e}")


if __name__ == "__main__":
    main()
