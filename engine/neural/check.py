"""`talkline models check DIR [--describe] [--json]`: is a weights folder complete and does each checkpoint fit?

check_folder: every expected file found / missing; each checkpoint's keys and shapes against the model its
folder's configs describe (built on the meta device: no memory, no initialisation; checkpoints are memory-
mapped); parameters per component. describe: the full-size reference architectures (built-in configs) on the
meta device, their parameter counts against the reference's published ones, and the documented key patterns
of every released checkpoint (../shared/reference/aniportrait.md section 3.1).
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from engine.neural import configs, layout
from engine.neural.checkpoint import CheckpointError, build_on_meta, canonical_keys, check_state, expected_shapes, \
    read_state_dict

# Documented key patterns of the released checkpoints: (regex, how many distinct matches at least).
KEY_PATTERNS = {
    "reference_unet": [
        (r"^conv_in\.weight$", 1), (r"^time_embedding\.linear_[12]\.weight$", 2),
        (r"^down_blocks\.[0-3]\.resnets\.\d\.conv1\.weight$", 8),
        (r"^down_blocks\.[0-2]\.attentions\.\d\.transformer_blocks\.0\.attn1\.to_q\.weight$", 6),
        (r"^up_blocks\.[1-3]\.attentions\.\d\.transformer_blocks\.0\.attn2\.to_k\.weight$", 9),
        (r"^mid_block\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q\.weight$", 1),
    ],
    "denoising_unet": [
        (r"^down_blocks\.\d\.attentions\.\d\.transformer_blocks\.0\.attn1\.to_q\.weight$", 6),
        (r"^conv_out\.weight$", 1), (r"^conv_norm_out\.weight$", 1),
    ],
    "motion_modules": [
        (r"^down_blocks\.[0-3]\.motion_modules\.[01]\.temporal_transformer\.proj_in\.weight$", 8),
        (r"^up_blocks\.[0-3]\.motion_modules\.[0-2]\.temporal_transformer\.proj_out\.weight$", 12),
        (r"^mid_block\.motion_modules\.0\.temporal_transformer\.norm\.weight$", 1),
        (r"\.temporal_transformer\.transformer_blocks\.0\.attention_blocks\.[01]\.to_out\.0\.weight$", 42),
        (r"\.transformer_blocks\.0\.attention_blocks\.[01]\.pos_encoder\.pe$", 42),
        (r"\.transformer_blocks\.0\.(norms\.[01]|ff_norm)\.weight$", 63),
        (r"\.transformer_blocks\.0\.ff\.net\.(0\.proj|2)\.weight$", 42),
    ],
    "pose_guider": [
        (r"^conv_layers\.(0|1|3|4|6|7|9|10|12|13|15|16|18|19|21|22)\.weight$", 16),
        (r"^conv_layers\.(1|4|7|10|13|16|19|22)\.running_var$", 8), (r"^final_proj\.weight$", 1),
        (r"^conv_layers_[123]\.(0|1|3|4)\.weight$", 12), (r"^conv_layers_4\.(0|1)\.weight$", 2),
        (r"^cross_attn[1-4]\.transformer_blocks\.0\.attn1\.to_[qkv]\.weight$", 12),
        (r"^cross_attn[1-4]\.transformer_blocks\.0\.(norm1|norm3|ff\.net\.0\.proj|ff\.net\.2)\.weight$", 16),
        (r"^cross_attn[1-4]\.(norm|proj_in|proj_out)\.weight$", 12), (r"^scale$", 1),
    ],
    "audio2mesh": [
        (r"^audio_encoder\.feature_extractor\.conv_layers\.[0-6]\.conv\.weight$", 7),
        (r"^audio_encoder\.feature_extractor\.conv_layers\.0\.layer_norm\.weight$", 1),
        (r"^audio_encoder\.feature_projection\.(layer_norm|projection)\.weight$", 2),
        (r"^audio_encoder\.encoder\.pos_conv_embed\.conv\.(weight_g|weight_v|bias)$", 3),
        (r"^audio_encoder\.encoder\.layers\.\d+\.attention\.(q|k|v|out)_proj\.weight$", 48),
        (r"^audio_encoder\.masked_spec_embed$", 1), (r"^(in_fn|out_fn)\.(weight|bias)$", 4),
    ],
    "audio2pose": [
        (r"^transformer_decoder\.layers\.[0-7]\.(self_attn|multihead_attn)\.in_proj_weight$", 16),
        (r"^transformer_decoder\.layers\.[0-7]\.norm[123]\.weight$", 24), (r"^PPE\.pe$", 1),
        (r"^(pose_map|pose_map_r|in_fn)\.weight$", 3), (r"^id_embed\.weight$", 1),
    ],
}
SHAPES = {"audio2pose": {"id_embed.weight": (100, 512), "PPE.pe": (1, 600, 512)}, "motion_modules": {}}


def _released_names(state_keys) -> list[str]:
    """Our module keys in the released files' spelling (transformers <= 4.30 weight norm)."""
    return [k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1",
                                                                                "weight_v") for k in state_keys]


