"""Diffusion maths: schedule, training loss and DDIM sampler, as pure functions of tensors.

Notation (paper -> code), used the same way in every file:
  T                 num_steps          number of discrete noise levels, t = 1..T
  beta_t            betas[t-1]         variance added at step t
  alpha_bar_t       alpha_bar[t]       prod_{s<=t}(1 - beta_s); alpha_bar[0] = 1 (the clean end)
  gamma             gamma              a continuous alpha_bar; the signal fraction of x_t
  x0, x_t, eps      x0, x_t, eps       clean image, noisy image, unit Gaussian noise
  c                 cond               the LR input upsampled onto the HR grid
  phi_theta(c,x,g)  net(x_t, cond, s)  the network; it predicts eps

Forward noising (Eq. 1 of SR3 / MD Diffusion):  x_t = sqrt(gamma) * x0 + sqrt(1 - gamma) * eps.

What the network is fed: NOT gamma itself but its log signal-to-noise ratio,
  s = log(gamma / (1 - gamma)),
computed by `noise_input` in diffusion/schedule.py and nowhere else. Training (loss.py) and
sampling (ddim.py) both call it, so the two can never disagree.
"""
