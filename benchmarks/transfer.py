"""Does the model transfer? Real-section round trips under several degradation recipes, the own test split,
and a second, independent synthetic generator, for one or more sampling settings of a trained run.

    python -m benchmarks.transfer --config configs/quick.yaml [section.key=value ...]
        [--settings K:G,...] [--n-test 16] [--gen2 data/gen2] [--n-gen2 16] [--base-data data/synthetic]
        [--recipes AB | all] [--recipe-c KEY=VALUE ...] [--noise-recorded] [--label NAME] [--out DIR]
--settings lists sampling variants as K:G (num_samples K, guidance weight G), e.g. 1:0,4:0,4:0.5.
--recipes names the round trips by letter (benchmarks/recipes.py; default AB): A is roundtrip.* of
the config, B plain x2 decimation with 5 % white noise (no band narrowing), so a model tuned to one
recipe shows it, and C to Z further checks; `all` runs all twenty-six. --recipe-c adds an ad hoc round
trip C, roundtrip.* with the given keys replaced (e.g. band_factor=0.75 noise_std=0.15
colored_noise_std=0), in place of the named C. --noise-recorded makes every recipe's noise pass
the anti-alias filter's time response first (roundtrip.noise_recorded, as field data hold their
noise). The self-check (sampling.self_blend) always assumes the config's roundtrip.*. The second
generator's pairs (benchmarks/second_generator.py) are written to --gen2 when it is empty.
--base-data scores the test split of the project's default synthetic set too (the same stems
split.json-style), so models trained on other generator settings compare on one test set.
Every figure comes from utils.metrics.compare_to_targets. Writes OUT/transfer_<label>.json and
prints a markdown table per section and one per recipe (mean and worst ΔPSNR, how many held-out
sections beat bicubic in PSNR, SSIM, LSD and all three); sections the model was trained on are
reported apart (never mixed in).
Per round-trip section the JSON also splits the error by time-frequency band (tenths of Nyquist,
utils.metrics.band_error_shares) for prediction and bicubic: where a model wins or loses. Every
set is also scored for "ceiling": bicubic with the best zero-phase time filter fitted against the
target itself (utils.spectra.best_time_filter), an oracle no method has, so the table shows how
much a gap filtering of the interpolated input could close at all.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchmarks import second_generator
from benchmarks.common import config_label, machine_info, markdown_table, output_dir, run_benchmark, write_json
from benchmarks.recipes import RECIPES, recipe_letters
from benchmarks.transfer_summary import held_out_deltas, recipe_row
from datasets.dat_io import list_field_files, read_dat, read_field
from datasets.heldout import load_heldout
from datasets.pairs import list_stems, make_split
from eval import consistency
from sample import combined, degrade_for_roundtrip, load_model, make_predictor, with_sampling
from utils.config import Config, ConfigError, RoundTripConfig, config_from_dict, config_to_dict, parse_override, validate
from utils.metrics import band_error_shares, compare_to_targets
from utils.spectra import best_time_filter
from utils.runtime import pick_device, seed_everything

def add_flags(parser) -> None:
    parser.add_argument("--settings", default="1:0", help="sampling variants K:G (num_samples:guidance), comma-separated")
    parser.add_argument("--n-test", type=int, default=16, help="first N test stems of split.json")
    parser.add_argument("--gen2", default="data/gen2", help="folder of second-generator pairs (written if empty)")
    parser.add_argument("--n-gen2", type=int, default=16, help="second-generator pairs scored")
    parser.add_argument("--base-data", default="data/synthetic", help="default synthetic set (nx2/, sx/); '' skips")
    parser.add_argument("--recipes", default="AB", help="round-trip recipes by letter (benchmarks/recipes.py), or all")
    parser.add_argument("--recipe-c", nargs="+", default=[], metavar="KEY=VALUE",
                        help="an ad hoc round trip C: roundtrip.* with these keys replaced")
    parser.add_argument("--noise-recorded", action="store_true",
                        help="every recipe's noise passes the anti-alias filter's time response (roundtrip.noise_recorded)")
    parser.add_argument("--label", default="", help="names the output; default the --config stem")


def recipe_with(cfg: Config, changes: dict, flag: str) -> RoundTripConfig:
    """Return cfg.roundtrip with the keys of changes replaced, checked as the config checks roundtrip.*."""
    data = config_to_dict(cfg)
    try:
        for key, value in changes.items():
            if key not in data["roundtrip"]:
                raise ConfigError(f"unknown key '{key}', expected one of {', '.join(data['roundtrip'])}")
            data["roundtrip"][key] = value
        recipe = config_from_dict(data)
        validate(recipe)
    except ConfigError as err:
        raise ConfigError(f"{flag}: {str(err).removeprefix('stored config: ')}") from None
    return recipe.roundtrip


def recipe_from_flags(cfg: Config, items: list[str]) -> RoundTripConfig:
    """Return cfg.roundtrip with the KEY=VALUE items replaced (--recipe-c)."""
    changes = {}
    for item in items:
        try:
            _, key, value = parse_override("roundtrip." + item.removeprefix("roundtrip."))
        except ConfigError as err:
            raise ConfigError(f"--recipe-c: {err}") from None
        changes[key] = value
    return recipe_with(cfg, changes, "--recipe-c")


def named_recipes(cfg: Config, spec: str, recipe_c: list[str], noise_recorded: bool = False) -> tuple[dict, dict]:
    """Return ({roundtrip_<letter>: recipe}, {roundtrip_<letter>: letter} of the named ones) for --recipes and --recipe-c.

    noise_recorded: every recipe's roundtrip.noise_recorded is set (--noise-recorded); cfg itself, whose
    roundtrip.* the self-check uses, is left as it is.
    """
    try:
        letters = recipe_letters(spec)
    except ValueError as err:
        raise ConfigError(f"--recipes: {err}") from None
    if recipe_c and "C" in letters:
        raise ConfigError("--recipe-c: round trip C is already named by --recipes; leave C out of --recipes to replace it")
    keys = {f"roundtrip_{x.lower()}": x for x in letters}
    recipes = {key: recipe_with(cfg, RECIPES[x][0], f"--recipes {x}") for key, x in keys.items()}
    if recipe_c:
        recipes["roundtrip_c"] = recipe_from_flags(cfg, recipe_c)
    if noise_recorded:
        recipes = {name: replace(recipe, noise_recorded=True) for name, recipe in recipes.items()}
    return dict(sorted(recipes.items())), keys


def bicubic_of(lr: np.ndarray) -> np.ndarray:
    from datasets.condition import upsample
    return upsample(lr, "bicubic").numpy()


def score(names, targets, preds, lrs, bicubics=None) -> dict:
    """Return compare_to_targets of predictions, bicubic(lr) and its oracle ceiling against targets.

    bicubics: the inputs' bicubic upsampling when the caller has it already; else made here.
    """
    bicubics = bicubics if bicubics is not None else [bicubic_of(x) for x in lrs]
    return compare_to_targets(names, targets, {"pred": preds, "bicubic": bicubics,
                                               "ceiling": [best_time_filter(b, t) for b, t in zip(bicubics, targets)]})


def roundtrip(cfg: Config, predict, recipe, trained_on: list[str], skip_trained: bool = False) -> dict:
    """Return per-group metrics and consistency of the round trip of every field section under a recipe
    (skip_trained: of the held-out ones only, the sections in trained_on not predicted at all)."""
    names, originals, lrs, bicubics, preds, groups, consistent, bands = [], [], [], [], [], [], {}, {}
    for path in list_field_files(cfg.data.field_dir):
        if skip_trained and path.stem in trained_on:
            continue
        section = read_field(path, cfg.eval.field_transpose.get(path.stem, True))
        lr, done = degrade_for_roundtrip(section, path.stem, recipe)
        (samples,) = predict([lr], [path.stem], sources=[str(path)])
        pred = combined(samples, cfg.sampling)[0]
        original = section[:done["reference_shape"][0], :done["reference_shape"][1]]
        names.append(path.stem)
        originals.append(original)
        lrs.append(lr)
        bicubics.append(bicubic_of(lr))
        preds.append(pred)
        groups.append("trained_on" if path.stem in trained_on else "held_out")
        consistent[path.stem] = consistency(pred, lr, done)
        of_pred = band_error_shares(pred, original)
        bands[path.stem] = {"original": of_pred["target"], "pred": of_pred["error"],
                            "bicubic": band_error_shares(bicubics[-1], original)["error"]}
    result = {"consistency": consistent, "band_errors": bands}
    for group in ("held_out", "trained_on"):
        idx = [i for i, g in enumerate(groups) if g == group]
        if idx:
            result[group] = score([names[i] for i in idx], [originals[i] for i in idx], [preds[i] for i in idx],
                                  [lrs[i] for i in idx], [bicubics[i] for i in idx])
    return result


def synthetic_gain(predict, names, lrs, hrs, sampling) -> dict:
    """Return compare_to_targets of the predictions of LR/HR pairs against bicubic (sampling: as sample.py combines K)."""
    preds = [combined(s, sampling)[0] for s in predict(lrs, names)]
    return score(names, hrs, preds, lrs)


def second_generator_pairs(folder: Path, n: int, shape) -> tuple[list[str], list, list]:
    """Return (stems, LR, HR) of the first n pairs of the second generator, writing them first if absent."""
    if not (folder / "sx").is_dir() or not list_stems(folder / "sx", "HR"):
        second_generator.write_pairs(folder, n, seed=7, hr_size=shape[0])
    stems = list_stems(folder / "sx", "HR")[:n]
    lr_shape = [shape[0] // 2, shape[1] // 2]
    return (stems, [read_dat(folder / "nx2" / f"{s}.dat", lr_shape) for s in stems],
            [read_dat(folder / "sx" / f"{s}.dat", shape) for s in stems])


def base_test_pairs(cfg: Config, folder: Path, n: int) -> tuple[list[str], list, list] | None:
    """Return (stems, LR, HR) of the first n test pairs of the default synthetic set, split as train.py splits it."""
    if not (folder / "sx").is_dir():
        return None
    stems = make_split(list_stems(folder / "sx", "HR"), cfg.data.split, cfg.data.split_seed)["test"][:n]
    return (stems, [read_dat(folder / "nx2" / f"{s}.dat", cfg.data.lr_shape) for s in stems],
            [read_dat(folder / "sx" / f"{s}.dat", cfg.data.hr_shape) for s in stems])


def row_cells(name: str, result: dict) -> list[str]:
    """Return table cells 'pred / bicubic' of PSNR, SSIM, LSD: of one file's metrics, or the means of a set."""
    value = lambda system, metric: result[system][metric]["mean"] if isinstance(result[system][metric], dict) \
        else result[system][metric]  # noqa: E731
    cells = [f"{value('pred', m):{f}} / {value('bicubic', m):{f}}" for m, f in
             (("psnr", ".2f"), ("ssim", ".3f"), ("lsd", ".2f"))]
    ceiling = f"{value('ceiling', 'psnr'):.2f} / {value('ceiling', 'ssim'):.3f}" if "ceiling" in result else "-"
    return [name] + cells + [ceiling]


