"""Prediction: batch independence, seeding, tiling and blending of the noise estimate."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from diffusion.schedule import gamma_from_noise_input, sampling_gammas
from diffusion.tiling import blend_window, tile_starts, tiled
from datasets.condition import upsample
from datasets.normalize import clip_for, denormalize, normalize, section_stats
from sample import file_seed, flip_samples, make_net_fn, mean_and_std, sample_noise_keys, super_resolve, with_sampling
from tests.conftest import linear_alpha_bar, oracle_for, randomise_zero_init, tiny_unet
from utils.config import load_config

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def unet_fn():
    """A tiny U-Net whose zero-initialised convs get small random weights, so eps is not trivially 0."""
    return make_net_fn(randomise_zero_init(tiny_unet(), std=0.07), CPU, "fp32")


@pytest.fixture(scope="module")
def net_fn(unet_fn):
    """The random U-Net as an x0 predictor around the condition: x0_hat = cond - unet(x_t, cond, s).

    A bare random net predicts eps far from the truth, so x0_hat = (x_t - sqrt(1 - g) eps) / sqrt(g)
    is amplified ~150x at the noisiest level and the samples reach hundreds of units, where 1e-5
    would be below float32 resolution. Written as an eps prediction, this stays of order one, and
    every output pixel still depends on the U-Net (and so on batch composition, noise and seed).
    """
    def fn(x_t, cond, s):
        g = gamma_from_noise_input(s).float().view(-1, 1, 1, 1)
        x0_hat = cond - unet_fn(x_t, cond, s)
        return (x_t - g.sqrt() * x0_hat) / (1 - g).sqrt()
    return fn


@pytest.fixture(scope="module")
def data_cfg():
    return load_config(None, [])


@pytest.fixture(scope="module")
def gammas():
    return sampling_gammas(linear_alpha_bar(), 4, "log")


def sections(n, h=16, w=16, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((h, w)).cumsum(0) / np.sqrt(h)).astype(np.float32) for _ in range(n)]


def predict(net_fn, cfg, gammas, lrs, names, seed=0, batch=1, tile=0, overlap=0, eta=1.0, k=1):
    """Return super_resolve's samples of each section: (2h, 2w) for k = 1, else (k, 2h, 2w)."""
    run = with_sampling(cfg, eta=eta, clip_x0=0.0, seed=seed, batch_size=batch, tile_size=tile, tile_overlap=overlap,
                        num_samples=k)
    out = super_resolve(net_fn, lrs, names, run, gammas, CPU)
    return [o[0] for o in out] if k == 1 else out


def test_a_section_alone_equals_the_same_section_in_a_batch(net_fn, data_cfg, gammas):
    lrs = sections(3)
    names = ["a", "b", "c"]
    together = predict(net_fn, data_cfg, gammas, lrs, names, batch=3)
    alone = predict(net_fn, data_cfg, gammas, [lrs[1]], ["b"], batch=3)
    assert together[1].shape == (32, 32)
    np.testing.assert_allclose(alone[0], together[1], rtol=0, atol=1e-5)
    # batch order does not matter either: results come back in input order
    reordered = predict(net_fn, data_cfg, gammas, lrs[::-1], names[::-1], batch=2)
    for k in range(3):
        np.testing.assert_allclose(reordered[2 - k], together[k], rtol=0, atol=1e-5)
    # and the three sections really are different outputs
    assert not np.allclose(together[0], together[1])


def test_same_seed_identical_different_seed_or_name_different(net_fn, data_cfg, gammas):
    lrs = sections(2)
    first = predict(net_fn, data_cfg, gammas, lrs, ["a", "b"], seed=0, batch=2)
    again = predict(net_fn, data_cfg, gammas, lrs, ["a", "b"], seed=0, batch=2)
    for x, y in zip(first, again):
        assert np.array_equal(x, y)
    other_seed = predict(net_fn, data_cfg, gammas, lrs, ["a", "b"], seed=1, batch=2)
    other_name = predict(net_fn, data_cfg, gammas, lrs, ["a2", "b"], seed=0, batch=2)
    for k in range(2):
        assert np.abs(other_seed[k] - first[k]).max() > 1e-3
    assert np.abs(other_name[0] - first[0]).max() > 1e-3
    np.testing.assert_allclose(other_name[1], first[1], rtol=0, atol=1e-5)


