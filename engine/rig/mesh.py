"""Topology and field tools on MediaPipe's canonical face mesh, for building the expression rig.

The canonical mesh is closed over the eyes and the mouth (triangles span the openings), so every tool
here works on a graph with the opening edges cut: a falloff must not leak from the upper lip into the
lower one, nor from an upper eyelid into the lower one.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.sparse.linalg import spsolve

from engine.face.contours import (
    LIPS_OUTER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_INNER_LOWER,
    MOUTH_CORNER_RIGHT,
    MOUTH_CORNER_LEFT,
    EYE_RIGHT_UPPER,
    EYE_RIGHT_LOWER,
    EYE_LEFT_UPPER,
    EYE_LEFT_LOWER,
    NOSE_TIP,
)


def _pairs_between(adjacency: list[set[int]], a: tuple[int, ...], b: tuple[int, ...]) -> set[tuple[int, int]]:
    """Edges joining the open (corner-free) parts of two loops: the triangles spanning an opening."""
    inner_a, inner_b = set(a[1:-1]), set(b[1:-1])
    return {(min(i, j), max(i, j)) for i in inner_a for j in adjacency[i] if j in inner_b}


@dataclass(frozen=True)
class FaceGraph:
    vertices: np.ndarray  # (468, 3) float64 cm
    triangles: np.ndarray  # (F, 3)

    @cached_property
    def adjacency(self) -> list[set[int]]:
        adj: list[set[int]] = [set() for _ in range(len(self.vertices))]
        for a, b, c in self.triangles:
            for i, j in ((a, b), (b, c), (c, a)):
                adj[i].add(int(j))
                adj[j].add(int(i))
        return adj

    @cached_property
    def opening_edges(self) -> set[tuple[int, int]]:
        """Edges spanning the mouth and eye openings (across the gap, not along the lips/lids)."""
        adj = self.adjacency
        return (
            _pairs_between(adj, LIPS_INNER_UPPER, LIPS_INNER_LOWER)
            | _pairs_between(adj, EYE_RIGHT_UPPER, EYE_RIGHT_LOWER)
            | _pairs_between(adj, EYE_LEFT_UPPER, EYE_LEFT_LOWER)
        )

    @cached_property
    def edges(self) -> np.ndarray:
        """(E, 2) surface edges, the opening edges excluded."""
        cut = self.opening_edges
        pairs = sorted({(min(i, j), max(i, j)) for i, nb in enumerate(self.adjacency) for j in nb} - cut)
        return np.asarray(pairs, dtype=np.int64)

    @cached_property
    def edge_lengths(self) -> np.ndarray:
        e = self.edges
        return np.linalg.norm(self.vertices[e[:, 0]] - self.vertices[e[:, 1]], axis=1)

    def _matrix(self, values: np.ndarray) -> csr_matrix:
        n = len(self.vertices)
        e = self.edges
        rows = np.concatenate([e[:, 0], e[:, 1]])
        cols = np.concatenate([e[:, 1], e[:, 0]])
        return coo_matrix((np.concatenate([values, values]), (rows, cols)), shape=(n, n)).tocsr()

    def geodesic(self, sources) -> np.ndarray:
        """(468,) shortest surface-path distance (cm) to the nearest source vertex; openings not crossed."""
        d = dijkstra(self._matrix(self.edge_lengths), directed=False, indices=list(sources), min_only=True)
        return np.asarray(d)

    @cached_property
    def mirror(self) -> np.ndarray:
        """(468,) index of each vertex's mirror image (x -> -x nearest neighbour)."""
        flipped = self.vertices * np.array([-1.0, 1.0, 1.0])
        d = np.linalg.norm(self.vertices[None, :, :] - flipped[:, None, :], axis=2)
        return np.argmin(d, axis=1)

    @cached_property
    def normals(self) -> np.ndarray:
        """(468, 3) unit vertex normals (area weighted), pointing out of the face (+z at the nose tip)."""
        v, t = self.vertices, self.triangles
        face_n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
        n = np.zeros_like(v)
        for k in range(3):
            np.add.at(n, t[:, k], face_n)
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        return n if n[NOSE_TIP, 2] > 0 else -n

    def harmonic_fill(self, fixed: dict[int, np.ndarray] | np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """Smoothest interpolation of values given on `fixed` vertices over the rest of the mesh.

        Solves the graph Laplace equation (weights 1/edge length, openings cut) with the fixed vertices as
        Dirichlet constraints. Positive weights keep the result within the range of the constraints (no
        overshoot), which is what makes blended displacement fields tear-free. values: (n_fixed,) or
        (n_fixed, C); returns (468,) or (468, C).
        """
        idx = np.asarray(fixed, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        n = len(self.vertices)
        w = self._matrix(1.0 / self.edge_lengths)
        lap = (coo_matrix((np.asarray(w.sum(axis=1)).ravel(), (np.arange(n), np.arange(n))), shape=(n, n)) - w).tocsr()
        free = np.setdiff1d(np.arange(n), idx)
        out = np.zeros((n,) + vals.shape[1:])
        out[idx] = vals
        if len(free):
            rhs = -lap[free][:, idx] @ vals
            out[free] = np.asarray(spsolve(lap[free][:, free].tocsc(), rhs)).reshape((len(free),) + vals.shape[1:])
        return out

    def components(self, keep: np.ndarray) -> tuple[int, np.ndarray]:
        """Connected components of the sub-graph on vertices where keep is True (openings cut)."""
        e = self.edges
        ok = keep[e[:, 0]] & keep[e[:, 1]]
        n = len(keep)
        graph = coo_matrix((np.ones(ok.sum()), (e[ok, 0], e[ok, 1])), shape=(n, n))
        return connected_components(graph, directed=False)


@dataclass(frozen=True)
class LipRegions:
    upper: np.ndarray  # (468,) bool: upper lip red, inner and outer contours included
    lower: np.ndarray  # (468,) bool
    corners: np.ndarray  # (468,) bool: the corner columns shared by both lips


def lip_regions(graph: FaceGraph) -> LipRegions:
    """Label the lip vertices: those enclosed by the outer lip loop, split at the mouth opening."""
    n = len(graph.vertices)
    corners = np.zeros(n, bool)
    corners[list(MOUTH_CORNER_RIGHT + MOUTH_CORNER_LEFT)] = True
    outer = np.zeros(n, bool)
    outer[list(LIPS_OUTER_UPPER + LIPS_OUTER_LOWER)] = True
    # Everything reachable from the mouth centre without crossing the outer loop or the corner columns.
    keep = ~(outer | corners)
    _, labels = graph.components(keep)
    upper = (labels == labels[13]) & keep
    lower = (labels == labels[14]) & keep
    if upper[14] or lower[13]:
        raise ValueError("lip labelling failed: upper and lower lips are connected")
    upper[list(LIPS_OUTER_UPPER[1:-1])] = True
    lower[list(LIPS_OUTER_LOWER[1:-1])] = True
    return LipRegions(upper=upper, lower=lower, corners=corners)
