"""Training objective: continuous gamma per sample, noise_input(gamma) fed to the net, l1 / l2 norms."""
from __future__ import annotations

import pytest
import torch

from diffusion.loss import add_noise, diffusion_loss, draw_gamma, snr_weight
from diffusion.schedule import gamma_from_noise_input, noise_input
from tests.conftest import linear_alpha_bar, oracle_for

T = 1000




def batch(size: int = 4, hw: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((size, 1, hw, hw), generator=g), torch.randn((size, 1, hw, hw), generator=g)




def toy_net(x_t, cond, s):
    """Deterministic stand-in depending on all three inputs."""
    return 0.5 * x_t - 0.25 * cond + 0.01 * s.view(-1, 1, 1, 1)


def replay(alpha_bar, x0, seed):
    """Redraw what diffusion_loss draws from a generator with this seed: (t, gamma, eps)."""
    g = torch.Generator().manual_seed(seed)
    t, gamma = draw_gamma(alpha_bar, x0.shape[0], g)
    eps = torch.randn(x0.shape, generator=g, dtype=x0.dtype)
    return t, gamma, eps


def test_loss_shape_is_per_sample():
    x0, cond = batch(5)
    loss = diffusion_loss(toy_net, x0, cond, linear_alpha_bar(), torch.Generator().manual_seed(0))
    assert loss.shape == (5,)
    assert torch.isfinite(loss).all() and (loss > 0).all()


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_loss_is_zero_for_the_oracle(norm):
    x0, cond = batch(64)
    loss = diffusion_loss(oracle_for(x0), x0, cond, linear_alpha_bar(), torch.Generator().manual_seed(1), norm)
    assert loss.shape == (64,)
    assert loss.max().item() < 1e-4
    # and clearly non-zero for a wrong net: the check can fail
    wrong = diffusion_loss(lambda x, c, s: torch.zeros_like(x), x0, cond, linear_alpha_bar(),
                           torch.Generator().manual_seed(1), norm)
    assert wrong.min().item() > 0.3


def test_l1_and_l2_of_a_constant_error():
    """An eps error of exactly +2 everywhere gives l1 = 2 and l2 = 4."""
    x0, cond = batch(16)
    alpha_bar = linear_alpha_bar()
    l1 = diffusion_loss(oracle_for(x0, 2.0), x0, cond, alpha_bar, torch.Generator().manual_seed(2), "l1")
    l2 = diffusion_loss(oracle_for(x0, 2.0), x0, cond, alpha_bar, torch.Generator().manual_seed(2), "l2")
    torch.testing.assert_close(l1, torch.full((16,), 2.0), rtol=0, atol=2e-3)
    torch.testing.assert_close(l2, torch.full((16,), 4.0), rtol=0, atol=8e-3)


def test_l1_and_l2_are_mean_abs_and_mean_square_of_the_eps_error():
    x0, cond = batch(6)
    alpha_bar = linear_alpha_bar()
    zero_net = lambda x_t, c, s: torch.zeros_like(x_t)  # noqa: E731
    _, _, eps = replay(alpha_bar, x0, 3)
    l1 = diffusion_loss(zero_net, x0, cond, alpha_bar, torch.Generator().manual_seed(3), "l1")
    l2 = diffusion_loss(zero_net, x0, cond, alpha_bar, torch.Generator().manual_seed(3), "l2")
    torch.testing.assert_close(l1, eps.abs().flatten(1).mean(1))
    torch.testing.assert_close(l2, (eps ** 2).flatten(1).mean(1))
    assert not torch.allclose(l1, l2)


def test_draw_gamma_lies_between_adjacent_alpha_bars():
    alpha_bar = linear_alpha_bar()
    t, gamma = draw_gamma(alpha_bar, 4096, torch.Generator().manual_seed(4))
    assert t.shape == gamma.shape == (4096,)
    assert gamma.dtype == torch.float64
    assert t.min() >= 1 and t.max() <= T
    assert (gamma >= alpha_bar[t]).all()
    assert (gamma <= alpha_bar[t - 1]).all()
    # gamma is continuous: it is not pinned to the table
    assert (gamma != alpha_bar[t]).float().mean() > 0.99


def test_a_batch_of_64_holds_several_t_and_all_t_are_reachable():
    alpha_bar = linear_alpha_bar()
    t, _ = draw_gamma(alpha_bar, 64, torch.Generator().manual_seed(5))
    assert len(torch.unique(t)) > 1
    small = linear_alpha_bar(10)
    t, _ = draw_gamma(small, 5000, torch.Generator().manual_seed(6))
    assert sorted(torch.unique(t).tolist()) == list(range(1, 11)), "t must be uniform over 1..T, ends included"


def test_top_share_puts_that_share_of_draws_at_the_noisiest_level_and_zero_draws_as_before():
    alpha_bar = linear_alpha_bar()
    t0, gamma0 = draw_gamma(alpha_bar, 4096, torch.Generator().manual_seed(7))
    t_off, gamma_off = draw_gamma(alpha_bar, 4096, torch.Generator().manual_seed(7), top_share=0.0)
    assert torch.equal(t0, t_off) and torch.equal(gamma0, gamma_off), "0 must not change the random stream"
    t, gamma = draw_gamma(alpha_bar, 20000, torch.Generator().manual_seed(8), top_share=0.5)
    at_top = (t == T).float().mean().item()
    assert 0.49 < at_top < 0.51 + 1 / T, at_top  # half at T, plus the uniform half's 1 / T share
    rest = t[t < T]
    assert 0.4 < rest.float().mean().item() / T < 0.6 and len(torch.unique(rest)) > T // 2, "the rest stays uniform"
    assert ((gamma >= alpha_bar[t]) & (gamma <= alpha_bar[t - 1])).all()


def test_diffusion_loss_feeds_the_net_noise_input_of_its_gamma():
    """A spy net: s is noise_input(gamma) of the drawn gamma and x_t is add_noise with that gamma."""
    alpha_bar = linear_alpha_bar()
    x0, cond = batch(64)
    seen = {}

    def spy(x_t, c, s):
        seen.update(x_t=x_t.clone(), cond=c.clone(), s=s.clone())
        return torch.zeros_like(x_t)

    diffusion_loss(spy, x0, cond, alpha_bar, torch.Generator().manual_seed(7))
    t, gamma, eps = replay(alpha_bar, x0, 7)
    s = seen["s"]
    assert s.shape == (64,) and s.dtype == torch.float32
    assert torch.equal(s, noise_input(gamma))
    assert torch.equal(seen["cond"], cond)
    torch.testing.assert_close(seen["x_t"], add_noise(x0, gamma, eps), rtol=0, atol=0)
    # the level the net is told lies in the alpha_bar bracket of its t (up to float32 rounding of s)
    told = gamma_from_noise_input(s)
    slack = 2e-6 * told * (1 - told)
    assert (told >= alpha_bar[t] - slack).all()
    assert (told <= alpha_bar[t - 1] + slack).all()


def test_same_seed_same_loss_different_seed_different_loss():
    alpha_bar = linear_alpha_bar()
    x0, cond = batch(4)
    first = diffusion_loss(toy_net, x0, cond, alpha_bar, torch.Generator().manual_seed(11))
    again = diffusion_loss(toy_net, x0, cond, alpha_bar, torch.Generator().manual_seed(11))
    other = diffusion_loss(toy_net, x0, cond, alpha_bar, torch.Generator().manual_seed(12))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_loss_backpropagates_into_the_net():
    alpha_bar = linear_alpha_bar()
    x0, cond = batch(2)
    net = torch.nn.Conv2d(2, 1, 3, padding=1)
    loss = diffusion_loss(lambda x, c, s: net(torch.cat([c, x], 1)), x0, cond, alpha_bar,
                          torch.Generator().manual_seed(0)).mean()
    loss.backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_snr_weight_clamps_the_x0_weight_between_floor_and_cap(norm):
    """Weight 1 inside [floor, cap]; outside, an x0 error costs exactly what it costs at the nearer end."""
    gamma = torch.tensor([0.01, 0.2, 0.5, 5 / 6, 0.9, 0.999], dtype=torch.float64)  # SNR 0.0101, 0.25, 1, 5, 9, 999
    snr = gamma / (1 - gamma)
    x0_cost = (lambda w: w.double() * (snr.sqrt() if norm == "l1" else snr))  # noqa: E731
    at = (lambda value: torch.full((3,), value ** 0.5 if norm == "l1" else value, dtype=torch.float64))  # noqa: E731
    capped = snr_weight(gamma, 5.0, 0.0, norm)
    assert torch.allclose(capped[:4].double(), torch.ones(4, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(x0_cost(capped)[3:], at(5.0), rtol=1e-5)
    both = snr_weight(gamma, 5.0, 0.25, norm)
    assert torch.allclose(x0_cost(both)[:2], at(0.25)[:2], rtol=1e-5), "the noisiest level is lifted to the floor"
    assert torch.allclose(both[1:4].double(), torch.ones(3, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(x0_cost(both)[3:], at(5.0), rtol=1e-5)
    assert torch.equal(snr_weight(gamma, 0.0, 0.0, norm), torch.ones(6))


def test_snr_weights_each_sample_of_the_loss_and_zero_is_the_paper_loss():
    x0, cond = batch(64)
    alpha_bar = linear_alpha_bar()
    plain = diffusion_loss(toy_net, x0, cond, alpha_bar, torch.Generator().manual_seed(5))
    assert torch.equal(plain, diffusion_loss(toy_net, x0, cond, alpha_bar, torch.Generator().manual_seed(5),
                                             min_snr=0.0, snr_floor=0.0))
    _, gamma, _ = replay(alpha_bar, x0, 5)
    for cap, floor in ((5.0, 0.0), (5.0, 1.0), (0.0, 1.0)):
        weighted = diffusion_loss(toy_net, x0, cond, alpha_bar, torch.Generator().manual_seed(5),
                                  min_snr=cap, snr_floor=floor)
        assert torch.allclose(weighted, plain * snr_weight(gamma, cap, floor), rtol=1e-6)
        assert not torch.allclose(weighted, plain), f"cap {cap}, floor {floor} changed nothing"
