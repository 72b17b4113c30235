"""The reference UNet, the denoising 3D UNet with motion modules, and reference attention, on diffusers blocks.

Both UNets reuse diffusers' UNet2DConditionModel blocks (built from the SD1.5 unet/config.json), so every key
keeps the diffusers naming of reference_unet.pth / denoising_unet.pth. The "3D" UNet of the reference is the 2D
UNet applied to every frame ((b f) c h w: InflatedConv3d = per-frame conv, inflated GroupNorm = per-frame
GroupNorm) plus a motion module after each resnet (+ spatial transformer) of every level and of the mid block
(inference_v2.yaml: motion_module_resolutions [1, 2, 4, 8], motion_module_mid_block true), keys
`*.motion_modules.N.temporal_transformer.*` as in motion_module.pth (AnimateDiff v2 layout).

Block order (reference src/models/unet_3d_blocks.py): down: resnet -> spatial transformer -> motion module;
mid: resnet0, then (transformer -> motion module -> resnet); up: concat skip -> resnet -> transformer -> motion.
PoseGuider features: fea0 is added after conv_in (before the first skip is taken), fea[k+1] after down block k
(after its skips were taken).

Reference attention (src/models/mutual_self_attention.py), as attention processors instead of monkey-patched
block forwards: the reference UNet runs once (timestep 0, CLIP embedding) and each of its 16 self-attention
layers records its input (the post-norm1 tokens); the denoising UNet's self-attention at the same position
(paired by module name: both UNets share one layout) attends over [its own tokens ; the reference tokens].
With classifier-free guidance the unconditional half sees no reference (plain self-attention).
- ReferenceMode "reference": the reference's schedule: the reference UNet at batch 2 (uncond + cond CLIP), the
  bank repeated per frame and concatenated, K/V projected again at every call, the unconditional half computed
  with the bank and then again without it.
- ReferenceMode "cached": the same result with the reference UNet at batch 1 (the unconditional bank is never
  read), the reference K/V projected once per clip, the unconditional half computed once.
The cross-attention to the single CLIP token is `to_out(to_v(clip))` in the cached mode (softmax over one key
is exactly 1), skipping the query projection and the attention product.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.neural.configs import REFERENCE_OVERRIDES

UNET_CONFIG_KEYS = (
    "act_fn", "attention_head_dim", "block_out_channels", "center_input_sample", "cross_attention_dim",
    "down_block_types", "downsample_padding", "flip_sin_to_cos", "freq_shift", "in_channels", "layers_per_block",
    "mid_block_scale_factor", "norm_eps", "norm_num_groups", "out_channels", "sample_size", "up_block_types",
    "use_linear_projection", "upcast_attention", "only_cross_attention", "dual_cross_attention",
    "resnet_time_scale_shift", "num_attention_heads", "mid_block_type",
)


def _base_unet(config: dict) -> nn.Module:
    from diffusers import UNet2DConditionModel

    fields = {k: v for k, v in config.items() if k in UNET_CONFIG_KEYS}
    return UNet2DConditionModel(**fields)


# --- attention ------------------------------------------------------------------------------------------------

def attend(attn, query_in: torch.Tensor, kv_in: torch.Tensor, k: torch.Tensor | None = None,
           v: torch.Tensor | None = None) -> torch.Tensor:
    """diffusers Attention `attn` of query_in over kv_in (SDPA); extra projected keys/values `k`, `v`
    ((1|B, M, inner)) are appended after kv_in's."""
    b, n, _ = query_in.shape
    q = attn.to_q(query_in)
    kk = attn.to_k(kv_in)
    vv = attn.to_v(kv_in)
    if k is not None:
        kk = torch.cat([kk, k.expand(b, -1, -1)], dim=1)
        vv = torch.cat([vv, v.expand(b, -1, -1)], dim=1)
    h = attn.heads
    d = q.shape[-1] // h
    q, kk, vv = (x.reshape(b, -1, h, d).transpose(1, 2) for x in (q, kk, vv))
    out = F.scaled_dot_product_attention(q, kk, vv, scale=attn.scale)
    out = out.transpose(1, 2).reshape(b, n, h * d).to(query_in.dtype)
    return attn.to_out[1](attn.to_out[0](out))


