"""Architecture and sampler constants of the AniPortrait reference (torch-free).

Everything the released checkpoints need but the weights folder does not say: the reference hard-codes these in
its code and in configs/inference/*.yaml (see ../shared/reference/aniportrait.md, sections 1 and 3). The configs
of the third-party parts (SD1.5 UNet, sd-vae-ft-mse, the CLIP image encoder, wav2vec2-base-960h) are read from
the weights folder; the copies here build the full-size models for `talkline models check --describe` without
any file. A weights folder may carry `aniportrait.json` to override the hard-coded parts (scripts/
make_tiny_weights.py writes one for its tiny random models); the released layout has none.
"""
from __future__ import annotations

import copy

# --- third-party configs (their config.json in the released layout) ----------------------------------------
SD15_UNET = {  # stable-diffusion-v1-5/unet/config.json
    "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False, "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
SD_VAE_FT_MSE = {  # sd-vae-ft-mse/config.json
    "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "in_channels": 3, "latent_channels": 4,
    "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3, "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
CLIP_VIT_L14 = {  # image_encoder/config.json (lambdalabs/sd-image-variations-diffusers), vision part
    "hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_hidden_layers": 24,
    "patch_size": 14, "image_size": 224, "projection_dim": 768, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
    "num_channels": 3,
}
WAV2VEC2_BASE = {  # wav2vec2-base-960h/config.json (the architecture fields)
    "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
    "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False, "feat_extract_norm": "group", "do_stable_layer_norm": False,
    "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16, "mask_time_prob": 0.05,
    "hidden_act": "gelu", "feat_extract_activation": "gelu", "layer_norm_eps": 1e-5, "vocab_size": 32,
}

# --- the reference's hard-coded parts (overridable by aniportrait.json) --------------------------------------
REFERENCE_OVERRIDES = {
    # src/models/pose_guider.py: PoseGuider(noise_latent_channels=320, use_ca=True); its conv widths, the
    # 16 x 88 attention of its four Transformer2DModel blocks and GroupNorm(32).
    "pose_guider": {"conv_channels": [3, 16, 32, 64, 128], "attention_heads": 16, "attention_head_dim": 88,
                    "norm_num_groups": 32},
    # configs/inference/inference_v2.yaml unet_additional_kwargs.motion_module_kwargs (+ AnimateDiff's GroupNorm(32)).
    "motion_module": {"num_attention_heads": 8, "num_transformer_block": 1, "attention_blocks": 2,
                      "max_len": 32, "norm_num_groups": 32},
    # configs/inference/inference_audio.yaml + src/audio_models/pose_model.py
    "audio2pose": {"num_heads": 8, "max_len": 600, "num_ids": 100},
}

# configs/inference/inference_v2.yaml noise_scheduler_kwargs (sampler: DDIM)
SCHEDULER = {
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "linear", "clip_sample": False, "steps_offset": 1,
    "prediction_type": "v_prediction", "rescale_betas_zero_snr": True, "timestep_spacing": "trailing",
}
LATENT_SCALE = 0.18215  # SD's VAE scaling factor, as the reference pipeline hard-codes it
AUDIO_FPS = 30.0  # the audio models' frame rate (training data; src/utils/audio_util.py)
AUDIO_RATE = 16_000
A2P_CHUNK_FRAMES = 150  # audio2vid.py: 5 s chunks of 16000*5 samples = 150 frames at 30 fps
# Lmk2Video defaults (pipeline_pose2vid_long.py, scripts/*.py CLI defaults)
STEPS = 25
GUIDANCE = 3.5
CONTEXT_FRAMES = 16
CONTEXT_OVERLAP = 4
SEED = 42
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIPImageProcessor() defaults (OpenAI CLIP)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Parameter counts of the reference (../shared/reference/aniportrait.md, architecture_and_performance.md B1/B2),
# in millions: what `models check --describe` compares against.
REFERENCE_PARAMS_M = {
    "pose_guider": 167.5,
    "reference_unet": 859.5,  # the SD1.5 UNet (the reference UNet drops conv_norm_out/conv_out: -0.01 M)
    "denoising_unet": 859.5,  # the 2D part of the denoising UNet (denoising_unet.pth)
    "motion_modules": 453.2,  # AnimateDiff mm_sd_v15_v2 (motion_module.pth)
    "vae": 83.7,
    "audio2mesh": 95.5,
}


def overrides(extra: dict | None = None) -> dict:
    """The hard-coded parts, with a folder's aniportrait.json merged over them (unknown keys refused)."""
    out = copy.deepcopy(REFERENCE_OVERRIDES)
    for section, values in (extra or {}).items():
        if section not in out:
            raise ValueError(f"aniportrait.json: unknown section {section!r}; known: {', '.join(out)}")
        if not isinstance(values, dict):
            raise ValueError(f"aniportrait.json: section {section!r} must be an object of settings, got "
                             f"{type(values).__name__}")
        unknown = sorted(set(values) - set(out[section]))
        if unknown:
            raise ValueError(f"aniportrait.json: unknown {section} setting(s) {', '.join(unknown)}")
        out[section].update(values)
    return out
