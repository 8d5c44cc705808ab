"""Posterior mean from the K trajectories' x0 estimates at an earlier DDIM step instead of their final samples.

    python -m benchmarks.early_mean --config configs/synthetic.yaml run.dir=runs/A sampling.eta=1.0
        [--k 1,4,8] [--n-test 24] [--n-val 12] [--label NAME] [--out DIR]
By the tower rule, the mean over trajectories of the network's estimate E[x0 | x_t, c] at any
step has the same expectation as the mean of the final samples and no larger variance, so with
an exact network an earlier step would give a better posterior mean from the same K draws. This
measures whether the trained network is good enough for that: per K, the metrics of the mean of
the x0 estimates after each step (the last one is the final samples' mean, what
sampling.num_samples=K writes), on validation and test pairs. Seeds and normalisation are
sample.py's, so the last step reproduces benchmarks.objectives' figures.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.common import int_list, machine_info, output_dir, run_benchmark, write_json
from datasets.condition import upsample
from datasets.heldout import load_heldout
from datasets.normalize import clip_for, denormalize, normalize, section_stats
from diffusion.ddim import per_sample_noise, sample_ddim
from diffusion.schedule import gamma_from_noise_input, make_schedule, noise_input, sampling_gammas
from sample import chunked, load_model, make_net_fn, sample_noise_keys
from utils.config import Config
from utils.metrics import compare_to_targets
from utils.plots import plt
from utils.runtime import pick_device


def add_flags(parser) -> None:
    parser.add_argument("--k", type=int_list, default=[1, 4, 8], help="numbers of trajectories averaged")
    parser.add_argument("--n-test", type=int, default=24, help="first N test stems of split.json")
    parser.add_argument("--n-val", type=int, default=12, help="first N validation stems")
    parser.add_argument("--label", default="early_mean", help="names the output files")


def x0_estimates(net_fn, lr: np.ndarray, name: str, cfg: Config, gammas: torch.Tensor, k: int) -> np.ndarray:
    """Return the network's x0 estimate of each of k trajectories after every step, (steps, k, 2h, 2w), input units."""
    stats = section_stats(lr, cfg.data.normalization, name)
    lr_n = torch.from_numpy(normalize(lr, stats, clip_for(cfg.data.normalization, cfg.data.zscore_clip)))
    cond = upsample(lr_n[None, None], cfg.data.upsample_modes[0]).repeat_interleave(k, dim=0)
    estimates = []

    def recording(x_t, c, s):
        eps = net_fn(x_t, c, s)
        gamma = gamma_from_noise_input(s).float().view(-1, 1, 1, 1)
        estimates.append(((x_t - (1 - gamma).sqrt() * eps) / gamma.sqrt())[:, 0].cpu().numpy())
        return eps

    seeds, signs = sample_noise_keys(cfg.sampling.seed, name, k, cfg.sampling.antithetic)
    sample_ddim(recording, cond, gammas, eta=cfg.sampling.eta, randn=per_sample_noise(seeds, cond.device, signs),
                clip_x0=cfg.sampling.clip_x0)
    return denormalize(np.stack(estimates), stats)


def score(stems, hrs, estimates, ks) -> dict:
    """Return per K and step the mean metrics of the mean over the first K trajectories."""
    out = {}
    for k in ks:
        systems = {str(i): [e[i, :k].mean(axis=0) for e in estimates] for i in range(estimates[0].shape[0])}
        result = compare_to_targets(stems, hrs, systems)
        out[f"K={k}"] = [{m: result[str(i)][m]["mean"] for m in ("psnr", "ssim", "lsd")} for i in range(len(systems))]
    return out


def main(cfg: Config, bench_args) -> None:
    device = pick_device(cfg.run.device)
    model = load_model(cfg, device)
    mcfg = model.cfg
    if mcfg.model.objective == "regression":
        raise SystemExit(f"{cfg.run.dir} holds a regression model: it has no trajectories")
    gammas = sampling_gammas(make_schedule(mcfg.diffusion), mcfg.sampling.steps, mcfg.sampling.spacing)
    net_fn = chunked(make_net_fn(model.net, device, mcfg.train.precision), mcfg.sampling.batch_size)
    k_max = max(bench_args.k)
    result = {"step": model.step, "eta": mcfg.sampling.eta, "steps": mcfg.sampling.steps,
              "log_snr": noise_input(gammas[:-1]).tolist()}
    for part, n in (("val", bench_args.n_val), ("test", bench_args.n_test)):
        pairs = load_heldout(mcfg, part, n)
        estimates = [x0_estimates(net_fn, lr, stem, mcfg, gammas, k_max)
                     for lr, stem in tqdm(zip(pairs.lr, pairs.stems), total=len(pairs.stems), desc=part, file=sys.stdout)]
        result[part] = score(pairs.stems, pairs.hr, estimates, bench_args.k)
    out = output_dir(cfg, bench_args)
    write_json(out / f"{bench_args.label}.json", {"machine": machine_info(device), "run": cfg.run.dir, **result})
    plot(result, out / f"{bench_args.label}.png")
    for part in ("val", "test"):
        for key, rows in result[part].items():
            best = int(np.argmax([r["psnr"] for r in rows]))
            print(f"{part} {key}: final samples {rows[-1]['psnr']:.2f} dB / {rows[-1]['ssim']:.3f} / {rows[-1]['lsd']:.2f}; "
                  f"best step {best} (log SNR {result['log_snr'][best]:.1f}) {rows[best]['psnr']:.2f} / "
                  f"{rows[best]['ssim']:.3f} / {rows[best]['lsd']:.2f}")
    print(f"wrote {out / (bench_args.label + '.json')} and .png")


def plot(result: dict, path) -> None:
    """PSNR of the mean against the step whose x0 estimates are averaged, one line per K, val and test."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=False)
    for ax, part in zip(axes, ("val", "test")):
        for key, rows in result[part].items():
            ax.plot(range(len(rows)), [r["psnr"] for r in rows], marker="o", ms=3, label=key)
        ax.set_title(f"{part}: mean of the x0 estimates after step i")
        ax.set_xlabel("step i (last = final samples)")
        ax.set_ylabel("PSNR (dB)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
