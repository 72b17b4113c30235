"""Writers: MP4 (H.264 + AAC), PNG sequences, landmark npz, AniPortrait pose templates."""
