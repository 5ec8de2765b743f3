"""Labs 3, 4 and 5's exercise checks pass a correct function and fail wrong ones (a check that cannot fail is a
defect); Lab 4's open heuristic is checked for what the task requires, not for equality."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import prune as torch_prune

from labkit.labs.gemm import checks as gemm_checks
from labkit.labs.inference import checks as inference_checks
from labkit.labs.pruning import checks as pruning_checks
from labkit.labs.pruning import prune
from labkit.models import CNN


def bert_attention_macs(config, seq_len, batch=1):
    return config.num_hidden_layers * 2 * batch * seq_len * seq_len * config.hidden_size


def test_attention_macs_check_passes_the_formula():
    assert inference_checks.bert_attention_macs(bert_attention_macs).passed


@pytest.mark.parametrize("wrong", [
    lambda config, seq_len, batch=1: bert_attention_macs(config, seq_len, batch) // 2,  # Q K^T only
    lambda config, seq_len, batch=1: config.num_hidden_layers * 2 * batch * seq_len * config.hidden_size,  # seq not squared
    lambda config, seq_len, batch=1: bert_attention_macs(config, seq_len, batch) // config.num_hidden_layers,  # one block
])
def test_attention_macs_check_fails_a_missing_matmul_square_or_block_count(wrong):
    assert not inference_checks.bert_attention_macs(wrong).passed


def gemm_shapes(config, seq_len, batch=1, linear_weight=lambda i, o: (i, o)):
    d, h, f = config.hidden_size, config.num_attention_heads, config.intermediate_size
    x, hd = (batch, seq_len, d), d // h
    per_head, scores = (batch, h, seq_len, hd), (batch, h, seq_len, seq_len)
    projection = (x, linear_weight(d, d), x)
    return [projection] * 3 + [(per_head, (batch, h, hd, seq_len), scores), (scores, per_head, per_head), projection,
                               (x, linear_weight(d, f), (batch, seq_len, f)), ((batch, seq_len, f), linear_weight(f, d), x)]


def test_gemm_shapes_check_passes_the_recorded_shapes():
    assert inference_checks.encoder_gemm_shapes(gemm_shapes).passed


@pytest.mark.parametrize("wrong", [
    lambda config, seq_len, batch=1: gemm_shapes(config, seq_len, batch, linear_weight=lambda i, o: (o, i)),  # transposed
    lambda config, seq_len, batch=1: gemm_shapes(config, seq_len, batch)[:6],  # the feed-forward pair forgotten
])
def test_gemm_shapes_check_fails_transposed_weights_or_missing_gemms(wrong):
    assert not inference_checks.encoder_gemm_shapes(wrong).passed


def l2_scores(weight, bias):
    return torch.cat([weight.reshape(weight.shape[0], -1), bias.reshape(-1, 1)], dim=1).norm(dim=1)


def test_heuristic_check_accepts_any_deterministic_finite_score_per_channel():
    assert pruning_checks.channel_scores(l2_scores).passed
    assert pruning_checks.channel_scores(lambda w, b: w.reshape(w.shape[0], -1).abs().max(dim=1).values).passed


@pytest.mark.parametrize("wrong, why", [
    (lambda w, b: w.norm(), "one score per output channel"),  # one score for the whole layer
    (lambda w, b: torch.rand(w.shape[0]), "deterministic"),  # random each call
    (lambda w, b: w.reshape(w.shape[0], -1).sum(1) / w.reshape(w.shape[0], -1).norm(dim=1), "pruning conv1"),  # NaN once zeroed
    (lambda w, b: w.reshape(w.shape[1], -1).norm(dim=1), "one score per output channel"),  # per input channel
])
def test_heuristic_check_fails_what_the_loop_cannot_use(wrong, why, capsys):
    assert not pruning_checks.channel_scores(wrong).passed
    assert why in capsys.readouterr().out


def test_the_loop_prunes_with_a_heuristic_of_ones_own():
    model = CNN(channels=[4, 3], kernel_sizes=[3, 3], hidden=[5], image_size=10)
    channel = prune.least_important(model, "conv1", lambda w, b: -torch.arange(w.shape[0], dtype=torch.float))
    assert channel == 3


def masked_zero(layer, channel):
    for name in ("weight", "bias"):
        mask = torch.ones_like(getattr(layer, name))
        mask[channel] = 0
        torch_prune.custom_from_mask(layer, name, mask)


def test_zero_channel_check_passes_masks_on_weight_and_bias():
    assert pruning_checks.zero_channel(masked_zero).passed


def zero_in_place(layer, channel):
    with torch.no_grad():
        layer.weight[channel] = 0
        layer.bias[channel] = 0


def weight_mask_only(layer, channel):
    mask = torch.ones_like(layer.weight)
    mask[channel] = 0
    torch_prune.custom_from_mask(layer, "weight", mask)


@pytest.mark.parametrize("wrong, why", [(zero_in_place, "retraining revived the channel"),
                                        (weight_mask_only, "the bias counts too")])
def test_zero_channel_check_fails_zeros_that_retraining_revives_or_a_forgotten_bias(wrong, why, capsys):
    assert not pruning_checks.zero_channel(wrong).passed
    assert why in capsys.readouterr().out


def test_cnn_macs_check_passes_the_reference_and_fails_ignored_pooling_or_padding():
    assert pruning_checks.cnn_macs(prune.cnn_macs).passed
    assert not pruning_checks.cnn_macs(lambda config: prune.cnn_macs({**config, "pool": [False] * len(config["pool"])})).passed
    assert not pruning_checks.cnn_macs(lambda config: prune.cnn_macs({**config, "padding": [0] * len(config["padding"])})).passed


def conv2d_gemm(x, weight, bias, stride=1, padding=0):
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    out = weight.reshape(o, -1) @ F.unfold(x, (kh, kw), padding=padding, stride=stride) + bias.reshape(1, -1, 1)
    return out.reshape(n, o, (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1)


def test_conv_gemm_check_passes_im2col():
    assert gemm_checks.conv2d_gemm(conv2d_gemm).passed


@pytest.mark.parametrize("wrong, why", [
    (lambda x, weight, bias, stride=1, padding=0: conv2d_gemm(x, weight.transpose(2, 3), bias, stride, padding), "max |diff|"),
    (lambda x, weight, bias, stride=1, padding=0: conv2d_gemm(x, weight, torch.zeros_like(bias), stride, padding), "max |diff|"),
    (F.conv2d, "the rewrite called ['conv2d']"),
])
def test_conv_gemm_check_fails_a_transposed_kernel_a_forgotten_bias_or_conv2d_itself(wrong, why, capsys):
    assert not gemm_checks.conv2d_gemm(wrong).passed
    out = capsys.readouterr().out
    assert out.startswith("Exercise 5.1: failed: ") and why in out


def test_linear_gemm_check_passes_x_wt_plus_b_and_fails_a_transposed_weight_or_no_bias():
    assert gemm_checks.linear_gemm(lambda x, weight, bias: x @ weight.T + bias).passed
    assert not gemm_checks.linear_gemm(lambda x, weight, bias: x @ weight + bias).passed
    assert not gemm_checks.linear_gemm(lambda x, weight, bias: x @ weight.T).passed


def test_a_trained_model_runs_through_the_students_layers():
    model = CNN(channels=[3, 2], kernel_sizes=[3, 3], hidden=[6], image_size=12).eval()
    x = torch.randn(4, 1, 12, 12)
    got = gemm_checks.run_with_layers(model, x, conv=conv2d_gemm, linear=lambda x, weight, bias: x @ weight.T + bias)
    with torch.no_grad():
        assert (got - model(x)).abs().max() < 1e-5


def test_a_pruning_loop_with_ones_own_heuristic_keys_its_rows_by_the_function():
    from labkit.labs.pruning.loop import PruneSetup, heuristic_name

    setup = PruneSetup(heuristic=l2_scores)
    assert setup.key_fields("start")["heuristic"].startswith("l2_scores ")
    assert heuristic_name(l2_scores) != heuristic_name(masked_zero) and heuristic_name("l2") == "l2"
    with pytest.raises(ValueError, match="one finite score per channel"):
        prune.channel_importance(CNN(), "conv1", lambda w, b: w.norm())
