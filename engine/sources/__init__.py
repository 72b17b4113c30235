"""What a project animates and hears: the face source (a still portrait now; a tracked video with the video
modes) and the audio source. Above engine.rig (a source fits the rig to its face), below the backends."""
