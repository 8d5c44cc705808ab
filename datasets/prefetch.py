"""Training batches drawn in background worker processes while the network trains on earlier ones.

With data.source = degrade every patch's LR is made anew by the forward model on the CPU, about
10 ms per patch, which a GPU step outruns many times over; data.workers > 0 moves the drawing into
worker processes (torch's DataLoader). One worker continues the sampler's own random stream, so it
draws exactly the batches the training process would have drawn, and each batch carries the
stream's state after it: the training process keeps that state, so checkpoints resume the stream
as before. Several workers draw from streams of their own, seeded by (seed, worker): repeatable,
but other batches than one process draws.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from datasets.field_patches import MixedSampler
from datasets.pairs import PatchSampler


def as_drawn(item):
    """DataLoader's collate step: leave the worker's (x0, cond, state) as it is."""
    return item


def training_batches(sampler: PatchSampler | MixedSampler, batch: int, workers: int, seed: list[int],
                     pin_memory: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor, dict | None]]:
    """Yield (x0, cond, state) forever: x0 and cond (batch, 1, P, P) float32 as sampler.draw gives them.

    workers = 0 draws in this process (state None: the sampler itself has moved on). workers = 1
    draws the same batches in one background process; state is the sampler's state after the
    batch, to be loaded into this process's sampler before a checkpoint is written. workers > 1
    reseeds each worker's copy with seed + [worker] (state None). Close the generator to stop the workers.
    """
    if workers == 0:
        while True:
            x0, cond = sampler.draw(batch)
            yield x0, cond, None
    loader = DataLoader(SamplerStream(sampler, batch, seed), batch_size=None, num_workers=workers,
                        collate_fn=as_drawn, pin_memory=pin_memory, prefetch_factor=2)
    for x0, cond, state in loader:
        yield x0, cond, state if workers == 1 else None


class SamplerStream(IterableDataset):
    """Endless (x0, cond, sampler state after the batch) from a patch sampler, in a worker process."""

    def __init__(self, sampler: PatchSampler | MixedSampler, batch: int, seed: list[int]):
        self.sampler, self.batch, self.seed = sampler, batch, seed  # seed: list of ints, used with > 1 worker

    def __iter__(self):
        info = get_worker_info()
        if info is not None and info.num_workers > 1:
            self.sampler.reseed(self.seed + [info.id])
        while True:
            x0, cond = self.sampler.draw(self.batch)
            yield x0, cond, self.sampler.state_dict()
