"""The PoseGuider of the AniPortrait reference (src/models/pose_guider.py, use_ca=True), on diffusers blocks.

Pose image (3 channels) -> 5 feature maps added to the denoising UNet: fea0 (C @ H/8, after conv_in), fea1
(C @ H/16), fea2 (2C @ H/32), fea3 (4C @ H/64), fea4 (4C @ H/64), C = noise_latent_channels = 320.
Conv widths 3-3-16-16-32-32-64-64-128 (k3, k4 s2 pairs) with BatchNorm + ReLU, final_proj 1x1 -> C times the
learned `scale`, then four stages each ending in a one-block Transformer2DModel (16 heads x 88).

What the released weights were run with, reproduced by the faithful settings (engine.neural.lmk2video):
- `batch_statistics=True`: the reference never calls .eval() on the PoseGuider, so its BatchNorm layers
  normalise with the statistics of the current batch = the frames of one context window (the classifier-free
  guidance duplicate does not change them). The running statistics are not updated here (they never affect
  the output in that mode). `batch_statistics=False` uses the running statistics (per-frame, window-independent
  features).
- the input range: the reference's VaeImageProcessor turns uint8 pose arrays into 2*x - 1 WITHOUT dividing by
  255, so the network sees [-1, 509]; `pose_tensor` reproduces that (or the training range [-1, 1]).
- the reference pose branch (`ref_x`) is dead: its blocks have no cross-attention (cross_attention_dim=None), so
  encoder_hidden_states are ignored (maintainers, issue #170). It is not computed here.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride=stride, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


def _attention(channels: int, heads: int, head_dim: int, groups: int) -> nn.Module:
    from diffusers.models.transformers.transformer_2d import Transformer2DModel

    return Transformer2DModel(num_attention_heads=heads, attention_head_dim=head_dim, in_channels=channels,
                              norm_num_groups=groups)


class PoseGuider(nn.Module):
    def __init__(self, noise_latent_channels: int = 320, conv_channels=(3, 16, 32, 64, 128),
                 attention_heads: int = 16, attention_head_dim: int = 88, norm_num_groups: int = 32):
        super().__init__()
        c = noise_latent_channels
        w = list(conv_channels)
        # 3->w0 k3, w0->w1 k4 s2, w1->w1 k3, w1->w2 k4 s2, w2->w2 k3, w2->w3 k4 s2, w3->w3 k3, w3->w4 k3
        layers = (_conv_bn(3, w[0], 3) + _conv_bn(w[0], w[1], 4, 2) + _conv_bn(w[1], w[1], 3)
                  + _conv_bn(w[1], w[2], 4, 2) + _conv_bn(w[2], w[2], 3) + _conv_bn(w[2], w[3], 4, 2)
                  + _conv_bn(w[3], w[3], 3) + _conv_bn(w[3], w[4], 3))
        self.conv_layers = nn.Sequential(*layers)
        self.final_proj = nn.Conv2d(w[4], c, kernel_size=1)
        self.conv_layers_1 = nn.Sequential(*(_conv_bn(c, c, 3) + _conv_bn(c, c, 3, 2)))
        self.conv_layers_2 = nn.Sequential(*(_conv_bn(c, c, 3) + _conv_bn(c, 2 * c, 3, 2)))
        self.conv_layers_3 = nn.Sequential(*(_conv_bn(2 * c, 2 * c, 3) + _conv_bn(2 * c, 4 * c, 3, 2)))
        self.conv_layers_4 = nn.Sequential(*_conv_bn(4 * c, 4 * c, 3))
        self.cross_attn1 = _attention(c, attention_heads, attention_head_dim, norm_num_groups)
        self.cross_attn2 = _attention(2 * c, attention_heads, attention_head_dim, norm_num_groups)
        self.cross_attn3 = _attention(4 * c, attention_heads, attention_head_dim, norm_num_groups)
        self.cross_attn4 = _attention(4 * c, attention_heads, attention_head_dim, norm_num_groups)
        self.scale = nn.Parameter(torch.ones(1) * 2)

    @staticmethod
    def _run(seq: nn.Sequential, x: torch.Tensor, batch_statistics: bool) -> torch.Tensor:
        for m in seq:
            if isinstance(m, nn.BatchNorm2d):
                if batch_statistics and x.shape[0] * x.shape[2] * x.shape[3] == 1:
                    # one value per channel (one frame at 1x1): x - mean = 0, what the reference's CFG-doubled
                    # batch of two identical values gives
                    x = (m.bias if m.bias is not None else torch.zeros_like(m.running_mean)).view(1, -1, 1, 1) \
                        .expand_as(x).contiguous()
                elif batch_statistics:
                    x = F.batch_norm(x, None, None, m.weight, m.bias, training=True, eps=m.eps)
                else:
                    x = F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, training=False, eps=m.eps)
            else:
                x = m(x)
        return x

    def forward(self, pose: torch.Tensor, batch_statistics: bool = True) -> list[torch.Tensor]:
        """(N, 3, H, W) pose images (one batch = the frames BatchNorm normalises together) -> 5 feature maps."""
        x = self._run(self.conv_layers, pose, batch_statistics)
        x = self.final_proj(x) * self.scale
        feats = [x]
        for convs, attn in ((self.conv_layers_1, self.cross_attn1), (self.conv_layers_2, self.cross_attn2),
                            (self.conv_layers_3, self.cross_attn3), (self.conv_layers_4, self.cross_attn4)):
            x = attn(self._run(convs, x, batch_statistics), return_dict=False)[0]
            feats.append(x)
        return feats


def pose_tensor(images: np.ndarray, faithful_range: bool = True) -> torch.Tensor:
    """(F, H, W, 3) uint8 pose images as drawn (channel 0 = colour tuple[0]) -> (F, 3, H, W) float32.

    faithful_range: 2*x - 1 on the raw uint8 values ([-1, 509], what the released weights were run with);
    otherwise 2*x/255 - 1 ([-1, 1], the training range)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return 2.0 * x - 1.0 if faithful_range else 2.0 * x / 255.0 - 1.0
