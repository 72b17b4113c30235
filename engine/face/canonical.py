"""MediaPipe's canonical face model, read from the landmarker's .task bundle.

The bundle is a zip; geometry_pipeline_metadata_landmarks.binarypb is a GeometryPipelineMetadata
protobuf: field 1 = Mesh3d (field 3 = vertex buffer, 468 x (x, y, z, u, v) in cm; field 4 = index
buffer, 898 triangles), repeated field 2 = WeightedLandmarkRef (1: landmark id, 2: Procrustes weight).
A minimal wire-format reader keeps us free of a protobuf schema dependency.
"""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.face.model_file import face_landmarker_path

METADATA_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"
NUM_VERTICES = 468


@dataclass(frozen=True)
class CanonicalFaceModel:
    vertices: np.ndarray  # (468, 3) float64, cm, canonical metric space
    uv: np.ndarray  # (468, 2) texture coordinates
    triangles: np.ndarray  # (898, 3) int32 vertex indices
    procrustes_weights: np.ndarray  # (468,) float64, non-zero on the 33 basis landmarks


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """Yields (field_number, wire_type, value) where value is int (varint/fixed) or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _packed_varints(buf: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(buf):
        v, pos = _varint(buf, pos)
        out.append(v)
    return out


def parse_geometry_metadata(data: bytes) -> CanonicalFaceModel:
    vertex_buffer: list[float] = []
    indices: list[int] = []
    weights = np.zeros(NUM_VERTICES)
    for field, wire, value in _fields(data):
        if field == 1 and wire == 2:
            for f, w, v in _fields(value):
                if f == 3:
                    if w == 2:
                        vertex_buffer.extend(struct.unpack(f"<{len(v) // 4}f", v))
                    else:
                        vertex_buffer.append(struct.unpack("<f", v)[0])
                elif f == 4:
                    indices.extend(_packed_varints(v) if w == 2 else [v])
        elif field == 2 and wire == 2:
            landmark_id, weight = 0, 0.0
            for f, w, v in _fields(value):
                if f == 1:
                    landmark_id = v
                elif f == 2:
                    weight = struct.unpack("<f", v)[0]
            weights[landmark_id] = weight
    buf = np.asarray(vertex_buffer, dtype=np.float64).reshape(-1, 5)
    if buf.shape[0] != NUM_VERTICES or len(indices) % 3:
        raise ValueError("unexpected canonical face mesh layout in the landmarker bundle")
    return CanonicalFaceModel(
        vertices=buf[:, :3].copy(),
        uv=buf[:, 3:5].copy(),
        triangles=np.asarray(indices, dtype=np.int32).reshape(-1, 3),
        procrustes_weights=weights,
    )


@lru_cache(maxsize=None)
def load_canonical_model(task_path: str | None = None) -> CanonicalFaceModel:
    path = Path(task_path) if task_path else face_landmarker_path()
    with zipfile.ZipFile(path) as bundle:
        return parse_geometry_metadata(bundle.read(METADATA_MEMBER))
