"""Fit and predict time of MultiTaskRegressor against a raw PyTorch loop and sklearn.

Every model gets the same data and the same architecture (a 256-256 trunk, one
linear output per task), the same optimiser (Adam, lr 1e-3), batch size and
number of epochs, and no early stopping. The floor is a hand-written PyTorch
loop over tensors built once. Times are medians over ``--repeats`` runs,
interleaved, and every time is also given as a ratio to the floor measured in
the same run.

    python benchmarks/bench_speed.py            # 50,000 x 64, 8 tasks, 15 epochs
    python benchmarks/bench_speed.py --quick    # a smaller shape for a smoke run
    python benchmarks/bench_speed.py --hidden 16 --skip-slow  # per-step overhead
    python benchmarks/bench_speed.py --predict     # predict per call, each precision
    python benchmarks/bench_speed.py --many-tasks  # 139 and 1,000 tasks vs 1 output
    python benchmarks/bench_speed.py --profile     # where one epoch's time goes

``--predict``, ``--many-tasks`` and ``--profile`` run only their own table.
"""

import argparse
import copy
import cProfile
import io
import os
import platform
import pstats
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.metrics import r2_score
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPRegressor
from skorch import NeuralNetRegressor

import sklearn_mtl
import sklearn_mtl._cells
from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.datasets import make_multitask_regression
from sklearn_mtl.modules import MultiTaskModule, TaskHeadsModule, make_mlp


def build_module(n_features, n_tasks, hidden):
    trunk = make_mlp(n_features, hidden)
    return MultiTaskModule(trunk, TaskHeadsModule(trunk.out_features, n_tasks))


class Floor:
    """The hand-written loop: tensors built once, Adam, MSE, shuffled slices."""

    def __init__(
        self, hidden, epochs, batch_size, lr, seed, device="cpu", item_each_step=False
    ):
        self.hidden, self.epochs, self.batch_size, self.lr, self.seed = (
            hidden,
            epochs,
            batch_size,
            lr,
            seed,
        )
        self.device = device
        # read the loss with .item() after every step, as skorch's loop does
        self.item_each_step = item_each_step

    def fit(self, X, Y):
        torch.manual_seed(self.seed)
        Xt = torch.tensor(X, dtype=torch.float32, device=self.device)
        Yt = torch.tensor(Y, dtype=torch.float32, device=self.device)
        self.module = build_module(X.shape[1], Y.shape[1], self.hidden).to(self.device)
        opt = torch.optim.Adam(self.module.parameters(), lr=self.lr)
        n = len(Xt)
        for _ in range(self.epochs):
            order = torch.randperm(n).to(self.device)
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(self.module(Xt[rows]), Yt[rows])
                loss.backward()
                opt.step()
                if self.item_each_step:
                    loss.item()
        sync(self.device)
        return self

    def predict(self, X, dtype=torch.float32):
        module = self.module if dtype == torch.float32 else build_double(self.module)
        module.eval()
        with torch.inference_mode():
            return (
                module(torch.tensor(X, dtype=dtype, device=self.device)).cpu().numpy()
            )


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def build_double(module):
    return copy.deepcopy(module).double()


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median_time(fn, repeats):
    """Median seconds of ``fn()`` over ``repeats`` calls, after one warm-up."""
    fn()
    return statistics.median(timed(fn)[0] for _ in range(repeats))


def lean_predict(frozen, X, dtype, device):
    """The floor's predict with the module kept ready: convert X, run, return."""
    with torch.inference_mode():
        return frozen(torch.tensor(X, dtype=dtype, device=device)).cpu().numpy()


