"""k-means weight sharing (Han, Mao, Dally: Deep Compression, ICLR 2016) and its no-retraining row-wise variant.

`KMeans`: per-layer k-means (k-means++ seeding), every weight replaced by its centroid; during training only the
centroids learn, each from the sum of the gradients of the weights that share it. `KMeansWR`: row-wise k-means on the
trained weights without re-training (the "WR" baseline of Deep k-Means), used through `compress()`.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils import parametrize

from compression.base import Compressor, as_vectors, snap, vector_length
from compression.clustering import kmeans
from compression.config import KMeansConfig, KMeansLayerConfig


class SharedWeight(nn.Module):
    """Parametrization: weight = codebook_[assignments_]; the codebook gets the summed gradients of its weights."""

    def __init__(self, codebook: Tensor, assignments: Tensor, train_centroids: bool = True) -> None:
        super().__init__()
        self.codebook_ = nn.Parameter(codebook.clone(), requires_grad=train_centroids)
        self.register_buffer("assignments_", assignments.clone())

    def forward(self, original: Tensor) -> Tensor:
        return self.codebook_[self.assignments_].reshape(original.shape)


class KMeans(Compressor[KMeansConfig]):
    """Deep Compression weight sharing: prepare() clusters, training fine-tunes centroids, finalize() records."""

    method = "kmeans"
    config_class = KMeansConfig

    def __init__(self, model: nn.Module, config: KMeansConfig | None = None) -> None:
        super().__init__(model, config)
        self._dims: dict[str, int] = {}

    def prepare(self) -> nn.Module:
        for name, module, cfg in self.config.targets(self.model):
            d = vector_length(module, cfg.cluster_dim)
            x = as_vectors(module.weight.detach(), d)
            res = kmeans(x, min(cfg.clusters, x.shape[0]), self.config.seed, max_iter=cfg.max_iter)
            module.weight.requires_grad_(False)
            parametrize.register_parametrization(
                module, "weight", SharedWeight(res.centroids, res.assignments, cfg.train_centroids)
            )
            self._dims[name] = d
        return self.model

    def finalize(self) -> nn.Module:
        modules = dict(self.model.named_modules())
        for name, d in self._dims.items():
            module = modules[name]
            shared: SharedWeight = module.parametrizations.weight[0]
            self.layers_[name] = snap(name, module, shared.codebook_, shared.assignments_, d, self.method)
        return self.model


class KMeansWR(KMeans):
    """Row-wise k-means on trained weights without re-training (Deep k-Means' WR baseline); use compress()."""

    method = "kmeans-wr"

    @staticmethod
    def default_config(clusters: int, seed: int = 0) -> KMeansConfig:
        return KMeansConfig(global_config=KMeansLayerConfig(clusters=clusters, cluster_dim="row"), seed=seed)

    def __init__(self, model: nn.Module, config: KMeansConfig | None = None) -> None:
        super().__init__(model, config if config is not None else self.default_config(16))