def main(cfg: Config, bench_args) -> None:
    device = pick_device(cfg.run.device)
    seed_everything(cfg.sampling.seed)
    model = load_model(cfg, device)
    cfg = model.cfg
    recipes, letters = named_recipes(cfg, bench_args.recipes, bench_args.recipe_c, bench_args.noise_recorded)
    held = load_heldout(cfg, "test", bench_args.n_test)
    gen2 = second_generator_pairs(Path(bench_args.gen2), bench_args.n_gen2, cfg.data.hr_shape)
    same_data = bench_args.base_data and cfg.data.source == "pairs" and \
        Path(bench_args.base_data).resolve() == Path(cfg.data.hr_dir).resolve().parent
    base = base_test_pairs(cfg, Path(bench_args.base_data), bench_args.n_test) \
        if bench_args.base_data and not same_data else None  # the own test split already is the default set
    out = output_dir(cfg, bench_args)
    label = bench_args.label or config_label(bench_args)
    payload = {"machine": machine_info(device), "checkpoint_step": model.step, "run_dir": cfg.run.dir,
               "trained_on_field": model.field_sections, **{name: vars(r) for name, r in recipes.items()},
               "recipe_letters": letters, "runs": []}
    runs, table, per_recipe = payload["runs"], [], []
    for setting in bench_args.settings.split(","):
        k, guidance = setting.split(":")
        run_cfg = with_sampling(cfg, num_samples=int(k), guidance=float(guidance))
        predict = make_predictor(run_cfg, model.net, device)
        start = time.perf_counter()
        with torch.no_grad():
            entry = {"num_samples": int(k), "guidance": float(guidance),
                     **{name: roundtrip(run_cfg, predict, r, model.field_sections) for name, r in recipes.items()},
                     "own_test": synthetic_gain(predict, held.stems, held.lr, held.hr, run_cfg.sampling),
                     "second_generator": synthetic_gain(predict, *gen2, run_cfg.sampling)}
        if base is not None:
            with torch.no_grad():
                entry["base_test"] = synthetic_gain(predict, *base, run_cfg.sampling)
        entry["retention"] = entry["second_generator"]["gain_db"] / entry["own_test"]["gain_db"]
        entry["seconds"] = time.perf_counter() - start
        runs.append(entry)
        setting_label = f"K={k}, guidance {guidance}"
        for recipe in recipes:
            deltas = held_out_deltas(entry[recipe])
            if deltas:
                letter = recipe.removeprefix("roundtrip_").upper()
                what = RECIPES[letter][1] if recipe in letters else "--recipe-c"
                per_recipe.append([setting_label, f"{letter} ({what})", *recipe_row(deltas)])
            for group in ("held_out", "trained_on"):
                if group in entry[recipe]:
                    for name, files in entry[recipe][group]["files"].items():
                        table.append([setting_label, f"round trip {recipe[-1].upper()}, {group.replace('_', ' ')}",
                                      *row_cells(name, files)])
        table.append([setting_label, "own test", *row_cells(f"{len(held.stems)} pairs", entry["own_test"])])
        if base is not None:
            table.append([setting_label, "default synthetic test", *row_cells(f"{len(base[0])} pairs", entry["base_test"])])
        table.append([setting_label, "2nd generator", *row_cells(f"{len(gen2[0])} pairs, retention {entry['retention']:.0%}",
                                                          entry["second_generator"])])
        write_json(out / f"transfer_{label}.json", payload)  # after every setting: a long run keeps what it did
        print(f"{setting_label}: {entry['seconds']:.0f} s", flush=True)
    print(markdown_table(["setting", "data", "section", "PSNR pred / bicubic", "SSIM", "LSD (dB)",
                          "ceiling PSNR / SSIM"], table))
    if per_recipe:
        print()
        print(markdown_table(["setting", "recipe", "held-out sections", "mean ΔPSNR", "worst ΔPSNR", "PSNR up", "SSIM up",
                              "LSD down", "all three"], per_recipe))
    print(f"wrote {out / f'transfer_{label}.json'}")


if __name__ == "__main__":
    sys.exit(run_benchmark(main, None, __doc__.splitlines()[0], add_flags))