def bench_predict(X_train, Y_train, X_test, hidden, settings, repeats):
    """Predict per call at each precision, against two floors.

    The floor keeps an eval-mode copy of the module at each precision, made
    once; a call converts X to a tensor of that precision, runs the copy and
    returns its output as numpy. The "per call" floor is a predict as a loop
    without a cache writes it: ``module.eval()`` on every call and, for
    float64, a float64 copy of the module on every call. The estimator
    validates X, reuses its frozen copy, and returns float64 in the units of y.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultiTaskRegressor(max_epochs=2, **settings).fit(X_train, Y_train)
    module = model.net_.module_
    device = settings["device"]
    floor = Floor(hidden, 0, 256, 1e-3, 0, device=device)
    floor.module = module
    frozen = {
        dtype: copy.deepcopy(module).to(dtype).eval()
        for dtype in (torch.float32, torch.float64)
    }
    calls = max(20, 5 * repeats)
    print()
    print(
        "| rows | precision | floor ms | MultiTaskRegressor ms | ratio | "
        "per-call floor ms | ratio to it | of which validation ms |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n_rows in (1, 100, len(X_test)):
        X = X_test[:n_rows]
        for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
            model.set_params(predict_dtype=name)
            # interleaved medians: the three are measured in turn, call by call
            runs = [
                (
                    median_time(
                        lambda X=X, d=dtype: lean_predict(frozen[d], X, d, device), 3
                    ),
                    median_time(lambda X=X: model.predict(X), 3),
                    median_time(lambda X=X, d=dtype: floor.predict(X, d), 3),
                )
                for _ in range(calls)
            ]
            floor_s, ours_s, per_call_s = (
                statistics.median(run[i] for run in runs) for i in range(3)
            )
            module.train()  # as fitted: the per-call floor left it in eval mode
            check_s = median_time(lambda X=X: model._validate_X(X, reset=False), 9)
            print(
                f"| {n_rows:,} | {name} | {floor_s * 1e3:.3f} | "
                f"{ours_s * 1e3:.3f} | {ours_s / floor_s:.2f}x | "
                f"{per_call_s * 1e3:.3f} | {ours_s / per_call_s:.2f}x | "
                f"{check_s * 1e3:.3f} |"
            )


def one_label_per_row(n_rows, n_features, n_tasks, seed):
    """Rows labelled for one task each (as School's students): X, Y and pooled y."""
    X, Y = make_multitask_regression(
        n_samples=n_rows,
        n_features=n_features,
        n_tasks=n_tasks,
        noise=0.1,
        random_state=seed,
    )
    # every task gets rows: n_rows // n_tasks or one more
    task = np.random.default_rng(seed).permutation(np.arange(n_rows) % n_tasks)
    pooled = Y[np.arange(n_rows), task]
    Y_masked = np.full_like(Y, np.nan)
    Y_masked[np.arange(n_rows), task] = pooled
    return X, Y_masked, pooled


def bench_many_tasks(hidden, settings, repeats, quick=False):
    """Seconds per epoch with many tasks against the same network with one output.

    With one label per row the fit trains the heads on the labelled cells
    only (``sklearn_mtl._cells``); the "dense heads" column is the same fit
    with that path switched off, measured in the same run.
    """
    n_rows, n_features, epochs = (5_000, 32, 2) if quick else (20_000, 32, 3)
    print(
        f"{n_rows} rows x {n_features} features, one label per row, equal "
        f"weighting, {epochs} epochs per fit, {repeats} repeats (median epoch of "
        "each fit, as skorch's history records it)"
    )
    print()
    print(
        "| tasks | s / epoch | same network, one output: s / epoch | ratio | "
        "dense heads: s / epoch | ratio | floor: T outputs / 1 output |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n_tasks in (139, 1000):
        X, Y, pooled = one_label_per_row(n_rows, n_features, n_tasks, seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_for_epochs(X[:500], pooled[:500], epochs, settings)  # warm-up
            # interleaved: the fits take turns, so load changes hit them all
            times = []  # epoch durations skorch records: no per-fit costs
            for _ in range(repeats):
                many = fit_for_epochs(X, Y, epochs, settings)
                one = fit_for_epochs(X, pooled, epochs, settings)
                dense = fit_for_epochs(X, Y, epochs, settings, cells=False)
                many_s, one_s, dense_s = (
                    statistics.median(model.history_[:, "dur"])
                    for model in (many, one, dense)
                )
                # the hand-written loop with T outputs (unlabelled cells as 0,
                # plain MSE) against 1: what the T heads cost by themselves
                floor_many, _ = timed(lambda X=X, Y=Y: floor_fit(X, Y, hidden, epochs))
                floor_one, _ = timed(
                    lambda X=X, y=pooled: floor_fit(X, y[:, None], hidden, epochs)
                )
                times.append((many_s, one_s, dense_s, floor_many / floor_one))
        many, one, dense, heads = (
            statistics.median(t[i] for t in times) for i in range(4)
        )
        print(
            f"| {n_tasks:,} | {many:.3f} | {one:.3f} | {many / one:.2f}x | "
            f"{dense:.3f} | {dense / one:.2f}x | {heads:.2f}x |"
        )


def floor_fit(X, Y, hidden, epochs):
    """The hand-written loop on ``Y`` with NaN cells as 0."""
    return Floor(hidden, epochs, 256, 1e-3, 0).fit(X, np.nan_to_num(Y))


def fit_for_epochs(X, y, epochs, settings, cells=True):
    """Fit MultiTaskRegressor with equal task weights for exactly ``epochs``.

    ``cells=False`` keeps the dense heads even where the labels are sparse.
    """
    model = MultiTaskRegressor(
        max_epochs=epochs,
        n_iter_no_change=epochs + 1,
        task_weighting="equal",
        **settings,
    )
    limit = sklearn_mtl._cells.MAX_DENSITY
    sklearn_mtl._cells.MAX_DENSITY = limit if cells else -1.0
    try:
        return model.fit(X, y)
    finally:
        sklearn_mtl._cells.MAX_DENSITY = limit


def profile_fit(X_train, Y_train, settings, epochs, repeats=9):
    """Print the functions that take the most time in ``epochs`` epochs of fit."""
    model = MultiTaskRegressor(
        max_epochs=epochs, n_iter_no_change=epochs + 1, **settings
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train[:2000], Y_train[:2000])  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        model.fit(X_train, Y_train)
        profiler.disable()
    steps = epochs * -(-len(X_train) // settings["batch_size"])
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    total = stats.total_tt
    per_step = total / steps * 1e6
    print(f"{steps} steps, {total:.2f} s under cProfile, {per_step:.0f} us/step")
    stats.sort_stats("tottime").print_stats(20)
    print(stream.getvalue())
    step_costs(model, X_train, Y_train, repeats)


def step_costs(model, X, Y, repeats=9):
    """Microseconds per training step, one piece added at a time (no profiler).

    Every row runs one epoch of the same batches on the fitted net: the
    floor's step (plain MSE), the same step with the net's masked per-task
    loss, skorch's ``train_step`` (closure, hooks), the net's step without
    the hooks (what a batch takes where the lean step does not apply), the
    lean step (see ``sklearn_mtl._lean_step``), and the whole epoch loop
    (``run_single_epoch``: batching, history). Medians of ``repeats``
    epochs, taken in turn.
    """
    from sklearn_mtl._lean_step import lean_training_step
    from sklearn_mtl._tensors import TensorData

    net = model.net_
    Z = (Y - model._target_mean) / model._target_scale
    data = TensorData(
        *(torch.tensor(a, dtype=torch.float32) for a in (X, Z, np.ones_like(Z)))
    )
    iterator = net.get_iterator(data, training=True)
    batches = list(iterator)
    module, optimizer = net.module_, net.optimizer_

    def floor_step():
        for Xb, (Yb, _) in batches:
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(module(Xb), Yb).backward()
            optimizer.step()

    def masked_loss_step():
        for Xb, yb in batches:
            optimizer.zero_grad()
            net.get_loss(module(Xb), yb, training=True).backward()
            optimizer.step()

    def skorch_train_step():
        for batch in batches:
            net.train_step(batch)

    def step_without_hooks():
        for batch in batches:
            net._train_step_without_hooks(batch)

    def lean_step():
        step = lean_training_step(net, iterator)
        for batch in batches:
            step(batch)

    def epoch_loop():
        net.notify("on_epoch_begin", dataset_train=data, dataset_valid=None)
        net.run_single_epoch(iterator, True, "train", net.train_step)

    pieces = {
        "floor step (MSE, Adam)": floor_step,
        "+ masked per-task loss": masked_loss_step,
        "skorch train_step (closure, hooks)": skorch_train_step,
        "the net's step without the hooks": step_without_hooks,
        "the lean step": lean_step,
        "whole epoch loop (batching, history)": epoch_loop,
    }
    times = {name: [] for name in pieces}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fn in pieces.values():
            fn()  # warm-up
        for _ in range(repeats):  # round robin: load changes hit every row
            for name, fn in pieces.items():
                times[name].append(timed(fn)[0])
    print("| per training step | us |")
    print("| --- | ---: |")
    for name, seconds in times.items():
        seconds = statistics.median(seconds)
        print(f"| {name} | {seconds / len(batches) * 1e6:.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 5 epochs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--skip-slow",
        action="store_true",
        help="leave out MultiOutputRegressor(MLPRegressor)",
    )
    parser.add_argument(
        "--hidden",
        default="256,256",
        help="trunk widths, comma-separated; a small trunk (16) shows the "
        "per-step overhead that a GPU fit of a small network is bound by",
    )
    parser.add_argument(
        "--predict",
        action="store_true",
        help="only predict: 1, 100 and 10,000 rows at each precision against "
        "floors that pay their own per-call costs",
    )
    parser.add_argument(
        "--many-tasks",
        action="store_true",
        help="only seconds per epoch at 139 and 1,000 tasks (one label per row, "
        "equal weighting) against the same network with a single output",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="only a cProfile of MultiTaskRegressor's fit (the functions "
        "taking the most time), then microseconds per training step: the "
        "floor's step, with the masked loss, skorch's train_step, the loop",
    )
    args = parser.parse_args()

    n_train, n_features, n_tasks, epochs = (
        (10_000, 64, 8, 5) if args.quick else (50_000, 64, 8, 15)
    )
    hidden = tuple(int(width) for width in args.hidden.split(","))
    batch_size, lr = 256, 1e-3
    X, Y = make_multitask_regression(
        n_samples=n_train + 10_000,
        n_features=n_features,
        n_tasks=n_tasks,
        noise=0.1,
        random_state=0,
    )
    X_train, Y_train, X_test, Y_test = (
        X[:n_train],
        Y[:n_train],
        X[n_train:],
        Y[n_train:],
    )
    device = args.device
    print(
        f"shape {n_train} x {n_features}, {n_tasks} tasks, trunk {hidden}, "
        f"{epochs} epochs, batch {batch_size}, device {device}"
    )
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"{platform.processor() or platform.machine()}, OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, sklearn_mtl from "
        f"{os.path.dirname(sklearn_mtl.__file__)}"
    )
    settings = {  # a fixed configuration: nothing chosen from the data
        "hidden_layer_sizes": hidden,
        "alpha": 0.0,
        "early_stopping": False,
        "shrinkage": False,
        "sharing_alpha": 0.0,
        "lr": lr,
        "batch_size": batch_size,
        "device": device,
        "random_state": 0,
    }
    if args.predict:
        bench_predict(X_train, Y_train, X_test, hidden, settings, args.repeats)
        return
    if args.many_tasks:
        bench_many_tasks(hidden, settings, args.repeats, quick=args.quick)
        return
    if args.profile:
        profile_fit(
            X_train,
            Y_train,
            settings,
            epochs=2 if args.quick else 3,
            repeats=3 * args.repeats,
        )
        return

    def mtr():
        return MultiTaskRegressor(
            hidden_layer_sizes=hidden,
            alpha=0.0,
            early_stopping=False,
            shrinkage=False,
            sharing_alpha=0.0,
            lr=lr,
            batch_size=batch_size,
            max_epochs=epochs,
            n_iter_no_change=epochs + 1,
            device=device,
            random_state=0,
        )

    def skorch_default():
        return NeuralNetRegressor(
            build_module(n_features, n_tasks, hidden),
            optimizer=torch.optim.Adam,
            lr=lr,
            batch_size=batch_size,
            max_epochs=epochs,
            train_split=None,
            verbose=0,
            device=device,
        )

    def mlp():
        return MLPRegressor(
            hidden_layer_sizes=hidden,
            alpha=0.0,
            learning_rate_init=lr,
            batch_size=batch_size,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=epochs + 1,
            random_state=0,
        )

    rows = {}

    def record(name, fit_s, model, predict=None):
        predict = predict or (lambda: model.predict(X_test))
        predict()  # warm-up
        runs = [timed(predict) for _ in range(5)]
        predict_s, pred = statistics.median(t for t, _ in runs), runs[0][1]
        pred = np.asarray(pred, dtype=np.float64).reshape(Y_test.shape)
        rows.setdefault(name, {"fit": [], "predict": [], "r2": []})
        rows[name]["fit"].append(fit_s)
        rows[name]["predict"].append(predict_s)
        rows[name]["r2"].append(r2_score(Y_test, pred))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # warm-up: the first torch fit in a process pays for thread-pool start-up
        Floor(hidden, 1, batch_size, lr, 0, device).fit(X_train[:2000], Y_train[:2000])
        mtr().set_params(max_epochs=1).fit(X_train[:2000], Y_train[:2000])
        for _ in range(args.repeats):
            fit_s, floor = timed(
                lambda: Floor(hidden, epochs, batch_size, lr, 0, device).fit(
                    X_train, Y_train
                )
            )
            record("floor: PyTorch loop, float32 predict", fit_s, floor)
            record(
                "floor: PyTorch loop, float64 predict",
                fit_s,
                floor,
                lambda floor=floor: floor.predict(X_test, torch.float64),
            )
            if str(device).startswith("cuda"):  # what a host sync per step costs
                fit_s, floor = timed(
                    lambda: Floor(
                        hidden, epochs, batch_size, lr, 0, device, item_each_step=True
                    ).fit(X_train, Y_train)
                )
                record("floor + loss.item() each step", fit_s, floor)
            fit_s, model = timed(lambda: mtr().fit(X_train, Y_train))
            record("MultiTaskRegressor (float64 predict, default)", fit_s, model)
            model.set_params(predict_dtype="float32")
            record("MultiTaskRegressor (float32 predict)", fit_s, model)
            fit_s, net = timed(
                lambda: skorch_default().fit(
                    X_train.astype(np.float32), Y_train.astype(np.float32)
                )
            )
            record(
                "skorch NeuralNetRegressor (default DataLoader)",
                fit_s,
                net,
                lambda net=net: net.predict(X_test.astype(np.float32)),
            )
        fit_s, model = timed(lambda: mlp().fit(X_train, Y_train))
        record("sklearn MLPRegressor (one network, 8 outputs)", fit_s, model)
        if not args.skip_slow:
            fit_s, model = timed(
                lambda: MultiOutputRegressor(mlp()).fit(X_train, Y_train)
            )
            record("sklearn MultiOutputRegressor(MLPRegressor)", fit_s, model)

    floor32 = rows["floor: PyTorch loop, float32 predict"]
    floor64 = rows["floor: PyTorch loop, float64 predict"]
    fit_floor = statistics.median(floor32["fit"])
    print()
    print(
        "| model | fit s | fit / floor | predict s | predict / floor (same precision) "
        "| test R^2 |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows.items():
        ref = floor64 if "float64" in name else floor32
        fit, pred = statistics.median(r["fit"]), statistics.median(r["predict"])
        ratio_pred = pred / statistics.median(ref["predict"])
        print(
            f"| {name} | {fit:.2f} | {fit / fit_floor:.2f}x | {pred:.3f} | "
            f"{ratio_pred:.2f}x | {statistics.median(r['r2']):.3f} |"
        )


if __name__ == "__main__":
    main()
