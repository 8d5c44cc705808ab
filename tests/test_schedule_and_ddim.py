"""Schedule, noising algebra and the DDIM sampler, checked against exact properties.

The oracle network knows x0 and returns the true noise of whatever x_t it is given, reading the
noise level only through the value s the sampler feeds it (gamma_from_noise_input(s)).
"""
from __future__ import annotations

import math

import pytest
import torch

from diffusion.ddim import ddim_step, per_sample_noise, sample_ddim
from diffusion.loss import add_noise, predict_x0
from diffusion.schedule import (LOG_SNR_LIMIT, alpha_bar_at, gamma_from_noise_input, make_alpha_bar, make_betas,
                                noise_input, sampling_gammas, sampling_times)
from tests.conftest import linear_alpha_bar, oracle_for

T = 1000
SPACINGS = ("log", "linear", "quadratic")






def toy_x0(batch: int = 2, size: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch, 1, size, size), generator=g)


# ---------------------------------------------------------------- schedule

@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_alpha_bar_strictly_decreasing_inside_unit_interval(schedule):
    betas = make_betas(T, schedule, 1e-4, 2e-2)
    alpha_bar = make_alpha_bar(betas)
    assert alpha_bar.shape == (T + 1,)
    assert alpha_bar.dtype == torch.float64
    assert alpha_bar[0] == 1.0
    inside = alpha_bar[1:]
    assert (inside > 0).all() and (inside < 1).all()
    assert (alpha_bar[1:] < alpha_bar[:-1]).all(), "alpha_bar must strictly decrease with t"
    # alpha_bar_t = alpha_bar_{t-1} (1 - beta_t)
    torch.testing.assert_close(alpha_bar[1:] / alpha_bar[:-1], 1 - betas, rtol=1e-12, atol=0)


def test_unknown_beta_schedule_raises():
    with pytest.raises(ValueError, match="schedule"):
        make_betas(10, "quartic", 1e-4, 2e-2)


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("levels", [1, 2, 10, 100, 1000])
def test_sampling_levels_exact_count_strictly_decreasing(spacing, levels):
    alpha_bar = linear_alpha_bar()
    times = sampling_times(levels, T, spacing)
    assert times.shape == (levels,)
    assert times[0].item() == pytest.approx(T, abs=1e-9), "the first level is the noisiest, t = T"
    if levels > 1:
        assert times[-1].item() == pytest.approx(1.0, abs=1e-9), "the last noisy level is t = 1"
        assert (times[1:] < times[:-1]).all()
    assert len(torch.unique(times)) == levels

    gammas = sampling_gammas(alpha_bar, levels, spacing)
    assert gammas.shape == (levels + 1,)
    assert gammas[-1].item() == 1.0
    # strictly decreasing noise = strictly increasing signal fraction gamma, all distinct
    assert (gammas[1:] > gammas[:-1]).all()
    assert len(torch.unique(gammas)) == levels + 1
    torch.testing.assert_close(gammas[0], alpha_bar[T], rtol=1e-9, atol=0)
    if levels > 1:
        torch.testing.assert_close(gammas[-2], alpha_bar[1], rtol=1e-9, atol=0)
    # what the network sees must stay distinct too (float32 log-SNR), even for L = 1000 log
    s = noise_input(gammas[:-1])
    assert (s[1:] > s[:-1]).all()


def test_log_spacing_denser_near_clean_end_than_linear():
    n_log = int((sampling_times(100, T, "log") < 50).sum())
    n_lin = int((sampling_times(100, T, "linear") < 50).sum())
    n_quad = int((sampling_times(100, T, "quadratic") < 50).sum())
    assert n_log > n_quad > n_lin


def test_unknown_spacing_raises():
    with pytest.raises(ValueError, match="spacing"):
        sampling_times(10, T, "cubic")


def test_alpha_bar_at_matches_table_at_integers_and_is_monotone_between():
    alpha_bar = linear_alpha_bar(50)
    t_int = torch.arange(51, dtype=torch.float64)
    torch.testing.assert_close(alpha_bar_at(t_int, alpha_bar), alpha_bar, rtol=1e-12, atol=0)
    t_fine = torch.linspace(0, 50, 2001, dtype=torch.float64)
    values = alpha_bar_at(t_fine, alpha_bar)
    assert (values[1:] < values[:-1]).all()


