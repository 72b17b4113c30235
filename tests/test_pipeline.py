"""The one project pipeline (analyse -> decode -> predict -> Project) with registered backends."""
import numpy as np
import pytest

from engine.document.project import Gains
from engine.errors import BackendError, Cancelled
from engine.export.pose_template import fit_pose_template, read_pose_template
from engine.pipeline import ProjectRequest, create_project, regenerate_base
from engine.plugins import Choice
from engine.sources.portrait import Framing
from tests.media import media
from tests.seams import FakeConfig

PORTRAIT = media("portraits/hallo__6.jpg")
UNCROPPED = media("portraits/EDTalk__uncrop_face.jpg")  # 840 x 1024
AUDIO = media("speech/Real3DPortrait__Obama_5s.wav")
TEMPLATE = media("pose_templates/AniPortrait__pose_temp.npy")


def test_request_options_reach_the_project(fake_backends):
    request = ProjectRequest(UNCROPPED, AUDIO, fps=25.0, framing=Framing(size=256, full_frame=True),
                             a2l=Choice("fake", FakeConfig(amplitude=0.3)), gains=Gains(lip=1.5, head=0.5))
    seen = []
    project = create_project(request, progress=seen.append)
    assert project.a2l == request.a2l and project.gains == Gains(lip=1.5, head=0.5)
    assert max(project.reference.width, project.reference.height) == 256
    assert project.reference.width != project.reference.height  # the whole (non-square) photo
    assert project.source.framing == Framing(256, True, None) and project.source.path == UNCROPPED
    assert project.frame_count == project.audio.frame_count(25.0)
    assert project.base.weights["jawOpen"].max() == pytest.approx(0.3, abs=0.01)
    assert project.base.phonemes == [] and project.pose_template is None
    assert seen == [0.5, 1.0]


def test_pose_template_drives_the_head_and_survives_regeneration(fake_backends):
    request = ProjectRequest(PORTRAIT, AUDIO, fps=30.0, framing=Framing(size=256),
                             a2l=Choice("fake", FakeConfig()), pose_template=TEMPLATE)
    project = create_project(request)
    expected = fit_pose_template(read_pose_template(TEMPLATE), project.frame_count, 30.0)
    np.testing.assert_array_equal(project.base.pose, expected)
    np.testing.assert_array_equal(project.pose_template, read_pose_template(TEMPLATE))
    again = regenerate_base(project, Choice("fake", FakeConfig(amplitude=0.1)))
    np.testing.assert_array_equal(again.pose, expected)
    assert again.weights["jawOpen"].max() == pytest.approx(0.1, abs=0.01)


def test_a_transcript_far_too_long_for_its_stretch_is_refused(fake_backends):
    """A right-click selected a 0.04 s phone while the user meant the in/out range: 14 typed words were forced
    into it without a word. More words than anyone can say there is refused; a plausible rate is re-aligned."""
    from engine.errors import UsageError
    from engine.pipeline import repredict_range

    project = create_project(ProjectRequest(PORTRAIT, AUDIO, fps=25.0, framing=Framing(size=128),
                                            a2l=Choice("fake", FakeConfig())))
    text = "we choose to go to the moon in this decade and do other things"
    with pytest.raises(UsageError, match="14 words in 0.04 s is faster than anyone speaks"):
        repredict_range(project, 0.18, 0.22, text)
    assert repredict_range(project, 0.2, 4.9, text).frame_count == project.frame_count
    with pytest.raises(UsageError, match="14 words in 0.50 s"):  # unspaced scripts count their characters
        repredict_range(project, 1.0, 1.5, "我们选择在这个十年里登上月球")


def test_cancel_and_unavailable_backends_stop_early(fake_backends):
    with pytest.raises(Cancelled):
        create_project(ProjectRequest(PORTRAIT, AUDIO, framing=Framing(size=128), a2l=Choice("fake", FakeConfig())),
                       cancel=lambda: True)
    # The backend is checked before the portrait is even read.
    with pytest.raises(BackendError, match="'needs_weights' cannot run here: needs a weights folder"):
        create_project(ProjectRequest("/missing.png", AUDIO, a2l=Choice("needs_weights", FakeConfig())))
    assert create_project(ProjectRequest(PORTRAIT, AUDIO, framing=Framing(size=128),
                                         a2l=Choice("needs_weights", FakeConfig(weights="/w")))).a2l.name == "needs_weights"


def test_audio_too_long_for_the_free_memory_is_refused_before_any_work(monkeypatch):
    from engine import limits
    from engine.errors import MemoryLimitError
    from engine.sources import portrait

    monkeypatch.setattr(limits, "free_memory_bytes", lambda: 600_000)  # ~37 frames' worth at 16 KB a frame
    monkeypatch.setattr(portrait, "analyze_portrait", lambda *a, **k: pytest.fail("analysed before the check"))
    with pytest.raises(MemoryLimitError, match=r"animating 5 s of audio needs about .* GB of memory, more than "
                                                r"the 0.0 GB free: split the audio into parts of at most 1 s"):
        create_project(ProjectRequest(PORTRAIT, AUDIO, fps=30.0, framing=Framing(size=128)))