def test_eta0_does_not_depend_on_later_noise_draws(net_fn, data_cfg, gammas):
    """With eta = 0 only the starting noise is random: a given seed still fixes the output."""
    lrs = sections(1)
    first = predict(net_fn, data_cfg, gammas, lrs, ["a"], eta=0.0)
    np.testing.assert_array_equal(first[0], predict(net_fn, data_cfg, gammas, lrs, ["a"], eta=0.0)[0])
    assert np.abs(first[0] - predict(net_fn, data_cfg, gammas, lrs, ["a"], seed=3, eta=0.0)[0]).max() > 1e-3


def test_prediction_is_in_the_input_amplitude_units(net_fn, data_cfg, gammas):
    """Sections are normalised by their own LR statistics: scaling and shifting the input does the same to the output."""
    lr = sections(1)[0]
    base = predict(net_fn, data_cfg, gammas, [lr], ["a"])[0]
    scaled = predict(net_fn, data_cfg, gammas, [(1000 * lr + 50).astype(np.float32)], ["a"])[0]
    np.testing.assert_allclose(scaled, 1000 * base + 50, rtol=0, atol=1e-3 * 1000 * np.abs(base).max())


def test_file_seed_depends_on_base_seed_and_name_only():
    assert file_seed(0, "a") == file_seed(0, "a")
    assert len({file_seed(0, "a"), file_seed(1, "a"), file_seed(0, "b")}) == 3
    assert 0 <= file_seed(2**40, "x" * 100) < 2**63


# ---------------------------------------------------------------- tiles

@pytest.mark.parametrize("size,tile,overlap", [(100, 32, 8), (64, 32, 8), (33, 32, 0), (1000, 256, 64),
                                               (257, 256, 64), (32, 32, 8), (10, 32, 8), (90, 32, 16)])
def test_tile_starts_cover_the_axis_with_the_overlap(size, tile, overlap):
    starts = tile_starts(size, tile, overlap)
    assert starts[0] == 0
    if size <= tile:
        assert starts == [0]
        return
    assert starts[-1] + tile == size
    assert all(b > a for a, b in zip(starts, starts[1:])), "strictly increasing, no duplicates"
    assert all(a + tile - b >= overlap for a, b in zip(starts, starts[1:])), "neighbours share >= overlap"
    covered = np.zeros(size, bool)
    for s in starts:
        covered[s:s + tile] = True
    assert covered.all()


def weight_map(height, width, tile, overlap):
    """The total blend weight per pixel, built as `tiled` builds it."""
    total = np.zeros((height, width))
    th, tw = min(tile, height), min(tile, width)
    for r in tile_starts(height, tile, overlap):
        for c in tile_starts(width, tile, overlap):
            w = torch.outer(blend_window(th, overlap, r == 0, r + th == height),
                            blend_window(tw, overlap, c == 0, c + tw == width))
            total[r:r + th, c:c + tw] += w.numpy()
    return total


@pytest.mark.parametrize("shape,tile,overlap", [((50, 70), 32, 8), ((64, 96), 32, 16), ((40, 33), 32, 0),
                                                ((20, 100), 32, 8)])
def test_every_pixel_has_positive_blend_weight(shape, tile, overlap):
    total = weight_map(*shape, tile, overlap)
    assert total.min() >= 0.5
    window = blend_window(tile, overlap, False, False)
    assert (window > 0).all() and window.max() <= 1


