"""Data handling: .dat layout, LR-only normalisation, pairing, the split, and patch sampling."""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from datasets.dat_io import field_name, field_shape, read_dat, read_field, write_dat
from datasets.normalize import denormalize, normalize, section_stats
from datasets.pairs import (PatchSampler, augment_patch, find_pairs, load_or_make_split, make_split, normalise_pairs,
                            read_sections)
from datasets.prefetch import training_batches
from utils.config import load_config
from utils.errors import DataError

FIELD_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "field"


def data_cfg(*overrides):
    return load_config(None, ["data.patch_size=32", *overrides])


# ---------------------------------------------------------------- .dat files

def awkward_floats(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1)
    flat[:6] = [-0.0, 0.0, np.finfo(np.float32).tiny, np.float32(1e-45), np.finfo(np.float32).max, -3.4e38]
    flat[6:12] *= np.float32(1e30)
    return x


def test_write_then_read_dat_is_bit_exact(tmp_path):
    section = awkward_floats((40, 24))  # (time, trace)
    path = tmp_path / "a.dat"
    write_dat(path, section)
    back = read_dat(path, (24, 40))  # on disk (traces, samples)
    assert back.dtype == np.float32 and back.shape == section.shape
    assert back.tobytes() == section.tobytes()  # bit-exact, -0.0 and denormals included
    assert np.signbit(back.reshape(-1)[0])
    assert not list(tmp_path.glob("*.tmp")), "no temporary file left behind"


def test_dat_layout_is_trace_major_little_endian(tmp_path):
    section = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)  # 5 time samples, 3 traces
    path = tmp_path / "b.dat"
    write_dat(path, section)
    raw = np.fromfile(path, dtype="<f4")
    assert path.stat().st_size == 15 * 4
    np.testing.assert_array_equal(raw[:5], section[:, 0])  # first B floats = trace 0, in time order
    np.testing.assert_array_equal(raw[5:10], section[:, 1])
    np.testing.assert_array_equal(raw.reshape(3, 5), section.T)


def test_read_dat_with_wrong_shape_names_file_size_and_shape(tmp_path):
    path = tmp_path / "c.dat"
    write_dat(path, np.zeros((10, 6), np.float32))  # 240 bytes
    with pytest.raises(DataError) as err:
        read_dat(path, (7, 10))
    msg = str(err.value)
    assert str(path) in msg and "240 bytes" in msg
    assert "7 traces" in msg and "10 samples" in msg and "280" in msg


def test_read_dat_missing_file_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="nothere.dat"):
        read_dat(tmp_path / "nothere.dat", (4, 4))


def test_field_shape_and_name():
    assert field_shape("kumano2_608x400.dat") == (608, 400)
    assert field_shape(Path("/x/y/line_a_3x7.npy")) == (3, 7)
    assert field_name("kumano2_608x400.dat") == "kumano2"
    with pytest.raises(DataError, match="foo.dat"):
        field_shape("foo.dat")
    with pytest.raises(DataError):
        field_shape("bar_12.dat")


def test_read_field_dat_npy_and_transposed(tmp_path):
    section = awkward_floats((9, 5), seed=3)
    section[:6] = 1.0  # keep it finite and modest
    write_dat(tmp_path / "line_5x9.dat", section)
    np.testing.assert_array_equal(read_field(tmp_path / "line_5x9.dat"), section)
    np.save(tmp_path / "line.npy", section.T)  # .npy holds (traces, samples) like .dat
    np.testing.assert_array_equal(read_field(tmp_path / "line.npy"), section)
    np.testing.assert_array_equal(read_field(tmp_path / "line_5x9.dat", trace_major=False), section.T)
    bad = section.copy()
    bad[2, 3] = np.nan
    write_dat(tmp_path / "nan_5x9.dat", bad)
    with pytest.raises(DataError, match="NaN"):
        read_field(tmp_path / "nan_5x9.dat")
    (tmp_path / "x.txt").write_text("1 2 3")
    with pytest.raises(DataError, match="unsupported"):
        read_field(tmp_path / "x.txt")


@pytest.mark.skipif(not (FIELD_DIR / "tp_352x240.dat").exists(), reason="shared field data absent")
def test_read_real_field_section():
    section = read_field(FIELD_DIR / "tp_352x240.dat")
    assert section.shape == (240, 352) and section.dtype == np.float32
    assert np.isfinite(section).all()
    raw = np.fromfile(FIELD_DIR / "tp_352x240.dat", np.float32).reshape(352, 240)
    np.testing.assert_array_equal(section[:, 0], raw[0])  # column 0 is the first trace on disk


# ---------------------------------------------------------------- normalisation

