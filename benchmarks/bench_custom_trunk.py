"""Fit time of MultiTaskRegressor with a custom CNN trunk against a raw PyTorch loop.

Both get the same data (synthetic 1x8x8 images, 4 regression tasks, each
label hidden with probability 0.3 but every row keeping one: 22% missing),
the same network (a small CNN trunk and one linear head per task), the same
optimiser (Adam, lr 1e-3), batch size and number of epochs,
no early stopping, no weight penalty, and the same masked multi-task loss (the
mean squared error of each task over its labelled rows, averaged over the
tasks). The floor is a hand-written PyTorch loop over tensors built once, as
in ``bench_speed.py``. The default MLP trunk, on the flattened pixels, is timed
the same way against its own floor, for reference. Times are medians over
``--repeats`` interleaved runs, with ``torch.set_num_threads`` set to each of
``--threads``; every time is also a ratio to the floor of the same network
and thread count.

    python benchmarks/bench_custom_trunk.py                # 20,000 rows, 10 epochs
    python benchmarks/bench_custom_trunk.py --threads 1    # one thread only
"""

import argparse
import os
import platform
import statistics
import warnings

import numpy as np
import torch
from bench_speed import timed  # run from benchmarks/, as the other scripts
from torch import nn

from sklearn_mtl import MultiTaskRegressor
from sklearn_mtl.metrics import masked_r2_score
from sklearn_mtl.modules import MultiTaskModule, TaskHeadsModule, make_mlp


class SmallCNN(nn.Module):
    """Two 3x3 convolutions, each followed by a 2x2 max-pool: (n, 1, 8, 8) -> (n, 64).

    Parameters
    ----------
    channels : int, default=8
        Channels of the first convolution; the second has twice as many.
    """

    def __init__(self, channels=8):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )

    def forward(self, x):
        return self.layers(x)


def make_data(n_samples, n_tasks, missing, seed=0):
    """Smooth random 8x8 images; each task a non-linear function of them."""
    rng = np.random.RandomState(seed)
    noise = rng.randn(n_samples, 1, 10, 10)
    images = (
        sum(  # a 3x3 box blur gives the images local structure
            noise[:, :, i : i + 8, j : j + 8] for i in range(3) for j in range(3)
        )
        / 3.0
    )
    flat = images.reshape(n_samples, -1)
    W = rng.randn(64, n_tasks) / 8.0
    Y = np.tanh(flat @ W) + 0.3 * (flat @ W) ** 2 + 0.1 * rng.randn(n_samples, n_tasks)
    hide = rng.random_sample(Y.shape) < missing
    hide[np.arange(n_samples), rng.randint(n_tasks, size=n_samples)] = False
    return images.astype(np.float32), np.where(hide, np.nan, Y)


def cnn_module(n_tasks):
    trunk = SmallCNN()
    return MultiTaskModule(trunk, TaskHeadsModule(64, n_tasks))


def mlp_module(n_tasks, hidden=(128, 128)):
    trunk = make_mlp(64, hidden)
    return MultiTaskModule(trunk, TaskHeadsModule(trunk.out_features, n_tasks))