def test_blend_window_ramps_only_at_interior_edges():
    w = blend_window(10, 3, at_start=True, at_end=False)
    assert (w[:7] == 1).all() and (w[7:] < 1).all() and (torch.diff(w[6:]) < 0).all()
    assert torch.equal(blend_window(10, 3, True, True), torch.ones(10, dtype=torch.float64))
    # complementary ramps of two neighbours sum to one across an overlap of exactly `ramp`
    rise, fall = blend_window(6, 3, False, True)[:3], blend_window(6, 3, True, False)[3:]
    torch.testing.assert_close(rise + fall, torch.ones(3, dtype=torch.float64))


class Pointwise(nn.Module):
    """A 1x1-conv stand-in: eps at a pixel depends only on that pixel (and s)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[[[0.7]], [[-1.3]]]]))
            self.conv.bias.fill_(0.2)

    def forward(self, x_t, cond, s):
        return self.conv(torch.cat([cond, x_t], 1)) + 0.1 * s.view(-1, 1, 1, 1)


@pytest.mark.parametrize("shape,tile,overlap,batch", [((50, 70), 32, 8, 4), ((64, 96), 32, 16, 1),
                                                      ((40, 33), 32, 0, 3)])
def test_tiled_equals_untiled_for_a_pointwise_net(shape, tile, overlap, batch):
    g = torch.Generator().manual_seed(0)
    x_t = torch.randn((2, 1, *shape), generator=g)
    cond = torch.randn((2, 1, *shape), generator=g)
    s = torch.tensor([-3.0, 4.0])  # distinct per item: checks the s of each crop lines up
    net = Pointwise()
    calls = []

    def counting(x, c, s_):
        calls.append(x.shape[0])
        return net(x, c, s_)

    with torch.no_grad():
        whole = net(x_t, cond, s)
        blended = tiled(counting, tile, overlap, batch)(x_t, cond, s)
    assert blended.shape == whole.shape and blended.dtype == torch.float32
    assert torch.isfinite(blended).all()
    assert torch.equal(blended, whole)
    n_tiles = len(tile_starts(shape[0], tile, overlap)) * len(tile_starts(shape[1], tile, overlap))
    assert sum(calls) == 2 * n_tiles and max(calls) <= 2 * batch


def test_tiled_passes_small_inputs_straight_through(unet_fn):
    g = torch.Generator().manual_seed(0)
    x_t, cond = torch.randn((2, 1, 32, 24), generator=g), torch.randn((2, 1, 32, 24), generator=g)
    s = torch.tensor([0.0, 1.0])
    with torch.no_grad():
        assert torch.equal(tiled(unet_fn, 32, 8, 2)(x_t, cond, s), unet_fn(x_t, cond, s))
        assert torch.equal(tiled(unet_fn, 0, 0, 2)(x_t, cond, s), unet_fn(x_t, cond, s))


def test_tiled_unet_eps_is_finite_and_close_to_untiled(unet_fn):
    g = torch.Generator().manual_seed(1)
    x_t, cond = torch.randn((1, 1, 48, 80), generator=g), torch.randn((1, 1, 48, 80), generator=g)
    s = torch.tensor([0.5])
    with torch.no_grad():
        whole = unet_fn(x_t, cond, s)
        blended = tiled(unet_fn, 32, 8, 4)(x_t, cond, s)
    assert blended.shape == whole.shape and torch.isfinite(blended).all()
    assert whole.std() > 1e-3
    # tiles see less context (and their own GroupNorm statistics), but the estimate stays close
    relative = ((blended - whole).norm() / whole.norm()).item()
    assert relative < 0.5


def test_super_resolve_mixes_tiled_and_whole_sections_in_input_order(net_fn, data_cfg, gammas):
    rng = np.random.default_rng(2)
    lrs = [rng.standard_normal(shape).astype(np.float32) for shape in [(16, 16), (24, 40), (16, 16), (12, 20)]]
    names = ["p", "q", "r", "s"]
    out = predict(net_fn, data_cfg, gammas, lrs, names, batch=2, tile=32, overlap=8)
    assert [o.shape for o in out] == [(2 * h, 2 * w) for h, w in (lr.shape for lr in lrs)]
    assert all(np.isfinite(o).all() for o in out)
    alone = predict(net_fn, data_cfg, gammas, [lrs[1]], ["q"], batch=2, tile=32, overlap=8)
    np.testing.assert_allclose(alone[0], out[1], rtol=0, atol=1e-5)
    small_alone = predict(net_fn, data_cfg, gammas, [lrs[2]], ["r"], batch=2, tile=32, overlap=8)
    np.testing.assert_allclose(small_alone[0], out[2], rtol=0, atol=1e-5)


# ---------------------------------------------------------------- K samples per section

def test_k_samples_start_with_the_single_sample_and_differ_from_each_other(net_fn, data_cfg, gammas):
    lrs = sections(2)
    single = predict(net_fn, data_cfg, gammas, lrs, ["a", "b"], batch=4)
    many = predict(net_fn, data_cfg, gammas, lrs, ["a", "b"], batch=4, k=3)
    for one, k_samples in zip(single, many):
        assert k_samples.shape == (3, 32, 32)
        np.testing.assert_allclose(k_samples[0], one, rtol=0, atol=1e-5)  # sample 0 is the K = 1 sample
        assert np.abs(k_samples[1] - k_samples[0]).max() > 1e-3 and np.abs(k_samples[2] - k_samples[1]).max() > 1e-3
    alone = predict(net_fn, data_cfg, gammas, [lrs[1]], ["b"], batch=1, k=3)[0]
    np.testing.assert_allclose(alone, many[1], rtol=0, atol=1e-5)  # not changed by batching


def test_k_samples_respect_the_images_per_call(data_cfg, gammas, net_fn):
    calls = []

    def spy(x_t, cond, s):
        calls.append(x_t.shape[0])
        return net_fn(x_t, cond, s)

    predict(spy, data_cfg, gammas, sections(3), ["a", "b", "c"], batch=2, k=4)
    assert max(calls) <= 2 and sum(calls) == 3 * 4 * 4  # sections x samples x steps
    calls.clear()
    predict(spy, data_cfg, gammas, sections(3), ["a", "b", "c"], batch=12, k=4)
    assert calls == [12] * 4, "on a GPU all samples of all sections share one call per step"


def test_mean_and_std_of_samples():
    samples = np.stack([np.full((4, 4), v, dtype=np.float32) for v in (1.0, 2.0, 6.0)])
    mean, std = mean_and_std(samples)
    assert np.allclose(mean, 3.0) and np.allclose(std, np.std([1.0, 2.0, 6.0]))
    assert mean_and_std(samples[:1])[1] is None


def test_std_of_moved_samples_is_the_models_spread_about_their_mean():
    """Samples pulled together (by the self-check, guard or floor) keep the std of the model's own draws,
    measured about the written mean: their own agreement says nothing about the truth."""
    own = np.stack([np.full((4, 4), v, dtype=np.float32) for v in (1.0, 3.0)])  # the model's draws: mean 2, spread 1
    moved = np.stack([np.full((4, 4), v, dtype=np.float32) for v in (4.9, 5.1)])  # pulled together, mean 5
    mean, std = mean_and_std(moved, own=own)
    np.testing.assert_allclose(mean, 5.0, rtol=1e-6)  # the prediction is still the moved samples' mean
    np.testing.assert_allclose(std, np.sqrt((4.0 ** 2 + 2.0 ** 2) / 2), rtol=1e-6)  # rms of 1 - 5 and 3 - 5
    np.testing.assert_allclose(mean_and_std(moved)[1], 0.1, rtol=1e-5)  # without them: the collapsed spread
    np.testing.assert_array_equal(mean_and_std(own, own=own)[1], mean_and_std(own)[1])  # unmoved: as before
    with pytest.raises(ValueError, match="own samples"):
        mean_and_std(moved, own=own[:1])


def test_std_smoothing_pools_the_variance_of_neighbouring_pixels():
    rng = np.random.default_rng(0)
    truth = np.linspace(1, 3, 32)[None, :]  # the spread grows across the section
    samples = (rng.standard_normal((4, 32, 32)) * truth).astype(np.float32)
    mean, raw = mean_and_std(samples)
    smooth_mean, smooth = mean_and_std(samples, 2.0)
    np.testing.assert_array_equal(smooth_mean, mean)  # only the std is pooled
    assert smooth.shape == raw.shape and (smooth > 0).all()
    np.testing.assert_allclose((smooth ** 2).mean(), (raw ** 2).mean(), rtol=0.05)  # pooling keeps the variance level
    assert (smooth / truth).std() < 0.5 * (raw / truth).std(), "pooled std scatters less around the true spread"
    assert smooth[:, -4:].mean() > 2 * smooth[:, :4].mean(), "and still follows the spread across the section"
    constant = np.stack([np.full((8, 8), v, np.float32) for v in (0.0, 2.0)])
    np.testing.assert_allclose(mean_and_std(constant, 3.0)[1], 1.0, rtol=1e-6)  # a uniform spread is unchanged


def test_spectral_match_gives_the_mean_the_samples_time_spectrum_in_its_own_phase():
    from utils.metrics import amplitude_spectrum
    rng = np.random.default_rng(1)
    t = np.arange(64)[:, None]
    truth = np.sin(2 * np.pi * 3 * t / 64 + rng.uniform(0, 6, (1, 16)))  # one low frequency, shifting phase
    samples = (truth + 0.5 * rng.standard_normal((4, 64, 16))).astype(np.float32)  # they disagree on the rest
    plain, std = mean_and_std(samples)
    of_samples = np.mean([amplitude_spectrum(x) for x in samples.astype(np.float64)], axis=0)
    assert (amplitude_spectrum(plain)[5:] < 0.8 * of_samples[5:]).all(), "averaging loses what the samples disagree on"
    full, full_std = mean_and_std(samples, 0.0, 1.0)
    np.testing.assert_array_equal(full_std, std)  # the std stays the spread about the plain mean
    np.testing.assert_allclose(amplitude_spectrum(full), of_samples, rtol=1e-4)
    half = mean_and_std(samples, 0.0, 0.5)[0]
    np.testing.assert_allclose(np.log(amplitude_spectrum(half)),
                               0.5 * (np.log(amplitude_spectrum(plain)) + np.log(of_samples)), atol=1e-4)
    gain = np.fft.rfft(full.astype(np.float64), axis=0) / np.fft.rfft(plain.astype(np.float64), axis=0)
    assert np.allclose(gain.imag, 0, atol=1e-3) and (gain.real > 1 - 1e-4).all(), "zero phase, never a cut"
    assert np.allclose(gain, gain[:, :1], atol=1e-3), "one gain per frequency for every trace"
    np.testing.assert_array_equal(mean_and_std(samples, 0.0, 0.0)[0], plain)
    np.testing.assert_array_equal(mean_and_std(samples[:1], 0.0, 1.0)[0], samples[0])  # K = 1: the sample itself


# ---------------------------------------------------------------- targets and objectives

def test_residual_target_with_an_oracle_gives_back_x0(data_cfg, gammas):
    """Diffusing HR - cond: an oracle for the residual's noise must return the HR exactly (cond added back)."""
    lr = sections(1)[0]
    run = with_sampling(data_cfg, eta=0.0, num_samples=1, batch_size=1, tile_size=0)
    run.diffusion.target = "residual"
    clip = clip_for(run.data.normalization, run.data.zscore_clip)
    stats = section_stats(lr, run.data.normalization)
    cond = upsample(torch.from_numpy(normalize(lr, stats, clip))[None, None], "bicubic")
    x0 = torch.from_numpy(sections(1, 32, 32, seed=5)[0])[None, None]
    oracle = oracle_for(x0 - cond)
    levels = sampling_gammas(linear_alpha_bar(), 10, "log")
    ((out,),) = super_resolve(oracle, [lr], ["a"], run, levels, CPU)
    np.testing.assert_allclose(out, denormalize(x0[0, 0].numpy(), stats), rtol=0, atol=1e-3 * stats[1])


