"""Audio2Mesh and Audio2Pose of the AniPortrait reference, on transformers' Wav2Vec2Model.

Facts kept from the reference (../shared/reference/aniportrait.md section 1):
- 16 kHz mono, the whole utterance normalised to zero mean / unit variance (Wav2Vec2FeatureExtractor);
- the wav2vec2 conv features are linearly interpolated (align_corners=True) from 50 Hz to exactly
  seq_len = ceil(seconds * 30) frames BEFORE feature_projection; the transformer then runs at 30 fps and
  `last_hidden_state` is used;
- Audio2Mesh: in_fn (768 -> 512) then out_fn (512 -> 1404 = 468 x 3 offsets), no activation between;
- Audio2Pose: in_fn, pose_map (6 -> 512), sinusoidal PPE (max 600), an 8-layer post-norm
  nn.TransformerDecoder (8 heads, ff 2 x 512, ReLU) with FaceFormer's ALiBi causal mask on the poses and an
  alignment mask (pose i sees audio frame i only), pose_map_r (512 -> 6), id_embed (100 styles); autoregressive
  from a zero pose; 5 s chunks (the last partial chunk merged into the one before), rotations x 0.5 per chunk,
  then a centred moving average of 7 frames.

Faults of the reference fixed here: the style id is drawn from a seeded generator (the reference's Python
`random` is unseeded); audio of any length works (the reference crashes at <= 5 s and mis-sizes the last chunk
when the frame count is a multiple of 150); old `weight_g`/`weight_v` weight-norm keys load into current
transformers (engine.neural.checkpoint) instead of being skipped by strict=False; very long audio can be run
through Audio2Mesh in overlapping passes (`max_pass_frames`) instead of one quadratic-cost pass.

Speed: the reference recomputes the whole pose prefix at every autoregressive step (O(T^2) decoder passes).
Because the self-attention mask is causal and each pose attends to one audio frame, the output at position j
does not depend on later positions, so `Audio2Pose.decode` runs one position per step with cached keys and
values (O(T)); `decode_reference` is the reference's loop, kept for the equality test.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.neural.configs import A2P_CHUNK_FRAMES, AUDIO_FPS, AUDIO_RATE, REFERENCE_OVERRIDES


def build_wav2vec2(config: dict) -> nn.Module:
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    fields = {k: v for k, v in config.items() if not k.startswith("_")}
    return Wav2Vec2Model(Wav2Vec2Config(**fields))


def normalize_audio(wav: np.ndarray, do_normalize: bool = True) -> np.ndarray:
    """Wav2Vec2FeatureExtractor's per-utterance zero-mean unit-variance normalisation."""
    wav = np.asarray(wav, dtype=np.float32)
    if not do_normalize or wav.size == 0:
        return wav
    return ((wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)).astype(np.float32)


def frames_for(samples: int) -> int:
    """The reference's seq_len: ceil(samples / 16000 * 30), at least 1."""
    return max(1, math.ceil(samples / AUDIO_RATE * AUDIO_FPS - 1e-9))


def encode(w2v: nn.Module, wav: torch.Tensor, seq_len: int) -> torch.Tensor:
    """(B, N) normalised 16 kHz audio -> (B, seq_len, hidden) wav2vec2 states at 30 fps."""
    min_len = 400  # the conv front-end's receptive field: shorter input is zero-padded
    if wav.shape[1] < min_len:
        wav = F.pad(wav, (0, min_len - wav.shape[1]))
    feats = w2v.feature_extractor(wav)  # (B, C, T50)
    feats = F.interpolate(feats, size=seq_len, mode="linear", align_corners=True).transpose(1, 2)
    hidden, _ = w2v.feature_projection(feats)
    return w2v.encoder(hidden).last_hidden_state


class Audio2Mesh(nn.Module):
    def __init__(self, wav2vec2_config: dict, latent_dim: int = 512, out_dim: int = 1404):
        super().__init__()
        self.audio_encoder = build_wav2vec2(wav2vec2_config)
        hidden = self.audio_encoder.config.hidden_size
        self.in_fn = nn.Linear(hidden, latent_dim)
        self.out_fn = nn.Linear(latent_dim, out_dim)

    def forward(self, wav: torch.Tensor, seq_len: int) -> torch.Tensor:
        return self.out_fn(self.in_fn(encode(self.audio_encoder, wav, seq_len)))