class Floor:
    """The hand-written loop: tensors built once, Adam, masked MSE, shuffled slices."""

    def __init__(self, build, epochs, batch_size, lr, seed):
        self.build, self.epochs, self.batch_size = build, epochs, batch_size
        self.lr, self.seed = lr, seed

    def fit(self, X, Y):
        torch.manual_seed(self.seed)
        mask = ~np.isnan(Y)
        # standardise each task on its labelled rows, as the estimator does
        mean = np.nanmean(Y, axis=0)
        std = np.nanstd(Y, axis=0)
        self.mean, self.std = mean, std
        Xt = torch.tensor(X, dtype=torch.float32)
        Yt = torch.tensor(np.where(mask, (Y - mean) / std, 0.0), dtype=torch.float32)
        Mt = torch.tensor(mask, dtype=torch.float32)
        self.module = self.build(Y.shape[1])
        opt = torch.optim.Adam(self.module.parameters(), lr=self.lr)
        n = len(Xt)
        for _ in range(self.epochs):
            order = torch.randperm(n)
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                m = Mt[rows]
                opt.zero_grad()
                sq = (self.module(Xt[rows]) - Yt[rows]) ** 2 * m
                per_task = sq.sum(0) / m.sum(0).clamp(min=1.0)
                loss = per_task[m.sum(0) > 0].mean()
                loss.backward()
                opt.step()
        return self

    def predict(self, X):
        self.module.eval()
        with torch.inference_mode():
            out = self.module(torch.tensor(X, dtype=torch.float32)).numpy()
        return out * self.std + self.mean


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="1,2", help="comma-separated")
    args = parser.parse_args()

    n_tasks, batch_size, lr = 4, 256, 1e-3
    X, Y = make_data(args.n_samples + 5_000, n_tasks, missing=0.3)
    X_train, Y_train = X[: args.n_samples], Y[: args.n_samples]
    X_test, Y_test = X[args.n_samples :], Y[args.n_samples :]
    flat_train = X_train.reshape(len(X_train), -1)
    flat_test = X_test.reshape(len(X_test), -1)
    print(
        f"{args.n_samples} x 1x8x8 images, {n_tasks} tasks, "
        f"{np.isnan(Y_train).mean():.0%} of labels missing, {args.epochs} epochs, "
        f"batch {batch_size}, Adam lr {lr}, median of {args.repeats}"
    )
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )

    def mtr(**params):
        return MultiTaskRegressor(
            alpha=0.0,
            sharing_alpha=0.0,
            lr=lr,
            batch_size=batch_size,
            max_epochs=args.epochs,
            n_iter_no_change=args.epochs + 1,
            device="cpu",
            random_state=0,
            **params,
        )

    def floor(build):
        return Floor(build, args.epochs, batch_size, lr, 0)

    runs = {
        # name: (network, make the model, train X, test X)
        "floor: PyTorch loop, CNN": (
            "CNN",
            lambda: floor(cnn_module),
            X_train,
            X_test,
        ),
        "MultiTaskRegressor(trunk=SmallCNN)": (
            "CNN",
            lambda: mtr(trunk=SmallCNN),
            X_train,
            X_test,
        ),
        "floor: PyTorch loop, MLP 128-128": (
            "MLP",
            lambda: floor(mlp_module),
            flat_train,
            flat_test,
        ),
        "MultiTaskRegressor() (default MLP 128-128)": (
            "MLP",
            lambda: mtr(),
            flat_train,
            flat_test,
        ),
    }
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            # warm-up: the first fits pay for thread-pool start-up
            for _, make, X_tr, _ in runs.values():
                model = make()
                if isinstance(model, Floor):
                    model.epochs = 1
                else:
                    model.set_params(max_epochs=1)
                model.fit(X_tr[:2000], Y_train[:2000])
            fit_s = {name: [] for name in runs}
            r2 = {name: [] for name in runs}
            for _ in range(args.repeats):
                for name, (_, make, X_tr, X_te) in runs.items():
                    seconds, model = timed(
                        lambda make=make, X_tr=X_tr: make().fit(X_tr, Y_train)
                    )
                    fit_s[name].append(seconds)
                    r2[name].append(masked_r2_score(Y_test, model.predict(X_te)))
            floors = {
                net: statistics.median(fit_s[name])
                for name, (net, *_) in runs.items()
                if name.startswith("floor")
            }
            for name, (net, *_) in runs.items():
                median = statistics.median(fit_s[name])
                rows.append(
                    (
                        name,
                        threads,
                        median,
                        median / floors[net],
                        statistics.median(r2[name]),
                    )
                )
                print(f"  {threads} thread(s) {name}: {median:.2f} s", flush=True)

    print()
    print(
        "| model | torch threads | fit s | fit / floor (same network, threads) "
        "| test R^2 |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, threads, median, ratio, score in rows:
        print(f"| {name} | {threads} | {median:.2f} | {ratio:.2f}x | {score:.3f} |")


if __name__ == "__main__":
    main()
