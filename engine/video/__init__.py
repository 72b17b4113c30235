"""The video modes: dubbing (lip-sync an existing video to new audio: only the lower face is regenerated) and
reenactment (a portrait driven by a tracked video). Both turn a face track into an ordinary base layer, so the
document's keys and gains, the exports and every renderer apply unchanged."""
