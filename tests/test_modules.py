import torch

from sklearn_mtl.modules import MultiTaskModule, TaskHeadsModule, make_mlp


def test_make_mlp_layers_and_width():
    mlp = make_mlp(5, (8, 4), activation="tanh", dropout=0.1)
    assert mlp.out_features == 4
    assert [type(m).__name__ for m in mlp] == [
        "Linear",
        "Tanh",
        "SeededDropout",
        "Linear",
        "Tanh",
        "SeededDropout",
    ]
    assert make_mlp(5, ()).out_features == 5


def test_batched_heads_equal_separate_heads():
    torch.manual_seed(0)
    heads = TaskHeadsModule(6, n_tasks=3, layer_sizes=(4,), activation="relu")
    h = torch.randn(10, 6)
    out = heads(h)
    assert out.shape == (10, 3)
    for t in range(3):
        hidden = torch.relu(h @ heads.weights[0][t] + heads.biases[0][t])
        expected = (hidden @ heads.weights[1][t] + heads.biases[1][t]).squeeze(-1)
        torch.testing.assert_close(out[:, t], expected)


def test_linear_heads_are_one_matrix():
    heads = TaskHeadsModule(6, n_tasks=3)
    assert heads.output.weight.shape == (3, 6)
    assert heads(torch.randn(2, 6)).shape == (2, 3)


def test_multitask_module_composes_trunk_and_heads():
    module = MultiTaskModule(make_mlp(4, (8,)), TaskHeadsModule(8, 2))
    assert module(torch.randn(5, 4)).shape == (5, 2)