def test_regression_objective_is_one_pass(data_cfg, gammas):
    run = with_sampling(data_cfg, num_samples=4, batch_size=8, tile_size=0)
    run.model.objective = "regression"
    calls = []

    def regressor(x_t, cond, s):
        calls.append(x_t.shape[0])
        assert not x_t.any() and not s.any(), "a regression network gets no noisy image and no noise level"
        return 2 * cond

    (out,) = super_resolve(regressor, sections(1), ["a"], run, gammas, CPU)
    assert calls == [1] and out.shape == (1, 32, 32), "one pass, one output whatever num_samples says"


# ---------------------------------------------------------------- flip self-ensemble (sampling.flips)

def test_flips_cycle_through_the_four_flips_and_undo_themselves():
    x = torch.arange(5 * 6, dtype=torch.float32).view(1, 1, 5, 6).repeat(10, 1, 1, 1)  # 2 sections x K = 5
    flipped = flip_samples(x, 5)
    for n, axes in enumerate([(), (-2,), (-1,), (-2, -1), ()] * 2):
        np.testing.assert_array_equal(flipped[n].numpy(), x[n].flip(axes).numpy() if axes else x[n].numpy())
    np.testing.assert_array_equal(flip_samples(flipped, 5).numpy(), x.numpy())


def test_flipped_samples_come_back_on_the_input_grid(data_cfg, gammas):
    """A network that commutes with flips gives K identical samples, equal to the unflipped output."""
    lr = sections(1, h=12, w=10)[0]  # (time, trace), not symmetric in either axis

    def diffusion_net(x_t, cond, s):  # the eps that makes x0_hat = 2 cond: it commutes with flips
        g = gamma_from_noise_input(s).float().view(-1, 1, 1, 1)
        return (x_t - g.sqrt() * 2 * cond) / (1 - g).sqrt()

    cases = (("diffusion", "x0", diffusion_net), ("diffusion", "residual", diffusion_net),
             ("regression", "x0", lambda x_t, cond, s: 2 * cond))
    for objective, target, net in cases:  # residual: the condition is added back in the flipped frame, then unflipped
        plain = with_sampling(data_cfg, eta=1.0, num_samples=1, batch_size=8, tile_size=0)
        plain.model.objective, plain.diffusion.target = objective, target
        ((one,),) = super_resolve(net, [lr], ["a"], plain, gammas, CPU)
        run = with_sampling(plain, num_samples=4, flips=True)
        (samples,) = super_resolve(net, [lr], ["a"], run, gammas, CPU)
        assert samples.shape == (4, 24, 20), (objective, target)
        for k in range(4):
            np.testing.assert_allclose(samples[k], one, rtol=0, atol=1e-4 * np.abs(one).max(), err_msg=f"{objective} {target}")


