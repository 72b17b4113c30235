import numpy as np
import pytest
from skimage.data import astronaut

from engine.rig.rest_pose import _gaps
from engine.sources.portrait import PortraitSource
from tests.media import media


def analyze(image):
    source = PortraitSource.analyze(image)
    return source.reference, source.fitted


def test_parted_lips_rest_closed_and_keep_the_smile():
    ref, fitted = analyze(astronaut())  # smiling, teeth showing
    before, after = _gaps(ref.mesh), _gaps(fitted.rest_mesh)
    assert before.mean() > 0.5
    assert np.all(np.abs(after) < 0.12)
    # only the mouth region moves: eyes, brows and the face outline stay
    moved = np.linalg.norm(fitted.rest_mesh - ref.mesh, axis=1)
    for idx in (33, 263, 105, 334, 10, 234, 454):
        assert moved[idx] < 0.05
    # the smile stays: mouth corners move far less than the lip centres
    assert moved[[61, 291]].max() < moved[[13, 14]].max()


@pytest.mark.parametrize("rel", ["portraits/hallo__6.jpg", "portraits/AniPortrait__lyl.png"])
def test_closed_lips_need_no_correction(rel):
    ref, fitted = analyze(media(rel))
    np.testing.assert_array_equal(fitted.rest_mesh, ref.mesh)


def test_fitted_rig_closes_this_faces_eyes():
    from engine.rig import load_rig

    _, face = analyze(media("portraits/hallo__6.jpg"))  # eyes wider than the canonical face's
    blink = {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}
    canonical = face.rest_mesh + load_rig().offsets_frame(blink)
    fitted = face.rest_mesh + face.rig.offsets_frame(blink)
    for upper, lower in ((386, 374), (159, 145)):
        assert canonical[upper, 1] - canonical[lower, 1] > 0.15  # a canonical blink leaves a slit
        assert abs(fitted[upper, 1] - fitted[lower, 1]) < 0.03
    # everything but the lids is the canonical rig
    other = [i for i, name in enumerate(face.rig.controls) if not name.startswith("eyeBlink")]
    np.testing.assert_array_equal(face.rig.basis[other], load_rig().basis[other])