def test_linear_levels_with_L_equal_T_are_the_discrete_alpha_bars():
    alpha_bar = linear_alpha_bar()
    gammas = sampling_gammas(alpha_bar, T, "linear")
    expected = torch.cat([alpha_bar.flip(0)[:-1], torch.ones(1, dtype=torch.float64)])  # ab_T..ab_1, 1
    torch.testing.assert_close(gammas, expected, rtol=1e-12, atol=0)


# ---------------------------------------------------------------- noising algebra

@pytest.mark.parametrize("gamma", [1 - 2.0**-20, 0.9999, 0.99, 0.5, 1e-2, 4e-5, 1e-6])
def test_predict_x0_inverts_add_noise(gamma):
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn((3, 1, 16, 16), generator=g)
    eps = torch.randn((3, 1, 16, 16), generator=g)
    # a gamma exactly representable in float32, so only the arithmetic is under test
    gammas = torch.full((3,), gamma, dtype=torch.float32).double()
    x_t = add_noise(x0, gammas, eps)
    assert x_t.dtype == x0.dtype and x_t.shape == x0.shape
    back = predict_x0(x_t, gammas, eps)
    # float32 rounding of x_t (values of order 5, half-ulp ~2.4e-7) is amplified by 1/sqrt(gamma)
    tol = 1e-5 / math.sqrt(gammas[0].item())
    assert (back - x0).abs().max().item() <= tol


def test_add_noise_is_the_forward_process_per_sample():
    x0 = toy_x0(2)
    eps = -toy_x0(2, seed=5)
    gammas = torch.tensor([0.25, 0.64], dtype=torch.float64)
    x_t = add_noise(x0, gammas, eps)
    torch.testing.assert_close(x_t[0], 0.5 * x0[0] + math.sqrt(0.75) * eps[0])
    torch.testing.assert_close(x_t[1], 0.8 * x0[1] + 0.6 * eps[1])