class PlainProcessor:
    """Standard (self- or cross-) attention through `attend`."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **_):
        if attention_mask is not None:
            raise ValueError("attention masks are not used by these models")
        return attend(attn, hidden_states, hidden_states if encoder_hidden_states is None else encoder_hidden_states)


class SingleTokenCrossProcessor:
    """Cross-attention over one context token: softmax over one key is 1, so the output is to_out(to_v(c))."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **_):
        if encoder_hidden_states is None or encoder_hidden_states.shape[1] != 1 or attention_mask is not None:
            return PlainProcessor()(attn, hidden_states, encoder_hidden_states, attention_mask)
        return attn.to_out[1](attn.to_out[0](attn.to_v(encoder_hidden_states)))


class BankComplete(Exception):
    """Raised by the last recording layer: the rest of the reference UNet does not influence the banks."""


class ReferenceState:
    """What the reference-attention processors share: the recorded tokens and how to read them."""

    def __init__(self):
        self.bank: dict[str, torch.Tensor] = {}
        self.kv: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.cached = True  # "cached" mode; False: the reference's schedule
        self.uncond_rows = 0  # rows at the start of the batch that see no reference (CFG's unconditional half)
        self.repeat = 1  # reference schedule: each bank row serves this many consecutive batch rows
        self.last_writer: str | None = None
        self.enabled = True

    def clear(self) -> None:
        self.bank.clear()
        self.kv.clear()


class WriteProcessor:
    def __init__(self, name: str, state: ReferenceState):
        self.name, self.state = name, state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **_):
        self.state.bank[self.name] = hidden_states
        if self.name == self.state.last_writer:
            raise BankComplete
        return attend(attn, hidden_states, hidden_states)


class ReadProcessor:
    def __init__(self, name: str, state: ReferenceState):
        self.name, self.state = name, state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **_):
        s = self.state
        if not s.enabled or self.name not in s.bank:
            return attend(attn, hidden_states, hidden_states)
        u = s.uncond_rows
        if not s.cached:  # the reference: bank repeated per frame, everything with it, then uncond again
            bank = s.bank[self.name].repeat_interleave(s.repeat, dim=0)
            out = attend(attn, hidden_states, torch.cat([hidden_states, bank], dim=1))
            if u:
                out = out.clone()
                out[:u] = attend(attn, hidden_states[:u], hidden_states[:u])
            return out
        if self.name not in s.kv:
            bank = s.bank[self.name][-1:]  # the conditional reference pass
            s.kv[self.name] = (attn.to_k(bank), attn.to_v(bank))
        k, v = s.kv[self.name]
        cond = attend(attn, hidden_states[u:], hidden_states[u:], k, v)
        if not u:
            return cond
        return torch.cat([attend(attn, hidden_states[:u], hidden_states[:u]), cond], dim=0)


def transformer_blocks(unet: nn.Module) -> list[tuple[str, nn.Module]]:
    from diffusers.models.attention import BasicTransformerBlock

    return [(n, m) for n, m in unet.named_modules() if isinstance(m, BasicTransformerBlock)]


# --- motion modules -------------------------------------------------------------------------------------------

class SinusoidalPositions(nn.Module):
    def __init__(self, dim: int, max_len: int):
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        pe = torch.zeros(1, max_len, dim)
        pe[0, :, 0::2] = torch.sin(position * div)
        pe[0, :, 1::2] = torch.cos(position * div)
        self.register_buffer("pe", pe)


def _temporal_attention(dim: int, heads: int, max_len: int) -> nn.Module:
    from diffusers.models.attention_processor import Attention

    attn = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False)
    attn.pos_encoder = SinusoidalPositions(dim, max_len)
    attn.set_processor(PlainProcessor())
    return attn


