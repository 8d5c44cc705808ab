"""The one place where the LR input becomes the condition c on the HR grid."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def upsample(lr: np.ndarray | torch.Tensor, mode: str, scale: int = 2) -> torch.Tensor:
    """Return LR interpolated `scale` times onto the HR grid, float32 tensor.

    lr: (H, W) array or (B, 1, H, W) tensor; the result has the same rank.
    """
    x = torch.as_tensor(np.asarray(lr, dtype=np.float32)) if isinstance(lr, np.ndarray) else lr
    squeeze = x.dim() == 2
    x = x[None, None] if squeeze else x
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    y = F.interpolate(x.float(), scale_factor=scale, mode=mode, **kwargs)
    return y[0, 0] if squeeze else y