def test_noise_input_round_trip_and_limits():
    alpha_bar = linear_alpha_bar()
    gammas = torch.cat([alpha_bar[1:], torch.tensor([0.5, 1e-8, 1 - 1e-8], dtype=torch.float64)])
    s = noise_input(gammas)
    assert s.dtype == torch.float32
    back = gamma_from_noise_input(s)
    # s is float32: |ds| <= |s| * 6e-8, and dgamma = gamma (1 - gamma) ds
    tol = 2e-6 * gammas * (1 - gammas)
    assert ((back - gammas).abs() <= tol).all()
    torch.testing.assert_close(noise_input(gamma_from_noise_input(s)), s, rtol=1e-6, atol=1e-6)
    # the clean and the pure-noise ends give finite, clipped inputs
    ends = noise_input(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.isfinite(ends).all()
    assert ends.tolist() == [-LOG_SNR_LIMIT, LOG_SNR_LIMIT]
    # more signal, larger input
    assert (s[:-3][1:] < s[:-3][:-1]).all()


# ---------------------------------------------------------------- DDIM with an oracle

@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("levels", [2, 10, 50])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_with_oracle_recovers_x0(eta, levels, spacing):
    alpha_bar = linear_alpha_bar()
    x0 = toy_x0(2)
    gammas = sampling_gammas(alpha_bar, levels, spacing)
    cond = torch.zeros_like(x0)
    out = sample_ddim(oracle_for(x0), cond, gammas, eta=eta, randn=per_sample_noise([3, 4]))
    assert out.shape == x0.shape
    assert (out - x0).abs().max().item() < 1e-4


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_clip_x0_not_binding_changes_nothing(eta):
    alpha_bar = linear_alpha_bar()
    x0 = toy_x0(2)
    gammas = sampling_gammas(alpha_bar, 10, "log")
    cond = torch.zeros_like(x0)
    out = sample_ddim(oracle_for(x0), cond, gammas, eta=eta, randn=per_sample_noise([3, 4]), clip_x0=100.0)
    assert (out - x0).abs().max().item() < 1e-4


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_clip_x0_binding_returns_clamped_x0(eta):
    alpha_bar = linear_alpha_bar()
    x0 = 3 * toy_x0(2)
    assert x0.abs().max() > 1.5
    gammas = sampling_gammas(alpha_bar, 10, "log")
    out = sample_ddim(oracle_for(x0), torch.zeros_like(x0), gammas, eta=eta,
                      randn=per_sample_noise([3, 4]), clip_x0=1.0)
    assert out.abs().max().item() <= 1.0 + 1e-6
    assert (out - x0.clamp(-1, 1)).abs().max().item() < 1e-4


def test_sampler_feeds_noise_input_of_each_level_and_calls_callback():
    alpha_bar = linear_alpha_bar()
    x0 = toy_x0(3)
    gammas = sampling_gammas(alpha_bar, 7, "quadratic")
    oracle = oracle_for(x0)
    seen, steps = [], []

    def spy(x_t, cond, s):
        seen.append(s.clone())
        return oracle(x_t, cond, s)

    sample_ddim(spy, torch.zeros_like(x0), gammas, eta=0.0, randn=per_sample_noise([0, 1, 2]),
                callback=lambda i, x: steps.append(i))
    assert len(seen) == 7 and steps == list(range(7))
    for s, gamma in zip(seen, gammas[:-1]):
        assert s.shape == (3,)
        assert torch.equal(s, noise_input(torch.full((3,), gamma.item(), dtype=torch.float64)))


def test_no_fresh_noise_on_last_step():
    """With eta = 1 the sampler draws once to start and once per step except the last."""
    alpha_bar = linear_alpha_bar()
    x0 = toy_x0(2)
    levels = 10
    gammas = sampling_gammas(alpha_bar, levels, "log")
    outputs = []
    for seed in (0, 1):
        calls = []
        gen = torch.Generator().manual_seed(seed)

        def randn(shape):
            calls.append(shape)
            if len(calls) > levels:  # any draw for the last step poisons the result
                return torch.full(shape, float("nan"))
            return torch.randn(shape, generator=gen)

        out = sample_ddim(oracle_for(x0), torch.zeros_like(x0), gammas, eta=1.0, randn=randn)
        assert len(calls) == levels
        assert torch.isfinite(out).all()
        assert (out - x0).abs().max().item() < 1e-4
        outputs.append(out)
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=2e-4)


def test_eta_zero_draws_only_the_start_noise():
    alpha_bar = linear_alpha_bar()
    x0 = toy_x0(2)
    calls = []

    def randn(shape):
        calls.append(shape)
        return torch.zeros(shape)

    sample_ddim(oracle_for(x0), torch.zeros_like(x0), sampling_gammas(alpha_bar, 5, "log"), eta=0.0, randn=randn)
    assert calls == [tuple(x0.shape)]


def test_per_sample_noise_does_not_depend_on_batch_mates():
    alone = per_sample_noise([7])((1, 1, 4, 4))
    together = per_sample_noise([3, 7, 9])((3, 1, 4, 4))
    assert torch.equal(alone[0], together[1])
    assert not torch.equal(together[0], together[1])
    again = per_sample_noise([3, 7, 9])
    first, second = again((3, 1, 4, 4)), again((3, 1, 4, 4))
    assert not torch.equal(first, second), "each call draws fresh noise"


# ---------------------------------------------------------------- DDIM with L = T and eta = 1 is DDPM

POSTERIOR_TIMES = [1, 2, 3, 500, T - 1, T]


def posterior(alpha_bar, t, x0, x_t):
    ab_t, ab_prev = alpha_bar[t].item(), alpha_bar[t - 1].item()
    beta = 1 - ab_t / ab_prev
    mean = (math.sqrt(ab_prev) * beta / (1 - ab_t) * x0
            + math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab_t) * x_t)
    var = (1 - ab_prev) / (1 - ab_t) * beta
    return mean, var