def test_flips_change_what_a_non_symmetric_network_sees(data_cfg, gammas):
    """A network that is not flip-equivariant: sample k is its output on the flipped input, flipped back."""
    lr = sections(1, h=12, w=10)[0]
    ramp = torch.linspace(0, 1, 24).view(1, 1, 24, 1)  # grows along time whatever the input

    def regressor(x_t, cond, s):
        return cond + ramp

    run = with_sampling(data_cfg, num_samples=4, batch_size=8, tile_size=0, flips=True)
    run.model.objective = "regression"
    calls = []
    (samples,) = super_resolve(lambda *a: calls.append(a[0].shape[0]) or regressor(*a), [lr], ["a"], run, gammas, CPU)
    assert calls == [4], "the K flipped passes share one call"
    base = samples[0] - samples[2]  # flips (none) and (trace) share the ramp's direction
    assert np.abs(base).max() < 1e-4
    np.testing.assert_allclose(samples[1] - samples[0], samples[3] - samples[2], atol=1e-4)
    assert np.abs(samples[1] - samples[0]).max() > 0.5, "a time flip turns the ramp round"
    _, plain_std = mean_and_std(samples)
    assert plain_std.max() > 0.2


def test_flips_keep_sample_zero_and_vary_the_others(net_fn, data_cfg, gammas):
    lrs = sections(2)
    plain = predict(net_fn, data_cfg, gammas, lrs, ["a", "b"], batch=8, k=3)
    flipped = super_resolve(net_fn, lrs, ["a", "b"], with_sampling(data_cfg, eta=1.0, clip_x0=0.0, seed=0, batch_size=8,
                                                                   tile_size=0, num_samples=3, flips=True), gammas, CPU)
    for p, f in zip(plain, flipped):
        np.testing.assert_allclose(f[0], p[0], rtol=0, atol=1e-5)  # sample 0 is never flipped: K = 1 is unchanged
        assert np.abs(f[1] - p[1]).max() > 1e-3 and np.abs(f[2] - p[2]).max() > 1e-3