class TemporalBlock(nn.Module):
    def __init__(self, dim: int, heads: int, attention_blocks: int, max_len: int):
        from diffusers.models.attention import FeedForward

        super().__init__()
        self.attention_blocks = nn.ModuleList(_temporal_attention(dim, heads, max_len) for _ in range(attention_blocks))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(attention_blocks))
        self.ff = FeedForward(dim, activation_fn="geglu")
        self.ff_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (sequences, frames, dim), one sequence per pixel and sample."""
        f = x.shape[1]
        for attn, norm in zip(self.attention_blocks, self.norms):
            h = norm(x) + attn.pos_encoder.pe[:, :f].to(x.dtype)
            x = attend(attn, h, h) + x
        return self.ff(self.ff_norm(x)) + x


class TemporalTransformer(nn.Module):
    def __init__(self, channels: int, heads: int, blocks: int, attention_blocks: int, max_len: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.transformer_blocks = nn.ModuleList(TemporalBlock(channels, heads, attention_blocks, max_len)
                                                for _ in range(blocks))
        self.proj_out = nn.Linear(channels, channels)


class TemporalModule(nn.Module):
    """AnimateDiff's VanillaTemporalModule: attention over the frames at each pixel, zero-initialised output."""

    def __init__(self, channels: int, num_attention_heads: int = 8, num_transformer_block: int = 1,
                 attention_blocks: int = 2, max_len: int = 32, norm_num_groups: int = 32):
        super().__init__()
        self.max_len = max_len
        self.temporal_transformer = TemporalTransformer(channels, num_attention_heads, num_transformer_block,
                                                        attention_blocks, max_len, norm_num_groups)
        nn.init.zeros_(self.temporal_transformer.proj_out.weight)
        nn.init.zeros_(self.temporal_transformer.proj_out.bias)

    def forward(self, h: torch.Tensor, frames: int) -> torch.Tensor:
        if frames > self.max_len:
            raise ValueError(f"the motion modules take at most {self.max_len} frames per window, got {frames}")
        t = self.temporal_transformer
        r, c, hh, ww = h.shape
        b = r // frames
        x = t.norm(h).permute(0, 2, 3, 1).reshape(b, frames, hh * ww, c)
        x = t.proj_in(x).transpose(1, 2).reshape(b * hh * ww, frames, c)
        for block in t.transformer_blocks:
            x = block(x)
        x = t.proj_out(x.reshape(b, hh * ww, frames, c).transpose(1, 2))
        return x.reshape(r, hh, ww, c).permute(0, 3, 1, 2) + h


# --- the UNets ----------------------------------------------------------------------------------------------

def _time_embedding(unet: nn.Module, timestep, rows: int, device, dtype) -> torch.Tensor:
    t = torch.as_tensor(timestep, device=device)
    t = t.reshape(1).expand(rows)
    return unet.time_embedding(unet.time_proj(t).to(dtype))


