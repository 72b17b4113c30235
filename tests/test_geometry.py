import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from engine.face.canonical import load_canonical_model
from engine.face.landmarker import FaceLandmarkerSession
from engine.face.images import load_image
from engine.geometry import (FOCAL, canonical_from_metric, matrix_to_pose, pose_to_matrix, project,
                             project_camera_points, screen_to_metric, weighted_procrustes)
from tests.media import media


def test_pose_matrix_round_trip():
    rng = np.random.default_rng(0)
    poses = np.concatenate([rng.uniform(-60, 60, (50, 3)), rng.uniform(-5, 5, (50, 3))], axis=1)
    mats = pose_to_matrix(poses)
    assert mats.shape == (50, 4, 4)
    np.testing.assert_allclose(matrix_to_pose(mats), poses, atol=1e-9)


def test_pose_is_extrinsic_xyz_in_degrees():
    rx, ry, rz = 10.0, 20.0, 30.0
    def rot(axis, deg):
        return Rotation.from_rotvec(np.radians(deg) * np.eye(3)[axis]).as_matrix()
    expected = rot(2, rz) @ rot(1, ry) @ rot(0, rx)  # extrinsic x, then y, then z
    m = pose_to_matrix(np.array([rx, ry, rz, 1.0, 2.0, 3.0]))
    np.testing.assert_allclose(m[:3, :3], expected, atol=1e-12)
    np.testing.assert_allclose(m[:3, 3], [1, 2, 3])
    # 90 degrees about z maps +x onto +y
    np.testing.assert_allclose(pose_to_matrix(np.array([0, 0, 90, 0, 0, 0]))[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_projection_uses_mediapipe_camera():
    # On the optical axis -> frame centre; at the top of the 63 degree vertical FOV -> top row (y flipped).
    z = -30.0
    top = np.array([[0.0, -z / FOCAL, z]])
    px = project_camera_points(np.array([[0.0, 0.0, z]]), 512, 512)
    np.testing.assert_allclose(px, [[256, 256]])
    v = project_camera_points(top, 512, 512)[0, 1]
    assert abs(v - 0.0) < 0.05  # 1.0001 * w of the reference projection: 0.026 px from the edge
    # aspect: the horizontal scale is divided by W/H
    right = np.array([[-z / FOCAL, 0.0, z]])
    assert abs(project_camera_points(right, 1024, 512)[0, 0] - (512 + 256)) < 0.1


def test_weighted_procrustes_recovers_similarity():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(60, 3))
    rot = Rotation.from_euler("xyz", [12, -30, 5], degrees=True).as_matrix()
    dst = 1.7 * src @ rot.T + np.array([3.0, -2.0, 40.0])
    sim = weighted_procrustes(src, dst, rng.uniform(0.1, 1.0, 60))
    assert abs(sim.scale - 1.7) < 1e-9
    np.testing.assert_allclose(sim.rotation, rot, atol=1e-9)
    np.testing.assert_allclose(sim.translation, [3, -2, 40], atol=1e-9)


@pytest.fixture(scope="module")
def detection():
    image = load_image(media("portraits/AniPortrait__Aragaki.png"))
    with FaceLandmarkerSession() as session:
        return image, session.detect(image)[0]


def test_screen_to_metric_matches_mediapipe_transform(detection):
    image, face = detection
    h, w = image.shape[:2]
    model = load_canonical_model()
    metric, transform = screen_to_metric(face.landmarks[:468], w, h, model.vertices, model.procrustes_weights)
    # Our re-implementation of the face-geometry pipeline agrees with MediaPipe's own matrix.
    np.testing.assert_allclose(transform, face.transform, atol=2e-3)
    canonical = canonical_from_metric(metric, face.transform)
    px = project(canonical, face.transform, np.zeros(6), w, h)
    assert np.linalg.norm(px - face.pixels(w, h)[:468], axis=1).mean() < 0.05


def test_project_is_vectorised_over_frames(detection):
    image, face = detection
    h, w = image.shape[:2]
    mesh = load_canonical_model().vertices
    poses = np.array([[0, 0, 0, 0, 0, 0], [0, 20, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0.0]])
    batch = project(np.repeat(mesh[None], 3, 0), face.transform, poses, w, h)
    for i in range(3):
        np.testing.assert_allclose(batch[i], project(mesh, face.transform, poses[i], w, h))
    # a +1 cm canonical x translation moves the face sideways in the image, not vertically
    shift = (batch[2] - batch[0]).mean(axis=0)
    assert abs(shift[0]) > 5 * abs(shift[1])