# ---------------------------------------------------------------- antithetic pairs (sampling.antithetic)

def affine_sampler_net(x_t, cond, s):
    """An eps prediction whose x0 estimate is affine in (x_t, cond): every DDIM sample is then affine in its noise."""
    g = gamma_from_noise_input(s).float().view(-1, 1, 1, 1)
    x0_hat = 0.5 * cond + 0.3 * x_t
    return (x_t - g.sqrt() * x0_hat) / (1 - g).sqrt()


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_antithetic_pair_mean_is_the_noise_free_answer_of_an_affine_sampler(data_cfg, gammas, eta):
    """For a sampler affine in its noise, a pair's mean cancels the noise exactly, whatever the seed;
    the mean of two independent samples does not."""
    lr = sections(1, h=12, w=10)[0]

    def pair(seed, antithetic):
        run = with_sampling(data_cfg, eta=eta, clip_x0=0.0, seed=seed, batch_size=8, tile_size=0, num_samples=2,
                            antithetic=antithetic)
        (samples,) = super_resolve(affine_sampler_net, [lr], ["a"], run, gammas, CPU)
        return samples

    first, second = pair(0, True), pair(5, True)
    spread = np.abs(first[0] - first[1]).max()
    assert spread > 0.01, "the noise matters to each sample"
    np.testing.assert_allclose(first.mean(axis=0), second.mean(axis=0), rtol=0, atol=1e-4 * spread)
    independent = pair(0, False), pair(5, False)
    assert np.abs(independent[0].mean(axis=0) - independent[1].mean(axis=0)).max() > 0.05 * spread