@pytest.mark.parametrize("t", POSTERIOR_TIMES)
def test_ddim_step_eta1_matches_ddpm_posterior_analytically(t):
    alpha_bar = linear_alpha_bar()
    gammas = sampling_gammas(alpha_bar, T, "linear")
    gamma, gamma_prev = gammas[T - t].item(), gammas[T - t + 1].item()
    assert gamma == pytest.approx(alpha_bar[t].item(), rel=1e-12)
    assert gamma_prev == pytest.approx(alpha_bar[t - 1].item(), rel=1e-12)

    g = torch.Generator().manual_seed(t)
    x0 = torch.randn(64, generator=g, dtype=torch.float64)
    x_t = torch.randn(64, generator=g, dtype=torch.float64)
    eps = (x_t - math.sqrt(gamma) * x0) / math.sqrt(1 - gamma)  # the true noise of this (x0, x_t)
    mean, var = posterior(alpha_bar, t, x0, x_t)

    at_zero = ddim_step(x_t, eps, gamma, gamma_prev, 1.0, torch.zeros_like(x_t))
    torch.testing.assert_close(at_zero, mean, rtol=1e-9, atol=1e-9)
    z = torch.full_like(x_t, 2.5)
    sigma = (ddim_step(x_t, eps, gamma, gamma_prev, 1.0, z) - at_zero) / 2.5
    torch.testing.assert_close(sigma ** 2, torch.full_like(x_t, var), rtol=1e-7, atol=1e-15)
    # eta = 0 is deterministic DDIM: z is ignored and x_prev = sqrt(g') x0 + sqrt(1 - g') eps
    deterministic = ddim_step(x_t, eps, gamma, gamma_prev, 0.0, z)
    torch.testing.assert_close(deterministic, ddim_step(x_t, eps, gamma, gamma_prev, 0.0, None), rtol=0, atol=0)
    torch.testing.assert_close(deterministic, math.sqrt(gamma_prev) * x0 + math.sqrt(1 - gamma_prev) * eps,
                               rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("t", [2, 100, T])
def test_ddim_step_eta1_matches_ddpm_posterior_empirically(t):
    alpha_bar = linear_alpha_bar()
    gamma, gamma_prev = alpha_bar[t].item(), alpha_bar[t - 1].item()
    n = 200_000
    x0, x_t = torch.full((n,), 0.7, dtype=torch.float64), torch.full((n,), -1.3, dtype=torch.float64)
    eps = (x_t - math.sqrt(gamma) * x0) / math.sqrt(1 - gamma)
    z = torch.randn(n, generator=torch.Generator().manual_seed(100 + t), dtype=torch.float64)
    draws = ddim_step(x_t, eps, gamma, gamma_prev, 1.0, z)
    mean, var = posterior(alpha_bar, t, x0[0].item(), x_t[0].item())
    # 5 standard errors of the sample mean and of the sample variance
    assert abs(draws.mean().item() - mean) < 5 * math.sqrt(var / n)
    assert abs(draws.var().item() / var - 1) < 5 * math.sqrt(2 / n)


def test_per_sample_noise_signs_negate_an_item():
    plain = per_sample_noise([3, 3])((2, 1, 4, 4))
    paired = per_sample_noise([3, 3], signs=[1, -1])((2, 1, 4, 4))
    torch.testing.assert_close(paired[0], plain[0])
    torch.testing.assert_close(paired[1], -plain[1])


def test_learning_rate_warms_up_then_holds_or_follows_a_half_cosine():
    from train import learning_rate
    assert [learning_rate(s, 1.0, 4) for s in range(6)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    assert learning_rate(10_000, 2e-4, 0) == 2e-4
    cosine = [learning_rate(s, 1.0, 100, "cosine", 1100, 0.1) for s in (0, 99, 100, 600, 1100, 5000)]
    assert cosine == pytest.approx([0.01, 1.0, 1.0, 0.55, 0.1, 0.1])
    falling = [learning_rate(s, 1.0, 100, "cosine", 1100, 0.1) for s in range(100, 1101)]
    assert all(a > b for a, b in zip(falling, falling[1:]))
