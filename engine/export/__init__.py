"""Writers: MP4 (H.264 + AAC), side-by-side grid, PNG sequences, landmark npz, AniPortrait pose templates."""
from engine.export.frames import PngSequenceWriter, write_png
from engine.export.grid import side_by_side
from engine.export.landmarks import LandmarkFileError, LandmarkSequence, load_landmarks_npz, save_landmarks_npz
from engine.export.pose_template import load_pose_template, save_pose_template
from engine.export.video import VideoWriter, fps_fraction

__all__ = ["VideoWriter", "fps_fraction", "side_by_side", "PngSequenceWriter", "write_png", "LandmarkSequence",
           "LandmarkFileError", "save_landmarks_npz", "load_landmarks_npz", "save_pose_template",
           "load_pose_template"]
