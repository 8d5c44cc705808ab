"""The round-trip recipes that check a model on real sections, by letter.

A is the config's `roundtrip.*`; every other recipe replaces some of its keys (the rest stay as
A's, so a config with another `roundtrip.*` moves them all). B to H were the project's checks up
to docs/BENCHMARKS.md section 9e; I to O were each written down before they were first run, to
look for weaknesses rather than to tune (sections 9e and 9f); P to R decimate by point sampling
(`roundtrip.decimation: samples`, section 9g), the way a recorder or a trace spacing samples, where
A to O average 2 x 2 cells; S and T resize the way image libraries do (`bicubic`, `gaussian`), with
their own filters only, as a user checking the model with an image toolkit would; U and V (section 9h)
add heavy white noise to A and to S, and W blurs before it point-samples; X, Y and Z (section 9n)
are A with what field recordings have and the other recipes lack: a band that narrows with depth,
dead traces and spikes, traces with swell noise. `python -m benchmarks.transfer --recipes all`
scores a model under all of them.
"""
from __future__ import annotations

RECIPES: dict[str, tuple[dict, str]] = {
    "A": ({}, "the config's roundtrip.*"),
    "B": ({"band_factor": 1.0, "noise_std": 0.05, "colored_noise_std": 0.0}, "plain decimation, 5 % white noise"),
    "C": ({"band_factor": 0.75, "noise_std": 0.15, "colored_noise_std": 0.0}, "band 0.75, 15 % white noise"),
    "D": ({"band_factor": 0.5, "noise_std": 0.05, "colored_noise_std": 0.1, "colored_band": [0.2, 0.6]},
          "band 0.5, coloured noise in another band"),
    "E": ({"band_factor": 0.9, "band_taper": 0.8}, "smooth roll-off to 0.9"),
    "F": ({"antialias": False, "noise_std": 0.05, "colored_noise_std": 0.05}, "A's band, no anti-alias filter"),
    "G": ({"band_factor": 1.0, "noise_std": 0.1, "colored_noise_std": 0.05}, "plain decimation, A's noise"),
    "H": ({"band_factor": 0.7, "band_taper": 0.5, "noise_std": 0.03, "colored_noise_std": 0.0},
          "medium roll-off to 0.7, little noise"),
    "I": ({"band_factor": 1.0, "antialias": False, "noise_std": 0.05, "colored_noise_std": 0.0},
          "plain decimation, aliased"),
    "J": ({"noise_std": 0.3, "colored_noise_std": 0.1}, "A with 30 % white and 10 % coloured noise"),
    "K": ({"band_factor": 0.4, "noise_std": 0.1}, "narrowed to 0.4, below the trained range"),
    "L": ({"noise_std": 0.0, "colored_noise_std": 0.0}, "A without noise"),
    "M": ({"colored_noise_std": 0.2, "colored_band": [0.05, 0.9]}, "A with wide-band coloured noise"),
    "N": ({"band_factor": 0.55, "band_taper": 0.4, "noise_std": 0.2, "colored_noise_std": 0.1,
           "colored_band": [0.1, 0.3]}, "roll-off to 0.55, 20 % white and 10 % coloured noise"),
    "O": ({"band_factor": 0.8, "antialias": False, "noise_std": 0.15, "colored_noise_std": 0.0},
          "band 0.8, aliased, 15 % white noise"),
    "P": ({"decimation": "samples"}, "A, point-sampled instead of 2 x 2 cell means"),
    "Q": ({"band_factor": 1.0, "noise_std": 0.05, "colored_noise_std": 0.0, "decimation": "samples"},
          "B, point-sampled: plain resampling with nothing softened below the LR Nyquist"),
    "R": ({"band_factor": 1.0, "antialias": False, "noise_std": 0.05, "colored_noise_std": 0.0,
           "decimation": "samples"}, "I, point-sampled: every other sample and trace, aliased"),
    "S": ({"band_factor": 1.0, "antialias": False, "noise_std": 0.05, "colored_noise_std": 0.0,
           "decimation": "bicubic"}, "B by bicubic resizing (torch, antialias), the usual image SR degradation"),
    "T": ({"band_factor": 1.0, "antialias": False, "noise_std": 0.05, "colored_noise_std": 0.0,
           "decimation": "gaussian"}, "B by skimage's rescale (Gaussian sigma 0.5, then cell means)"),
    "U": ({"noise_std": 0.6, "colored_noise_std": 0.0}, "A with 60 % white noise, twice the trained maximum"),
    "V": ({"band_factor": 1.0, "antialias": False, "noise_std": 0.2, "colored_noise_std": 0.0, "decimation": "bicubic"},
          "S with 20 % white noise: bicubic resizing plus noise, image SR's noisy degradation"),
    "W": ({"band_factor": 1.0, "antialias": False, "noise_std": 0.05, "colored_noise_std": 0.0, "decimation": "blur"},
          "Gaussian blur of sigma 1, then every other sample and trace, 5 % white noise: image SR's blur-and-downsample"),
    "X": ({"band_factor": 1.0, "band_factor_bottom": 0.5},
          "A's noise, the band whole at the top and narrowed to 0.5 at the bottom: attenuation with depth"),
    "Y": ({"dead_trace_rate": 0.03, "spike_rate": 0.001}, "A with 3 % dead traces and 0.1 % spikes"),
    "Z": ({"swell_trace_rate": 0.1, "swell_std": 1.0}, "A with swell noise as strong as the section on 10 % of traces"),
}


def recipe_letters(spec: str) -> list[str]:
    """Return the recipe letters named by spec ('all', or letters such as 'ABJ', any case), in the order given.

    Raises ValueError naming the first unknown letter, or a repeated one.
    """
    if spec.strip().lower() == "all":
        return list(RECIPES)
    letters = [c.upper() for c in spec if not c.isspace() and c != ","]
    for i, letter in enumerate(letters):
        if letter not in RECIPES:
            raise ValueError(f"unknown recipe '{letter}', expected letters of {''.join(RECIPES)} or 'all'")
        if letter in letters[:i]:
            raise ValueError(f"recipe '{letter}' named twice")
    if not letters:
        raise ValueError(f"no recipe named, expected letters of {''.join(RECIPES)} or 'all'")
    return letters