@pytest.mark.parametrize("scheme", ["zscore", "minmax"])
@pytest.mark.parametrize("center,scale", [(0.0, 1.0), (-3.0, 1e4), (500.0, 1e-3)])
def test_denormalize_inverts_normalize(scheme, center, scale):
    rng = np.random.default_rng(0)
    x = (center + scale * rng.standard_normal((30, 20))).astype(np.float32)
    stats = section_stats(x, scheme)
    y = normalize(x, stats)
    assert y.dtype == np.float32
    if scheme == "minmax":
        assert y.min() >= -1 - 1e-6 and y.max() <= 1 + 1e-6
    else:
        assert abs(float(y.mean())) < 1e-5 and abs(float(y.std()) - 1) < 1e-5
    back = denormalize(y, stats)
    np.testing.assert_allclose(back, x, rtol=1e-6, atol=1e-6 * scale)


def test_normalize_clips_and_constant_section_raises():
    x = np.zeros((10, 10), np.float32)
    x[0, 0] = 100.0
    stats = section_stats(x, "zscore")
    assert np.abs(normalize(x, stats, clip=3.0)).max() == pytest.approx(3.0)
    with pytest.raises(DataError, match="constant"):
        section_stats(np.ones((4, 4)), "zscore")


def toy_sections(n=3, h=32, w=32, seed=0):
    rng = np.random.default_rng(seed)
    hr = (5.0 + 20.0 * rng.standard_normal((n, 2 * h, 2 * w)).cumsum(1)).astype(np.float32)
    lr = hr[:, ::2, ::2] + rng.standard_normal((n, h, w)).astype(np.float32)
    return lr, hr


def test_changing_the_target_leaves_the_condition_unchanged():
    cfg = data_cfg()
    lr, hr = toy_sections()
    other_hr = -3 * hr + 1000
    a = normalise_pairs(lr, hr, cfg.data)
    b = normalise_pairs(lr, other_hr, cfg.data)
    np.testing.assert_array_equal(a.stats, b.stats)
    assert set(a.cond) == set(cfg.data.upsample_modes)
    for mode in a.cond:
        assert a.cond[mode].shape == hr.shape
        np.testing.assert_array_equal(a.cond[mode], b.cond[mode])
    assert not np.allclose(a.x0, b.x0)
    # statistics are those of the LR, applied to the HR too
    for i in range(len(lr)):
        assert tuple(a.stats[i]) == section_stats(lr[i], cfg.data.normalization)
        np.testing.assert_allclose(a.x0[i], normalize(hr[i], a.stats[i], cfg.data.zscore_clip), rtol=0, atol=0)


# ---------------------------------------------------------------- pairing and splitting

def make_stems(folder: Path, stems):
    folder.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        write_dat(folder / f"{stem}.dat", np.zeros((2, 2), np.float32))


def test_find_pairs_matches_stems(tmp_path):
    make_stems(tmp_path / "lr", ["b", "a", "c"])
    make_stems(tmp_path / "hr", ["c", "a", "b"])
    assert find_pairs(tmp_path / "lr", tmp_path / "hr") == ["a", "b", "c"]


def test_find_pairs_counts_and_names_unpaired_stems(tmp_path):
    common = [f"s{i}" for i in range(3)]
    extra = [f"x{i}" for i in range(7)]
    make_stems(tmp_path / "lr", common + extra)
    make_stems(tmp_path / "hr", common)
    with pytest.raises(DataError) as err:
        find_pairs(tmp_path / "lr", tmp_path / "hr")
    msg = str(err.value)
    assert "7 LR files" in msg
    assert all(f"x{i}" in msg for i in range(5)) and "x6" not in msg, "names only the first few"
    assert str(tmp_path / "hr") in msg

    make_stems(tmp_path / "hr2", common + ["only_hr"])
    make_stems(tmp_path / "lr2", common)
    with pytest.raises(DataError, match=r"1 HR files.*only_hr"):
        find_pairs(tmp_path / "lr2", tmp_path / "hr2")


def test_find_pairs_empty_or_missing_folder(tmp_path):
    make_stems(tmp_path / "lr", ["a"])
    (tmp_path / "hr").mkdir()
    with pytest.raises(DataError, match="no .dat files"):
        find_pairs(tmp_path / "lr", tmp_path / "hr")
    with pytest.raises(DataError, match="does not exist"):
        find_pairs(tmp_path / "lr", tmp_path / "nowhere")


STEMS = [f"{i:04d}" for i in range(57)]
FRACTIONS = [0.7, 0.2, 0.1]


