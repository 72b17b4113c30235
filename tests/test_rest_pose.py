import numpy as np
import pytest
from skimage.data import astronaut

from engine.face.reference import analyze_portrait
from engine.face.rest_pose import _gaps
from tests.media import media


def test_parted_lips_rest_closed_and_keep_the_smile():
    ref = analyze_portrait(astronaut())  # smiling, teeth showing
    before, after = _gaps(ref.mesh), _gaps(ref.rest_mesh)
    assert before.mean() > 0.5
    assert np.all(np.abs(after) < 0.12)
    # only the mouth region moves: eyes, brows and the face outline stay
    moved = np.linalg.norm(ref.rest_mesh - ref.mesh, axis=1)
    for idx in (33, 263, 105, 334, 10, 234, 454):
        assert moved[idx] < 0.05
    # the smile stays: mouth corners move far less than the lip centres
    assert moved[[61, 291]].max() < moved[[13, 14]].max()


@pytest.mark.parametrize("rel", ["portraits/hallo__6.jpg", "portraits/AniPortrait__lyl.png"])
def test_closed_lips_need_no_correction(rel):
    ref = analyze_portrait(media(rel))
    np.testing.assert_array_equal(ref.rest_mesh, ref.mesh)
