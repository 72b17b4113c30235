"""The expression rig: ARKit-style controls as linear displacement fields on the canonical mesh, fitted to a
face, and the rest pose of a portrait's mouth. Above engine.face, below everything that animates a face."""
from engine.rig.rig import CONTROLS, Rig, fit_to_face, load_rig

__all__ = ["CONTROLS", "Rig", "fit_to_face", "load_rig"]
