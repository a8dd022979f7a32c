"""Fit and predict time of MultiTaskRegressor against a raw PyTorch loop and sklearn.

Every model gets the same data and the same architecture (a 256-256 trunk, one
linear output per task), the same optimiser (Adam, lr 1e-3), batch size and
number of epochs, and no early stopping. The floor is a hand-written PyTorch
loop over tensors built once. Times are medians over ``--repeats`` runs,
interleaved, and every time is also given as a ratio to the floor measured in
the same run.

    python benchmarks/bench_speed.py            # 50,000 x 64, 8 tasks, 15 epochs
    python benchmarks/bench_speed.py --quick    # a smaller shape for a smoke run
"""

import argparse
import copy
import os
import platform
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.metrics import r2_score
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPRegressor
from skorch import NeuralNetRegressor

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
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )

    def mtr():
        return MultiTaskRegressor(
            hidden_layer_sizes=hidden,
            alpha=0.0,
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
