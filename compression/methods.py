"""Names of the compression methods and datasets, importable without torch (for a fast command line)."""

from __future__ import annotations

METHODS: tuple[str, ...] = ("kmeans", "kmeans-wr", "deep-kmeans", "dkm", "uniform")
BUILTIN_MODELS: tuple[str, ...] = ("lenet5", "resnet20")
BUNDLED_DATASETS: tuple[str, ...] = ("mnist5k", "digits")
PATH_DATASETS: tuple[str, ...] = ("cifar10", "imagefolder")
DATASETS: tuple[str, ...] = BUNDLED_DATASETS + PATH_DATASETS

# Version of the compression (re-)training defaults. Studies key their cached compression jobs by it, so a change of
# defaults re-runs them instead of mixing old results with new. 2: distillation from the float model.
RECIPE_VERSION = 2
DISTILL = 0.5  # the recipe's weight of distillation from the float model (compression.training.FINETUNE)