class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, max_len: int = 600):
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div)
        self.register_buffer("pe", pe[None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[:, : x.shape[1]]


def alibi_slopes(n_head: int) -> list[float]:
    """FaceFormer's ALiBi slopes (powers of two, interleaved for other head counts)."""
    def power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start**i for i in range(n)]

    if math.log2(n_head).is_integer():
        return power_of_2(n_head)
    closest = 2 ** math.floor(math.log2(n_head))
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][: n_head - closest]


def biased_mask(n_head: int, length: int) -> torch.Tensor:
    """(n_head, L, L): slope_h * (j - i) for j <= i, -inf above the diagonal (period 1)."""
    i = torch.arange(length)[:, None]
    j = torch.arange(length)[None, :]
    slopes = torch.tensor(alibi_slopes(n_head))[:, None, None]
    bias = slopes * (j - i).float()[None]
    return bias.masked_fill((j > i)[None], float("-inf"))


def alignment_mask(length: int, memory: int) -> torch.Tensor:
    """(L, S) bool, True = masked: pose i attends to audio frame i only."""
    return ~torch.eye(length, memory, dtype=torch.bool)


class Audio2Pose(nn.Module):
    def __init__(self, wav2vec2_config: dict, latent_dim: int = 512, out_dim: int = 6, num_layers: int = 8,
                 num_heads: int = 8, max_len: int = 600, num_ids: int = 100):
        super().__init__()
        self.out_dim, self.num_heads, self.max_len = out_dim, num_heads, max_len
        self.audio_encoder = build_wav2vec2(wav2vec2_config)
        hidden = self.audio_encoder.config.hidden_size
        self.pose_map = nn.Linear(out_dim, latent_dim)
        self.in_fn = nn.Linear(hidden, latent_dim)
        self.PPE = PositionalEncoding(latent_dim, max_len)
        layer = nn.TransformerDecoderLayer(d_model=latent_dim, nhead=num_heads, dim_feedforward=2 * latent_dim,
                                           batch_first=True)
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=num_layers)
        self.pose_map_r = nn.Linear(latent_dim, out_dim)
        self.id_embed = nn.Embedding(num_ids, latent_dim)

    def memory(self, wav: torch.Tensor, seq_len: int) -> torch.Tensor:
        return self.in_fn(encode(self.audio_encoder, wav, seq_len))

    def _check_length(self, t: int) -> None:
        if t > self.max_len:
            raise ValueError(f"Audio2Pose decodes at most {self.max_len} frames at once, got {t}")

    def decode_reference(self, memory: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The reference's loop: the whole prefix through the decoder at every step (batch 1)."""
        t = memory.shape[1]
        self._check_length(t)
        ident = self.id_embed(style)[:, None]
        pose_emb = self.pose_map(torch.zeros(memory.shape[0], 1, self.out_dim, device=memory.device))
        mask = biased_mask(self.num_heads, t).to(memory.device)
        out = None
        for i in range(t):
            x = self.PPE(pose_emb) + ident
            n = x.shape[1]
            out = self.pose_map_r(self.transformer_decoder(x, memory, tgt_mask=mask[:, :n, :n],
                                                           memory_mask=alignment_mask(n, t).to(memory.device)))
            pose_emb = torch.cat([pose_emb, self.pose_map(out[:, -1])[:, None]], dim=1)
        return out

    def decode(self, memory: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The same poses, one position per step with cached self-attention keys/values (any batch size)."""
        b, t, d = memory.shape
        self._check_length(t)
        layers = list(self.transformer_decoder.layers)
        h, dh = self.num_heads, d // self.num_heads
        slopes = torch.tensor(alibi_slopes(h), device=memory.device, dtype=memory.dtype)[:, None]
        # Cross-attention of pose i over audio frame i only: softmax over one key is 1, so the output is
        # out_proj(v_proj(memory_i)), for all positions at once.
        cross = []
        for layer in layers:
            attn = layer.multihead_attn
            v = F.linear(memory, attn.in_proj_weight[2 * d:], attn.in_proj_bias[2 * d:])
            cross.append(attn.out_proj(v))
        ident = self.id_embed(style)[:, None]
        keys = [memory.new_zeros(b, h, t, dh) for _ in layers]
        values = [memory.new_zeros(b, h, t, dh) for _ in layers]
        prev = memory.new_zeros(b, 1, self.out_dim)
        outs = []
        for i in range(t):
            x = self.pose_map(prev) + self.PPE.pe[:, i: i + 1] + ident
            bias = slopes * torch.arange(-i, 1, device=memory.device, dtype=memory.dtype)[None]  # (h, i+1)
            for k, layer in enumerate(layers):
                sa = layer.self_attn
                q, kk, vv = F.linear(x, sa.in_proj_weight, sa.in_proj_bias).chunk(3, dim=-1)
                keys[k][:, :, i] = kk.reshape(b, h, dh)
                values[k][:, :, i] = vv.reshape(b, h, dh)
                q = q.reshape(b, h, 1, dh)
                scores = (q / math.sqrt(dh)) @ keys[k][:, :, : i + 1].transpose(-1, -2) + bias[None, :, None]
                att = (scores.softmax(-1) @ values[k][:, :, : i + 1]).reshape(b, 1, d)
                x = layer.norm1(x + sa.out_proj(att))
                x = layer.norm2(x + cross[k][:, i: i + 1])
                x = layer.norm3(x + layer.linear2(F.relu(layer.linear1(x))))
            prev = self.pose_map_r(x)
            outs.append(prev)
        return torch.cat(outs, dim=1)


# --- whole-clip inference (numpy in, numpy out) ---------------------------------------------------------------

def style_id(seed: int, num_ids: int = 100) -> int:
    """The reference's `random.randint(0, 99)`, drawn from a generator seeded with `seed`."""
    return random.Random(int(seed)).randint(0, num_ids - 1)


def pose_chunks(samples: int, frames: int) -> list[tuple[int, int, int, int]]:
    """(sample_start, sample_stop, frame_start, frame_stop) per Audio2Pose chunk: 5 s (150 frames) each, the
    last partial chunk merged into the one before, as the reference; correct at any length (one chunk up to
    5 s; a frame count that is a multiple of 150 keeps its last full chunk)."""
    per = int(AUDIO_RATE * A2P_CHUNK_FRAMES / AUDIO_FPS)  # 80000
    n = max(1, math.ceil(samples / per))
    n = max(1, min(n, math.ceil(frames / A2P_CHUNK_FRAMES)))
    bounds = [(k * per, (k + 1) * per, k * A2P_CHUNK_FRAMES, (k + 1) * A2P_CHUNK_FRAMES) for k in range(n)]
    s0, _, f0, _ = bounds[-1]
    bounds[-1] = (s0, samples, f0, frames)
    if n >= 2:
        a, b = bounds[-2], bounds[-1]
        bounds[-2:] = [(a[0], b[1], a[2], b[3])]
    return bounds


def smooth_pose(pose: np.ndarray, window: int = 7) -> np.ndarray:
    """Centred moving average, truncated at the ends (the reference's smooth_pose_seq)."""
    if window <= 1 or len(pose) == 0:
        return pose.copy()
    half = window // 2
    csum = np.concatenate([np.zeros((1, pose.shape[1])), np.cumsum(pose, axis=0)])
    idx = np.arange(len(pose))
    lo, hi = np.maximum(0, idx - half), np.minimum(len(pose), idx + half + 1)
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def mesh_passes(frames: int, max_frames: int, overlap: int) -> list[tuple[int, int]]:
    """Frame spans of the Audio2Mesh passes: one pass up to max_frames (the reference), else overlapping ones."""
    if frames <= max_frames:
        return [(0, frames)]
    step = max_frames - overlap
    starts = list(range(0, frames - overlap, step))
    spans = [(s, min(s + max_frames, frames)) for s in starts]
    last = spans[-1]
    if last[1] - last[0] < max_frames:
        spans[-1] = (max(0, frames - max_frames), frames)
    return spans


@torch.no_grad()
def predict_offsets(model: Audio2Mesh, wav: np.ndarray, frames: int, *, max_frames: int = 3600, overlap: int = 60,
                    report: Callable[[float], None] | None = None) -> np.ndarray:
    """(frames, 468, 3) offsets at 30 fps from normalised 16 kHz audio."""
    device = next(model.parameters()).device
    spans = mesh_passes(frames, max_frames, overlap)
    out = np.zeros((frames, model.out_fn.out_features), dtype=np.float64)
    weight = np.zeros(frames)
    for k, (a, b) in enumerate(spans):
        s0, s1 = round(a * AUDIO_RATE / AUDIO_FPS), round(b * AUDIO_RATE / AUDIO_FPS) if b < frames else len(wav)
        x = torch.from_numpy(np.ascontiguousarray(wav[s0:s1])).to(device)[None]
        pred = model(x, b - a)[0].double().cpu().numpy()
        ramp = np.ones(b - a)
        if len(spans) > 1:  # linear cross-fade over the overlaps
            if a > 0:
                ramp[:overlap] = np.linspace(0, 1, overlap + 2)[1:-1]
            if b < frames:
                ramp[-overlap:] = np.minimum(ramp[-overlap:], np.linspace(1, 0, overlap + 2)[1:-1])
        out[a:b] += pred * ramp[:, None]
        weight[a:b] += ramp
        if report:
            report((k + 1) / len(spans))
    return (out / weight[:, None]).reshape(frames, -1, 3).astype(np.float32)


@torch.no_grad()
def predict_pose(model: Audio2Pose, wav: np.ndarray, frames: int, style: int, *, rotation_scale: float = 0.5,
                 smoothing: int = 7, reference_loop: bool = False,
                 report: Callable[[float], None] | None = None) -> np.ndarray:
    """(frames, 6) relative pose [rx, ry, rz deg, tx, ty, tz cm] at 30 fps from normalised 16 kHz audio."""
    device = next(model.parameters()).device
    style = torch.tensor([style], device=device)
    parts = []
    chunks = pose_chunks(len(wav), frames)
    for k, (s0, s1, f0, f1) in enumerate(chunks):
        x = torch.from_numpy(np.ascontiguousarray(wav[s0:s1])).to(device)[None]
        memory = model.memory(x, f1 - f0)
        pose = (model.decode_reference if reference_loop else model.decode)(memory, style)[0]
        pose = pose.double().cpu().numpy()
        pose[:, :3] *= rotation_scale
        parts.append(pose)
        if report:
            report((k + 1) / len(chunks))
    return smooth_pose(np.concatenate(parts), smoothing)


def audio2pose_from_state(state: dict, wav2vec2_config: dict, extra: dict | None = None) -> Audio2Pose:
    """An Audio2Pose sized from its checkpoint (latent width, layers, styles) with the reference's heads."""
    cfg = {**REFERENCE_OVERRIDES["audio2pose"], **(extra or {})}
    latent = state["in_fn.weight"].shape[0] if "in_fn.weight" in state else 512
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer_decoder.layers.")}) or 8
    ids = state["id_embed.weight"].shape[0] if "id_embed.weight" in state else cfg["num_ids"]
    return Audio2Pose(wav2vec2_config, latent, 6, layers, cfg["num_heads"], cfg["max_len"], ids)


def audio2mesh_from_state(state: dict, wav2vec2_config: dict) -> Audio2Mesh:
    latent = state["in_fn.weight"].shape[0] if "in_fn.weight" in state else 512
    out = state["out_fn.weight"].shape[0] if "out_fn.weight" in state else 1404
    return Audio2Mesh(wav2vec2_config, latent, out)


# --- loading --------------------------------------------------------------------------------------------------

def wav2vec2_settings(root) -> tuple[dict, bool]:
    """(wav2vec2 config, do_normalize) from the folder's wav2vec2-base-960h/."""
    from engine.neural import layout
    from engine.neural.checkpoint import CheckpointError

    try:
        config = layout.read_json(layout.find(root, "wav2vec2_config"))
        pre = layout.find(root, "wav2vec2_preprocessor")
        normalize = bool(layout.read_json(pre).get("do_normalize", True)) if pre is not None else True
    except ValueError as exc:  # a broken config is the user's file, not a bug: one clear line
        raise CheckpointError(str(exc)) from None
    return config, normalize


def load_audio_model(root, which: str, device: str | torch.device = "cpu") -> nn.Module:
    """audio2mesh.pt / audio2pose.pt, strictly loaded, in float32 (as the reference runs them)."""
    from engine.neural import layout
    from engine.neural.checkpoint import load_into, read_state_dict

    config, _ = wav2vec2_settings(root)
    path = layout.find(root, which)
    state = read_state_dict(path)
    if which == "audio2mesh":
        model = audio2mesh_from_state(state, config)
    else:
        from engine.neural.configs import overrides

        model = audio2pose_from_state(state, config, overrides(layout.read_overrides(root))["audio2pose"])
    return load_into(model, state, path.name, device=device, dtype=torch.float32).eval().requires_grad_(False)