def _transformer(block, j: int, h: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
    return block.attentions[j](h, encoder_hidden_states=context, return_dict=False)[0]


def _add(h: torch.Tensor, feat: torch.Tensor | None) -> torch.Tensor:
    """h + feat where feat covers the last rows-per-copy of h (broadcast over CFG copies)."""
    if feat is None:
        return h
    if feat.shape[0] == h.shape[0]:
        return h + feat
    copies = h.shape[0] // feat.shape[0]
    return (h.reshape(copies, feat.shape[0], *h.shape[1:]) + feat[None]).reshape(h.shape)


def unet_forward(unet: nn.Module, sample: torch.Tensor, timestep, context: torch.Tensor, *,
                 frames: int | None = None, pose: list[torch.Tensor] | None = None, head: bool = True) -> torch.Tensor:
    """The (3D when `frames`) UNet on (rows, C, h, w): context (rows, tokens, dim); pose features fea0..fea4."""
    emb = _time_embedding(unet, timestep, sample.shape[0], sample.device, sample.dtype)
    motion = frames is not None
    h = _add(unet.conv_in(sample), pose[0] if pose else None)
    skips = [h]
    for i, block in enumerate(unet.down_blocks):
        for j, resnet in enumerate(block.resnets):
            h = resnet(h, emb)
            if getattr(block, "attentions", None) is not None:
                h = _transformer(block, j, h, context)
            if motion:
                h = block.motion_modules[j](h, frames)
            skips.append(h)
        for down in block.downsamplers or ():
            h = down(h)
            skips.append(h)
        if pose:
            h = _add(h, pose[i + 1])
    mid = unet.mid_block
    h = mid.resnets[0](h, emb)
    for j, (resnet) in enumerate(mid.resnets[1:]):
        h = _transformer(mid, j, h, context)
        if motion:
            h = mid.motion_modules[j](h, frames)
        h = resnet(h, emb)
    for i, block in enumerate(unet.up_blocks):
        for j, resnet in enumerate(block.resnets):
            h = resnet(torch.cat([h, skips.pop()], dim=1), emb)
            if getattr(block, "attentions", None) is not None:
                h = _transformer(block, j, h, context)
            if motion:
                h = block.motion_modules[j](h, frames)
        for up in block.upsamplers or ():
            h = up(h, skips[-1].shape[2:] if skips else None)
    if not head:
        return h
    return unet.conv_out(unet.conv_act(unet.conv_norm_out(h)))


class DenoisingUNet(nn.Module):
    """The SD1.5 UNet applied per frame plus motion modules (keys as denoising_unet.pth + motion_module.pth)."""

    def __init__(self, unet_config: dict, motion: dict | None = None):
        super().__init__()
        base = _base_unet(unet_config)
        self.config = base.config
        for name, child in base.named_children():
            self.add_module(name, child)
        m = {**REFERENCE_OVERRIDES["motion_module"], **(motion or {})}

        def modules(channels: int, count: int) -> nn.ModuleList:
            return nn.ModuleList(TemporalModule(channels, m["num_attention_heads"], m["num_transformer_block"],
                                                m["attention_blocks"], m["max_len"], m["norm_num_groups"])
                                 for _ in range(count))

        for block in self.down_blocks:
            block.motion_modules = modules(block.resnets[0].out_channels, len(block.resnets))
        self.mid_block.motion_modules = modules(self.mid_block.resnets[0].out_channels, len(self.mid_block.attentions))
        for block in self.up_blocks:
            block.motion_modules = modules(block.resnets[0].out_channels, len(block.resnets))

    @property
    def max_frames(self) -> int:
        return self.down_blocks[0].motion_modules[0].max_len

    def forward(self, sample, timestep, context, frames: int, pose=None):
        return unet_forward(self, sample, timestep, context, frames=frames, pose=pose)


class ReferenceUNet(nn.Module):
    """The SD1.5 UNet without conv_norm_out/conv_out (keys as reference_unet.pth); run for its attention banks."""

    def __init__(self, unet_config: dict):
        super().__init__()
        base = _base_unet(unet_config)
        self.config = base.config
        for name, child in base.named_children():
            if name not in ("conv_norm_out", "conv_act", "conv_out"):
                self.add_module(name, child)

    def forward(self, sample, context):
        try:
            unet_forward(self, sample, 0, context, head=False)
        except BankComplete:
            pass


def install_reference_attention(reference: ReferenceUNet, denoising: DenoisingUNet, state: ReferenceState,
                                cached: bool) -> None:
    """Writer processors on the reference UNet's self-attention, readers on the denoising UNet's (paired by
    name); in the cached mode the single-token cross-attention shortcut on both."""
    ref_blocks = transformer_blocks(reference)
    den_blocks = dict(transformer_blocks(denoising))
    if [n for n, _ in ref_blocks] != list(den_blocks):
        raise ValueError("the reference and denoising UNets do not share one layout (their configs differ)")
    cross = SingleTokenCrossProcessor() if cached else PlainProcessor()
    for name, block in ref_blocks:
        block.attn1.set_processor(WriteProcessor(name, state))
        if block.attn2 is not None:
            block.attn2.set_processor(cross)
        den = den_blocks[name]
        den.attn1.set_processor(ReadProcessor(name, state))
        if den.attn2 is not None:
            den.attn2.set_processor(cross)
    # The last layer the forward pass reaches (module order is down, up, mid; execution is down, mid, up).
    order = [n for part in ("down_blocks.", "mid_block.", "up_blocks.") for n, _ in ref_blocks if n.startswith(part)]
    state.last_writer = order[-1] if order else None
    state.cached = cached


def motion_key(key: str) -> bool:
    return ".motion_modules." in key