def _params(module: torch.nn.Module, keys=None) -> int:
    return sum(p.numel() for n, p in module.named_parameters() if keys is None or keys(n))


def full_size_models() -> dict[str, torch.nn.Module]:
    from engine.neural.audio_models import Audio2Mesh, Audio2Pose
    from engine.neural.lmk2video import build_models

    nets = build_models(configs.SD15_UNET, configs.SD_VAE_FT_MSE, configs.CLIP_VIT_L14, meta=True)
    nets["audio2mesh"] = build_on_meta(lambda: Audio2Mesh(configs.WAV2VEC2_BASE))
    nets["audio2pose"] = build_on_meta(lambda: Audio2Pose(configs.WAV2VEC2_BASE))
    return nets


def _split(nets: dict) -> dict[str, tuple[torch.nn.Module, object]]:
    """Component -> (module, key filter): the denoising UNet is two files (2D part, motion modules)."""
    from engine.neural.unet import motion_key

    out = {name: (net, None) for name, net in nets.items() if name != "denoising_unet"}
    out["denoising_unet"] = (nets["denoising_unet"], lambda k: not motion_key(k))
    out["motion_modules"] = (nets["denoising_unet"], motion_key)
    return out


def describe() -> dict:
    """Full-size architectures on the meta device vs the reference's parameter counts and key patterns."""
    rows = []
    for name, (net, keys) in _split(full_size_models()).items():
        state_keys = [k for k in net.state_dict() if keys is None or keys(k)]
        names = _released_names(state_keys)
        patterns = []
        for pattern, count in KEY_PATTERNS.get(name, []):
            found = len({k for k in names if re.search(pattern, k)})
            patterns.append({"pattern": pattern, "expected_at_least": count, "found": found, "ok": found >= count})
        shapes = net.state_dict()
        for key, shape in SHAPES.get(name, {}).items():
            ok = key in shapes and tuple(shapes[key].shape) == shape
            patterns.append({"pattern": f"{key} {shape}", "expected_at_least": 1, "found": int(ok), "ok": ok})
        params = _params(net, keys) / 1e6
        ref = configs.REFERENCE_PARAMS_M.get(name)
        rows.append({
            "component": name, "params_m": round(params, 3), "reference_params_m": ref,
            "within_1pct": None if ref is None else abs(params - ref) <= 0.01 * ref,
            "keys": len(state_keys), "patterns": patterns, "patterns_ok": all(p["ok"] for p in patterns),
        })
    return {"components": rows, "ok": all(r["patterns_ok"] and r["within_1pct"] is not False for r in rows)}


def _folder_models(root: Path) -> dict[str, tuple[torch.nn.Module, object]]:
    from engine.neural.audio_models import audio2mesh_from_state, audio2pose_from_state, wav2vec2_settings
    from engine.neural.lmk2video import build_models, read_configs

    out = {}
    if all(layout.find(root, c) is not None for c in ("unet_config", "vae_config", "image_encoder_config")):
        unet, vae, clip, extra = read_configs(root)
        out.update(_split(build_models(unet, vae, clip, extra, meta=True)))
    if layout.find(root, "wav2vec2_config") is not None:
        w2v, _ = wav2vec2_settings(root)
        extra = configs.overrides(layout.read_overrides(root))["audio2pose"]
        for name, make in (("audio2mesh", lambda s: audio2mesh_from_state(s, w2v)),
                           ("audio2pose", lambda s: audio2pose_from_state(s, w2v, extra))):
            path = layout.find(root, name)
            if path is not None:
                shapes = {k: v for k, v in read_state_dict(path).items() if k in ("in_fn.weight", "out_fn.weight",
                                                                                   "id_embed.weight")
                          or k.startswith("transformer_decoder.layers.")}
                out[name] = (build_on_meta(lambda s=shapes, m=make: m(s)), None)
    return out


FILES = {"denoising_unet": "denoising_unet", "motion_modules": "motion_modules", "reference_unet": "reference_unet",
         "pose_guider": "pose_guider", "vae": "vae", "image_encoder": "image_encoder", "audio2mesh": "audio2mesh",
         "audio2pose": "audio2pose"}