def test_antithetic_keeps_sample_zero_and_replays_its_noise_negated(net_fn, data_cfg, gammas):
    lrs = sections(2)
    plain = predict(net_fn, data_cfg, gammas, lrs, ["a", "b"], batch=8, k=4)
    run = with_sampling(data_cfg, eta=1.0, clip_x0=0.0, seed=0, batch_size=8, tile_size=0, num_samples=4, antithetic=True)
    paired = super_resolve(net_fn, lrs, ["a", "b"], run, gammas, CPU)
    for p, a in zip(plain, paired):
        np.testing.assert_allclose(a[0], p[0], rtol=0, atol=1e-5)  # K = 1 is unchanged
        np.testing.assert_allclose(a[2], p[2], rtol=0, atol=1e-5)  # even samples keep their own seeds
        assert np.abs(a[1] - p[1]).max() > 1e-3 and np.abs(a[3] - p[3]).max() > 1e-3
    seeds, signs = sample_noise_keys(0, "a", 4, True)
    assert seeds[1] == seeds[0] and seeds[3] == seeds[2] and seeds[0] != seeds[2] and signs == [1, -1, 1, -1]
    assert sample_noise_keys(0, "a", 4, False) == ([file_seed(0, "a", j) for j in range(4)], [1.0] * 4)
