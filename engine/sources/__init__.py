"""What a project animates and hears: the face source (a still portrait, or a tracked video for dubbing) and the
audio source. Above engine.rig (a source fits the rig to its face), below the backends."""
