"""The shared k-means: seeding, Lloyd, weighted points, and the fp16 histogram used for uniquification."""

from __future__ import annotations

import torch

from compression.clustering import fp16_histogram, kmeans, nearest


def test_kmeans_recovers_separated_clusters() -> None:
    g = torch.Generator().manual_seed(1)
    centers = torch.tensor([[-5.0, 0.0], [0.0, 5.0], [5.0, 0.0]])
    x = torch.cat([c + 0.1 * torch.randn(200, 2, generator=g) for c in centers])
    res = kmeans(x, 3, seed=0)
    found = res.centroids[res.centroids[:, 0].argsort()]
    assert torch.allclose(found, centers[centers[:, 0].argsort()], atol=0.05)
    # every point of one true cluster shares one label
    labels = res.assignments.reshape(3, 200)
    assert all(int(row.unique().numel()) == 1 for row in labels)
    assert int(labels[:, 0].unique().numel()) == 3


def test_assignments_are_nearest_centroids_and_inertia_matches() -> None:
    x = torch.randn(500, 3, generator=torch.Generator().manual_seed(2))
    res = kmeans(x, 7, seed=3)
    idx, dist = nearest(x, res.centroids)
    assert torch.equal(idx, res.assignments)
    assert abs(float(dist.sum()) - res.inertia) < 1e-3 * res.inertia


def test_weighted_points_equal_repeated_points() -> None:
    values = torch.tensor([[0.0], [1.0], [1.1], [5.0], [5.2], [9.0]])
    counts = torch.tensor([3.0, 1.0, 2.0, 4.0, 1.0, 2.0])
    repeated = values.repeat_interleave(counts.long(), dim=0)
    init = torch.tensor([[0.5], [4.0], [8.0]])
    weighted = kmeans(values, 3, weights=counts, init=init)
    plain = kmeans(repeated, 3, init=init)
    assert torch.allclose(weighted.centroids, plain.centroids, atol=1e-6)
    assert abs(weighted.inertia - plain.inertia) < 1e-5


def test_kmeans_is_deterministic_per_seed() -> None:
    x = torch.randn(300, 1, generator=torch.Generator().manual_seed(4))
    assert torch.equal(kmeans(x, 5, seed=9).centroids, kmeans(x, 5, seed=9).centroids)


def test_more_clusters_than_distinct_points_still_assigns_everything() -> None:
    x = torch.tensor([[1.0], [1.0], [2.0], [2.0]])
    res = kmeans(x, 4, seed=0)
    assert res.centroids.shape == (4, 1)
    assert torch.equal(res.centroids[res.assignments], x)


def test_fp16_histogram_round_trips_small_and_large() -> None:
    g = torch.Generator().manual_seed(5)
    for n in (100, 20000):  # below and above the sort/bincount switch
        w = torch.randn(n, generator=g) * 0.05
        w[:10] = 0.0
        w[10:20] = -0.0
        table, counts, index = fp16_histogram(w)
        assert torch.equal(table[index], w.half().float())
        assert int(counts.sum()) == n
        assert table.numel() == torch.unique(w.half().view(torch.int16)).numel()
        # every table entry is used as often as it says
        assert torch.equal(torch.bincount(index, minlength=table.numel()).float(), counts)