def test_make_split_disjoint_complete_and_sized():
    split = make_split(STEMS, FRACTIONS, seed=0)
    parts = [set(split[k]) for k in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == len(STEMS)
    assert set().union(*parts) == set(STEMS)
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert len(parts[1]) == round(0.2 * 57) and len(parts[2]) == round(0.1 * 57)
    assert all(split[k] == sorted(split[k]) for k in split)


def test_make_split_stable_order_independent_and_seeded():
    first = make_split(STEMS, FRACTIONS, seed=0)
    assert make_split(STEMS, FRACTIONS, seed=0) == first
    shuffled = STEMS[:]
    random.Random(1).shuffle(shuffled)
    assert make_split(shuffled, FRACTIONS, seed=0) == first
    assert make_split(STEMS, FRACTIONS, seed=1) != first
    # the held-out part is not simply the last stems in name order
    assert first["test"] != STEMS[-len(first["test"]):]


def test_make_split_without_training_files_raises():
    with pytest.raises(DataError, match="no training files"):
        make_split(["a", "b"], [0.0, 0.5, 0.5], seed=0)


def test_load_or_make_split_writes_then_keeps_the_split(tmp_path):
    first = load_or_make_split(tmp_path, STEMS, FRACTIONS, seed=0)
    path = tmp_path / "split.json"
    assert path.exists()
    assert json.loads(path.read_text()) == first
    assert load_or_make_split(tmp_path, STEMS, FRACTIONS, seed=0) == first
    # the data folder grows and the seed changes: the stored split is kept, new stems stay out of it
    grown = STEMS + [f"new{i}" for i in range(20)]
    assert load_or_make_split(tmp_path, grown, FRACTIONS, seed=5) == first
    # a stem of the split that disappeared from the data is an error
    with pytest.raises(DataError, match="no longer"):
        load_or_make_split(tmp_path, STEMS[1:], FRACTIONS, seed=0)
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a valid split"):
        load_or_make_split(tmp_path, STEMS, FRACTIONS, seed=0)


def test_read_sections_stacks_in_stem_order(tmp_path):
    rng = np.random.default_rng(0)
    sections = rng.standard_normal((3, 8, 6)).astype(np.float32)
    for i, s in enumerate(sections):
        write_dat(tmp_path / f"{'cab'[i]}.dat", s)
    out = read_sections(tmp_path, ["a", "b", "c"], [6, 8])
    np.testing.assert_array_equal(out, sections[[1, 2, 0]])


# ---------------------------------------------------------------- patches

def make_sampler(seed, augment="none"):
    cfg = data_cfg(f"data.augment={augment}")
    lr, hr = toy_sections(n=4, h=32, w=32)
    return PatchSampler(hr, lr, cfg.data, cfg.degradation, seed=seed)


def find_crop(section: np.ndarray, patch: np.ndarray) -> list[tuple[int, int]]:
    p = patch.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(section, (p, p))
    hits = np.argwhere((windows == patch).all(axis=(-2, -1)))
    return [tuple(h) for h in hits]


def dihedral(patch: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(f, k) for f in (patch, patch[::-1]) for k in range(4)]


@pytest.mark.parametrize("augment", ["none", "flips", "flips_rot90"])
def test_patch_sampler_draws_aligned_patches(augment):
    sampler = make_sampler(seed=3, augment=augment)
    pairs = sampler.pairs
    x0, cond = sampler.draw(4)
    assert x0.shape == cond.shape == (4, 1, 32, 32)
    assert x0.dtype == cond.dtype == torch.float32
    for x, c in zip(x0[:, 0].numpy(), cond[:, 0].numpy()):
        # undo the (unknown) dihedral transform: cond and x0 must be the same crop of one section
        matches = 0
        for x_view, c_view in zip(dihedral(x), dihedral(c)):
            for i in range(len(pairs.x0)):
                for top, left in find_crop(pairs.x0[i], x_view):
                    if any(np.array_equal(pairs.cond[m][i][top:top + 32, left:left + 32], c_view)
                           for m in pairs.cond):
                        matches += 1
        assert matches >= 1


def test_patch_sampler_fresh_draws_seeded_and_resumable():
    sampler = make_sampler(seed=7, augment="flips_rot90")
    a, _ = sampler.draw(3)
    b, _ = sampler.draw(3)
    assert not np.array_equal(a.numpy(), b.numpy()), "every call draws new patches"

    twin = make_sampler(seed=7, augment="flips_rot90")
    np.testing.assert_array_equal(twin.draw(3)[0].numpy(), a.numpy())
    np.testing.assert_array_equal(twin.draw(3)[0].numpy(), b.numpy())
    other = make_sampler(seed=8, augment="flips_rot90")
    assert not np.array_equal(other.draw(3)[0].numpy(), a.numpy())

    state = copy.deepcopy(sampler.state_dict())
    expected = [sampler.draw(2) for _ in range(2)]
    resumed = make_sampler(seed=123, augment="flips_rot90")
    resumed.load_state_dict(state)
    for x0_c, (x0_e, cond_e) in zip([resumed.draw(2) for _ in range(2)], expected):
        np.testing.assert_array_equal(x0_c[0].numpy(), x0_e.numpy())
        np.testing.assert_array_equal(x0_c[1].numpy(), cond_e.numpy())


def first_batches(stream, n: int) -> list[np.ndarray]:
    out = [next(stream)[0].numpy() for _ in range(n)]
    stream.close()
    return out


def test_several_data_workers_draw_repeatable_streams_of_their_own():
    """data.workers > 1: worker k reseeds its copy with seed + [k]; the batches come round-robin, repeatably."""
    batches = first_batches(training_batches(make_sampler(seed=7), 2, 2, [7, 0, 0]), 4)
    again = first_batches(training_batches(make_sampler(seed=7), 2, 2, [7, 0, 0]), 4)
    for a, b in zip(batches, again):
        np.testing.assert_array_equal(a, b)
    for k in range(2):  # batch 2 j + k is worker k's j-th draw
        own = make_sampler(seed=0)
        own.reseed([7, 0, 0, k])
        for j in range(2):
            np.testing.assert_array_equal(batches[2 * j + k], own.draw(2)[0].numpy())
    assert not np.array_equal(batches[0], batches[1]), "each worker draws its own stream"
    assert not np.array_equal(batches[0], first_batches(training_batches(make_sampler(seed=7), 2, 2, [7, 0, 2]), 1)[0])


def flip_views(patch: np.ndarray) -> list[np.ndarray]:
    return [f for g in (patch, patch[::-1]) for f in (g, g[:, ::-1])]


def matching_views(sampler, patch: np.ndarray) -> set[str]:
    """Return which kinds of view of a training section the patch is: 'flip' (time stays time) and/or 'turn'."""
    kinds = set()
    for kind, views in (("flip", flip_views(patch)), ("turn", [np.ascontiguousarray(v.T) for v in flip_views(patch)])):
        for view in views:
            if any(find_crop(section, view) for section in sampler.pairs.x0):
                kinds.add(kind)
    return kinds


def test_default_augmentation_keeps_time_along_time():
    """Flips only by default: a quarter turn would make a trace into a time series, a task never met at inference."""
    assert load_config(None, []).data.augment == "flips"
    flips = make_sampler(seed=5, augment="flips")
    x0, _ = flips.draw(24)
    assert all("flip" in matching_views(flips, x) for x in x0[:, 0].numpy())
    turns = make_sampler(seed=5, augment="flips_rot90")
    x0, _ = turns.draw(24)
    assert any(matching_views(turns, x) == {"turn"} for x in x0[:, 0].numpy()), "rot90 remains available"


def test_augment_patch_is_applied_identically_to_cond_and_x0():
    rng = np.random.default_rng(0)
    cond, x0 = rng.standard_normal((2, 6, 6))
    results = set()
    for flip_time in (False, True):
        for flip_trace in (False, True):
            for turns in range(4):
                both = augment_patch(np.stack([cond, x0]), flip_time, flip_trace, turns)
                np.testing.assert_array_equal(both[0], augment_patch(cond, flip_time, flip_trace, turns))
                np.testing.assert_array_equal(both[1], augment_patch(x0, flip_time, flip_trace, turns))
                assert any(np.array_equal(both[1], d) for d in dihedral(x0))
                results.add(both[1].tobytes())
    assert len(results) == 8, "the 16 settings cover all 8 symmetries of the square"


def test_degrade_fraction_remakes_that_share_of_the_inputs_by_the_forward_model():
    """Stored pairs unless drawn; a remade input is F(HR), never the stored LR."""
    lr, hr = toy_sections(n=4, h=32, w=32)
    def sampler(fraction):  # noqa: E306
        cfg = data_cfg("data.augment=none", "data.upsample_modes=[bicubic]", f"data.degrade_fraction={fraction}")
        return PatchSampler(hr, lr, cfg.data, cfg.degradation, seed=5)
    stored = sampler(0.0)
    x0, cond = stored.draw(6)
    for c in cond[:, 0].numpy():  # every condition is a crop of a stored condition
        assert any(find_crop(full, c) for full in stored.pairs.cond["bicubic"])
    remade = sampler(1.0)
    x0, cond = remade.draw(6)
    assert not any(find_crop(full, c) for c in cond[:, 0].numpy() for full in remade.pairs.cond["bicubic"])
    mixed = sampler(0.5)
    _, cond = mixed.draw(40)
    hits = sum(any(find_crop(full, c) for full in mixed.pairs.cond["bicubic"]) for c in cond[:, 0].numpy())
    assert 8 <= hits <= 32, f"{hits} of 40 stored inputs at a fraction of one half"
