"""Judges samples, not losses: a tiny model trained briefly must denoise better than its own input.

If training and sampling disagreed on what the network predicts (eps vs x0, gamma vs sqrt(gamma)),
the loss would still fall but these samples would be noise and the test would fail.
"""
from __future__ import annotations

import torch

from datasets.pairs import normalise_pairs
from datasets.synthetic import make_pairs
from diffusion.ddim import per_sample_noise, sample_ddim
from diffusion.loss import diffusion_loss, training_target
from diffusion.schedule import make_schedule, sampling_gammas
from models.noise_predictor import NoisePredictor
from models.unet import UNet
from sample import make_net_fn, sample_group
from tests.conftest import linear_alpha_bar, psnr
from utils.config import load_config


def four_patches(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (x0, cond), each (4, 1, 64, 64): normalised HR and bicubic condition from the middle of four pairs."""
    lr, hr = make_pairs(4, seed=7, cfg=cfg.synthetic)
    pairs = normalise_pairs(lr, hr, cfg.data)
    x0 = torch.from_numpy(pairs.x0[:, 96:160, 96:160].copy())[:, None]
    cond = torch.from_numpy(pairs.cond["bicubic"][:, 96:160, 96:160].copy())[:, None]
    return x0, cond


def trained_briefly(target: torch.Tensor, cond: torch.Tensor, alpha_bar: torch.Tensor, steps: int,
                    min_snr: float = 0.0, snr_floor: float = 0.0, top_share: float = 0.0) -> NoisePredictor:
    """Return a tiny noise predictor trained for `steps` Adam steps on the four patches, in eval mode."""
    torch.manual_seed(0)
    net = NoisePredictor(UNet(base_channels=16, channel_mults=[1, 2], num_res_blocks=1, norm_groups=8), skip=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)  # high for a short run on four patches
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        loss = diffusion_loss(net, target, cond, alpha_bar, generator, "l1", min_snr, snr_floor, top_share).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def test_trained_sampler_beats_its_conditioning_input():
    cfg = load_config(None, ["data.upsample_modes=[bicubic]"])
    x0, cond = four_patches(cfg)
    alpha_bar = linear_alpha_bar()
    net = trained_briefly(x0, cond, alpha_bar, 400)
    gammas = sampling_gammas(alpha_bar, 10, "log")
    sample = sample_ddim(net, cond, gammas, eta=0.0, randn=per_sample_noise([1, 2, 3, 4]))
    gain = psnr(sample, x0) - psnr(cond, x0)
    assert gain > 3.0, f"sampled PSNR only {gain:+.2f} dB over the conditioning input"


def test_the_main_jobs_residual_one_step_sampler_beats_its_conditioning_input():
    """configs/quick.yaml's setting: the chain diffuses HR - cond (train.py's training_target), the loss is
    Min-SNR weighted with a floor and half its draws are at t = T, and sample.py draws one DDIM step and adds cond back. A sampler that
    forgot cond, or added it twice, would score far below the input."""
    cfg = load_config(None, ["data.upsample_modes=[bicubic]", "diffusion.target=residual", "diffusion.min_snr=5",
                             "diffusion.snr_floor=1", "diffusion.top_share=0.5", "sampling.steps=1"])
    x0, cond = four_patches(cfg)
    alpha_bar = make_schedule(cfg.diffusion)
    # About +11 dB after 150 steps; without cond added back, or with it twice, about -2 dB.
    net = trained_briefly(training_target(x0, cond, cfg.diffusion.target), cond, alpha_bar, 150,
                          cfg.diffusion.min_snr, cfg.diffusion.snr_floor, cfg.diffusion.top_share)
    gammas = sampling_gammas(alpha_bar, cfg.sampling.steps, cfg.sampling.spacing)
    with torch.no_grad():
        sample = sample_group(make_net_fn(net, torch.device("cpu"), "fp32"), cond, [1, 2, 3, 4], cfg, gammas)
    gain = psnr(sample, x0) - psnr(cond, x0)
    assert gain > 3.0, f"one-step residual sample only {gain:+.2f} dB over the conditioning input"
