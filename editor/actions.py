"""Every menu action of the editor as data: (menu, id, title, shortcut, handler method of MainWindow).
The main window builds QActions from this table, so menus, shortcuts and tests share one source."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    id: str
    menu: str
    title: str
    shortcut: str | None
    handler: str  # MainWindow method name
    arg: object = None  # passed to the handler when not None
    checkable: bool = False
    tip: str = ""  # tooltip / status tip


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("new", "&File", "&New Project…", "Ctrl+N", "new_project"),
    ActionSpec("open", "&File", "&Open…", "Ctrl+O", "open_project_dialog"),
    ActionSpec("open_demo", "&File", "Open &Demo", None, "open_demo"),
    ActionSpec("save", "&File", "&Save", "Ctrl+S", "save"),
    ActionSpec("save_as", "&File", "Save &As…", "Ctrl+Shift+S", "save_as"),
    ActionSpec("relink_audio", "&File", "Relink &Audio…", None, "relink_audio"),
    ActionSpec("relink_video", "&File", "Relink &Video…", None, "relink_video",
               tip="A dub's video moved: locate it (it must be the video the project tracked)"),
    ActionSpec("replace_portrait", "&File", "&Replace Portrait…", None, "replace_portrait",
               tip="Animate another face with this project's motion and keys (found and framed as the first one "
                   "was; one undo step)"),
    ActionSpec("export_livelink", "&File", "&Export Live Link Face CSV…", None, "export_livelink",
               tip="Write the evaluated controls and head rotation as a Live Link Face CSV (ARKit blendshapes, "
                   "timecode at the project's frame rate) for Unreal, Blender or Maya"),
    ActionSpec("import_livelink", "&File", "&Import Live Link Face CSV…", None, "import_livelink",
               tip="Turn a Live Link Face capture into ordinary keys from the playhead on (the channels' results "
                   "follow the capture; one undo step)"),
    ActionSpec("import_performance", "&File", "Import &Performance from Video…", None, "import_performance",
               tip="Track the face in a video of a performer and turn its expressions (ARKit blendshapes) and "
                   "head rotation into ordinary keys from the playhead on (one undo step)"),
    ActionSpec("quit", "&File", "&Quit", "Ctrl+Q", "close"),

    ActionSpec("undo", "&Edit", "&Undo", "Ctrl+Z", "undo"),
    ActionSpec("redo", "&Edit", "&Redo", "Ctrl+Shift+Z", "redo"),
    ActionSpec("set_key", "&Edit", "Set &Key on Selected Channels", "S", "set_key_on_selection"),
    ActionSpec("delete_keys", "&Edit", "&Delete Selected Keys", "Delete", "delete_keys"),
    ActionSpec("copy_keys", "&Edit", "&Copy Keys", "Ctrl+C", "copy_keys"),
    ActionSpec("paste_keys", "&Edit", "&Paste Keys at Playhead", "Ctrl+V", "paste_keys"),
    ActionSpec("scale_keys", "&Edit", "Sc&ale Selected Keys Around Playhead…", None, "scale_keys_dialog",
               tip="Stretch or squeeze the timing of the selected keys around the playhead (Ctrl+drag in the "
                   "dope sheet does it with the mouse)"),
    ActionSpec("interp_constant", "&Edit/Key &Interpolation", "Constant", None, "set_interpolation", "constant"),
    ActionSpec("interp_linear", "&Edit/Key &Interpolation", "Linear", None, "set_interpolation", "linear"),
    ActionSpec("interp_bezier", "&Edit/Key &Interpolation", "Bezier", None, "set_interpolation", "bezier"),
    ActionSpec("interp_ease_in", "&Edit/Key &Interpolation", "Ease In", None, "set_interpolation", "ease_in"),
    ActionSpec("interp_ease_out", "&Edit/Key &Interpolation", "Ease Out", None, "set_interpolation", "ease_out"),
    ActionSpec("interp_ease_in_out", "&Edit/Key &Interpolation", "Ease In-Out", None, "set_interpolation",
               "ease_in_out"),

    ActionSpec("play", "&Playback", "&Play / Pause", "Space", "set_playing", checkable=True,
               tip="Play from the playhead (over the in/out range when there is one); again to pause"),
    ActionSpec("shuttle_back", "&Playback", "Shuttle &Reverse", "J", "shuttle", -1),
    ActionSpec("stop", "&Playback", "&Stop", "K", "stop"),
    ActionSpec("shuttle_fwd", "&Playback", "Shuttle &Forward", "L", "shuttle", 1),
    ActionSpec("prev_frame", "&Playback", "Previous Frame", "Left", "step_frames", -1),
    ActionSpec("next_frame", "&Playback", "Next Frame", "Right", "step_frames", 1),
    ActionSpec("back_second", "&Playback", "Back One Second", "Shift+Left", "step_seconds", -1.0),
    ActionSpec("fwd_second", "&Playback", "Forward One Second", "Shift+Right", "step_seconds", 1.0),
    ActionSpec("next_key", "&Playback", "Next Key", "Up", "jump_key", 1),
    ActionSpec("prev_key", "&Playback", "Previous Key", "Down", "jump_key", -1),
    ActionSpec("set_in", "&Playback", "Set &In Point", "I", "set_in_point"),
    ActionSpec("set_out", "&Playback", "Set &Out Point", "O", "set_out_point"),
    ActionSpec("clear_in_out", "&Playback", "Clear In/Out", "Shift+I", "clear_in_out"),
    ActionSpec("go_in", "&Playback", "Go to &In Point", "[", "go_to_in_out", 0,
               tip="Move the playhead to the in point (the start without one)"),
    ActionSpec("go_out", "&Playback", "Go to O&ut Point", "]", "go_to_in_out", 1,
               tip="Move the playhead to the out point (the end without one)"),
    ActionSpec("loop", "&Playback", "&Loop", None, "set_loop", checkable=True,
               tip="Loop playback over the in/out range (the whole clip without one)"),

    ActionSpec("zoom_in", "&View", "Zoom Timeline &In", "=", "zoom_timeline", 0.5),
    ActionSpec("zoom_out", "&View", "Zoom Timeline &Out", "-", "zoom_timeline", 2.0),
    ActionSpec("zoom_fit", "&View", "&Fit Timeline", "\\", "fit_timeline"),
    ActionSpec("unit_frames", "&View/Time &Unit", "Frames", None, "set_time_unit", "frames"),
    ActionSpec("unit_timecode", "&View/Time &Unit", "Timecode", None, "set_time_unit", "timecode"),
    ActionSpec("unit_seconds", "&View/Time &Unit", "Seconds", None, "set_time_unit", "seconds"),
    ActionSpec("preview_render", "&View/&Preview", "Rendered Frame", None, "set_preview_mode", "render"),
    ActionSpec("preview_pose", "&View/&Preview", "Pose Image", None, "set_preview_mode", "pose image"),
    ActionSpec("preview_landmarks", "&View/&Preview", "Landmarks", None, "set_preview_mode", "landmarks"),
    ActionSpec("wireframe", "&View", "&Wireframe (3D)", "W", "set_wireframe", checkable=True),
    ActionSpec("frame_all", "&View", "Graph: Frame &All", "Home", "graph_frame_all"),
    ActionSpec("frame_selected", "&View", "Graph: Frame &Selected Keys", "F", "graph_frame_selected"),
    ActionSpec("normalise", "&View", "Graph: &Normalised View", None, "set_graph_normalised", checkable=True),

    ActionSpec("render", "&Render", "&Queue Render", "Ctrl+R", "queue_render"),
    ActionSpec("cancel_render", "&Render", "&Cancel Selected Render", None, "cancel_render"),
)
