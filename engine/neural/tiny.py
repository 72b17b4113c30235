"""Tiny random AniPortrait weights in the released layout (for tests, CI and trying the plumbing on a CPU).

Same file names, same key names (including the historical spellings the released files use: wav2vec2's
`weight_g`/`weight_v`, the VAE's `query`/`key`/`value`/`proj_attn`), configs in the folder, every dimension
tiny: a 64 x 64 frame (8 x 8 latents), 16-channel UNets, a 16-wide wav2vec2. `aniportrait.json` carries the
sizes the reference hard-codes in code (PoseGuider widths and heads, motion-module heads and groups).
Weights are random but not degenerate: the zero-initialised parts of the reference (motion-module outputs,
final projections) are random too, so every component changes the output and equality tests can fail.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

TINY_UNET = {
    "_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 2,
    "block_out_channels": [16, 32, 64, 64], "center_input_sample": False, "cross_attention_dim": 16,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 1,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 8, "out_channels": 4, "sample_size": 8,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
TINY_VAE = {
    "_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [8, 8, 8, 8],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "in_channels": 3, "latent_channels": 4, "layers_per_block": 1,
    "norm_num_groups": 4, "out_channels": 3, "sample_size": 64, "up_block_types": ["UpDecoderBlock2D"] * 4,
}
TINY_CLIP = {
    "model_type": "clip_vision_model", "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2,
    "num_hidden_layers": 1, "patch_size": 8, "image_size": 32, "projection_dim": 16, "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5, "num_channels": 3,
}
TINY_WAV2VEC2 = {
    "model_type": "wav2vec2", "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
    "intermediate_size": 32, "conv_dim": [8] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_stride": [5, 2, 2, 2, 2, 2, 2], "conv_bias": False, "feat_extract_norm": "group",
    "do_stable_layer_norm": False, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4,
    "mask_time_prob": 0.05, "hidden_act": "gelu", "feat_extract_activation": "gelu", "vocab_size": 32,
}
TINY_OVERRIDES = {
    "pose_guider": {"conv_channels": [3, 4, 4, 8, 8], "attention_heads": 2, "attention_head_dim": 8,
                    "norm_num_groups": 8},
    "motion_module": {"num_attention_heads": 2, "norm_num_groups": 8},
}
TINY_AUDIO_LATENT = 16
TINY_A2P_LAYERS = 2
PREPROCESSOR = {"do_normalize": True, "feature_extractor_type": "Wav2Vec2FeatureExtractor", "feature_size": 1,
                "padding_side": "right", "padding_value": 0.0, "return_attention_mask": False,
                "sampling_rate": 16000}


def randomize(module: nn.Module, generator: torch.Generator, gain: float = 1.0) -> nn.Module:
    """Every parameter random (weights ~ N(0, gain^2/fan_in), norms ~1, biases small); `scale` kept."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("scale"):
                continue
            if p.ndim >= 2:
                fan_in = math.prod(p.shape[1:])
                p.copy_(torch.randn(p.shape, generator=generator) * gain / math.sqrt(fan_in))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
        for name, b in module.named_buffers():
            if name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=generator))
            elif name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=generator))
    return module


def _legacy_wav2vec2_names(state: dict) -> dict:
    """transformers <= 4.30 spelling of the positional-conv weight norm, as in the released audio2*.pt."""
    out = {}
    for k, v in state.items():
        k = k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1",
                                                                                "weight_v")
        out[k] = v
    return out


def _legacy_vae_names(state: dict) -> dict:
    """diffusers < 0.14 spelling of the VAE's attention, as in sd-vae-ft-mse's files."""
    out = {}
    for k, v in state.items():
        if ".attentions." in k:
            for new, old in ((".to_q.", ".query."), (".to_k.", ".key."), (".to_v.", ".value."),
                             (".to_out.0.", ".proj_attn.")):
                k = k.replace(new, old)
        out[k] = v
    return out


def _contiguous(state: dict) -> dict:
    return {k: v.detach().clone().contiguous() for k, v in state.items()}


def tiny_models(seed: int = 0) -> dict[str, nn.Module]:
    """The tiny networks (random), as they are saved by write_tiny_weights."""
    from engine.neural.audio_models import Audio2Mesh, Audio2Pose
    from engine.neural.lmk2video import build_models

    g = torch.Generator().manual_seed(seed)
    nets = build_models(TINY_UNET, TINY_VAE, TINY_CLIP, TINY_OVERRIDES)
    for name, net in nets.items():
        randomize(net, g, gain=0.8 if name == "denoising_unet" else 1.0)
    nets["audio2mesh"] = randomize(Audio2Mesh(TINY_WAV2VEC2, TINY_AUDIO_LATENT), g)
    nets["audio2pose"] = randomize(Audio2Pose(TINY_WAV2VEC2, TINY_AUDIO_LATENT, num_layers=TINY_A2P_LAYERS), g)
    return nets


def write_tiny_weights(folder: str | Path, seed: int = 0) -> Path:
    """A complete weights folder (released layout) with tiny random models; returns it."""
    from engine.neural.unet import motion_key

    root = Path(folder)
    nets = tiny_models(seed)
    for sub in ("stable-diffusion-v1-5/unet", "sd-vae-ft-mse", "image_encoder", "wav2vec2-base-960h"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    def dump(path: str, data: dict) -> None:
        (root / path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    dump("stable-diffusion-v1-5/unet/config.json", TINY_UNET)
    dump("sd-vae-ft-mse/config.json", TINY_VAE)
    dump("image_encoder/config.json", {**TINY_CLIP, "architectures": ["CLIPVisionModelWithProjection"]})
    dump("wav2vec2-base-960h/config.json", {**TINY_WAV2VEC2, "architectures": ["Wav2Vec2ForCTC"]})
    dump("wav2vec2-base-960h/preprocessor_config.json", PREPROCESSOR)
    dump("aniportrait.json", TINY_OVERRIDES)
    den = _contiguous(nets["denoising_unet"].state_dict())
    torch.save({k: v for k, v in den.items() if not motion_key(k)}, root / "denoising_unet.pth")
    torch.save({k: v for k, v in den.items() if motion_key(k)}, root / "motion_module.pth")
    torch.save(_contiguous(nets["reference_unet"].state_dict()), root / "reference_unet.pth")
    torch.save(_contiguous(nets["pose_guider"].state_dict()), root / "pose_guider.pth")
    from safetensors.torch import save_file

    save_file(_legacy_vae_names(_contiguous(nets["vae"].state_dict())),
              str(root / "sd-vae-ft-mse/diffusion_pytorch_model.safetensors"))
    torch.save(_contiguous(nets["image_encoder"].state_dict()), root / "image_encoder/pytorch_model.bin")
    torch.save(_legacy_wav2vec2_names(_contiguous(nets["audio2mesh"].state_dict())), root / "audio2mesh.pt")
    torch.save(_legacy_wav2vec2_names(_contiguous(nets["audio2pose"].state_dict())), root / "audio2pose.pt")
    return root