def check_folder(folder: str | Path) -> dict:
    """Every expected file found or missing, each checkpoint checked against its model, parameters per part."""
    root = layout.resolve_root(folder)
    report = {"folder": str(root), "files": [], "components": [], "problems": []}
    if not root.is_dir():
        report["problems"].append(f"{layout.no_folder(folder)}; {layout.LAYOUT_TEXT}")
        report["ok"] = False
        return report
    for e in layout.ENTRIES:
        path = layout.find(root, e.component)
        report["files"].append({"component": e.component, "path": str(path.relative_to(root)) if path else
                                " | ".join(e.alternatives), "found": path is not None, "optional": e.optional,
                                "bytes": path.stat().st_size if path else None, "used_by": list(e.users),
                                "note": e.note, "folder": None if path else layout.folder_in_place(root, e.component)})
    gone = [f["path"] + (f" ({f['folder']} is a folder, not a file)" if f["folder"] else "")
            for f in report["files"] if not f["found"] and not f["optional"]]
    if gone:
        report["problems"].append(f"missing {', '.join(gone)}; {layout.LAYOUT_TEXT}")
    try:
        models = _folder_models(root)
    except (ValueError, TypeError, ZeroDivisionError, CheckpointError) as exc:  # (a group count of 0 in torch)
        models = {}
        report["problems"].append(f"the configs cannot build the models: {exc}")
    except KeyError as exc:  # (a traceback)
        models = {}
        report["problems"].append(f"the configs cannot build the models: a config lacks the field {exc.args[0]!r}")
    for name, (net, keys) in models.items():
        path = layout.find(root, FILES[name])
        row = {"component": name, "file": str(path.relative_to(root)) if path else None,
               "params_m": round(_params(net, keys) / 1e6, 3),
               "reference_params_m": configs.REFERENCE_PARAMS_M.get(name), "status": "missing", "problem": None}
        if path is not None:
            expected = {k: s for k, s in expected_shapes(net).items() if keys is None or keys(k)}
            try:
                state = canonical_keys(read_state_dict(path), set(expected_shapes(net)))
                if name == "denoising_unet":  # motion keys may also live here; motion_module.pth is checked alone
                    state = {k: v for k, v in state.items() if keys(k)}
                check_state(expected, state, row["file"])
                row["status"] = "ok"
            except CheckpointError as exc:
                row["status"], row["problem"] = "mismatch", str(exc)
                report["problems"].append(str(exc))
        report["components"].append(row)
    # Weight files no model could be built for yet (its config is missing) are still read: a corrupt download shows
    # now, not after the other files are in place.
    checked = {c["file"] for c in report["components"]}
    for f in report["files"]:
        loaded = f["component"] in FILES.values()  # not the optional files Talkline never loads (film_net)
        if f["found"] and loaded and f["path"] not in checked and Path(f["path"]).suffix in layout.WEIGHT_SUFFIXES:
            try:
                read_state_dict(root / f["path"])
            except CheckpointError as exc:
                f["unreadable"] = True
                report["problems"].append(str(exc))
    report["ok"] = not report["problems"]
    return report


def format_report(report: dict) -> str:
    lines = []
    if "folder" in report:
        lines.append(f"weights folder: {report['folder']}")
        for f in report["files"]:
            state = ("UNREADABLE" if f.get("unreadable") else "found") if f["found"] else (
                "a folder, not a file" if f["folder"] else "absent (optional)" if f["optional"] else "MISSING")
            size = f"  {f['bytes'] / 1e6:9.1f} MB" if f["bytes"] is not None else ""
            lines.append(f"  {f['path']:<58} {state}{size}" + (f"  ({f['note']})" if f["note"] else ""))
        if report["components"]:
            lines.append("checkpoints:")
        for c in report["components"]:
            ref = f" (reference {c['reference_params_m']} M)" if c["reference_params_m"] else ""
            lines.append(f"  {c['component']:<16} {c['status']:<9} {c['params_m']:10.3f} M params{ref}")
            if c["problem"]:
                lines.append(f"    {c['problem']}")
    if "describe" in report:
        lines.append("full-size architectures (meta device):")
        for c in report["describe"]["components"]:
            ref = c["reference_params_m"]
            cmp = f" vs reference {ref} M ({'within 1 %' if c['within_1pct'] else 'OFF BY MORE THAN 1 %'})" if ref \
                else ""
            pats = "key patterns ok" if c["patterns_ok"] else "KEY PATTERNS DIFFER: " + ", ".join(
                p["pattern"] for p in c["patterns"] if not p["ok"])
            lines.append(f"  {c['component']:<16} {c['params_m']:10.3f} M{cmp}; {c['keys']} keys, {pats}")
    for p in report.get("problems", []):
        lines.append(f"problem: {p}")
    lines.append("ok" if report.get("ok", True) else "NOT OK")
    return "\n".join(lines)


def run(folder: str | None, *, want_describe: bool = False) -> dict:
    """The `models check` report (folder check, plus the full-size description when asked)."""
    report = check_folder(folder) if folder else {"problems": [], "ok": True}
    if want_describe:
        report["describe"] = describe()
        report["ok"] = report["ok"] and report["describe"]["ok"]
    return report
