"""Built-in, shape-only CNN workloads (ImageNet-size inputs, batch 1) as lists of conv/fc `Layer`s.

Pooling, activations, batch norm, residual adds and concatenations are not layers: they show only in the
input sizes of their consumers and in `Layer.inputs` (the producers a layer reads, checked by
`simulator.trace.check_chain`). Biases are not counted as weights.
"""

from __future__ import annotations

from collections.abc import Callable

from simulator.workload import Layer, conv, fc

# ---------------------------------------------------------------------------------------------------------
# AlexNet and VGG-16: plain chains
# ---------------------------------------------------------------------------------------------------------


def alexnet() -> list[Layer]:
    """AlexNet, original two-group CONV2/4/5; shapes exactly as in Eyeriss (Chen et al., JSSC 2017)."""
    return [
        conv("CONV1", C=3, M=96, HW=227, RS=11, U=4, pad=0),
        conv("CONV2", C=96, M=256, HW=27, RS=5, pad=2, groups=2),
        conv("CONV3", C=256, M=384, HW=13, RS=3, pad=1),
        conv("CONV4", C=384, M=384, HW=13, RS=3, pad=1, groups=2),
        conv("CONV5", C=384, M=256, HW=13, RS=3, pad=1, groups=2),
        fc("FC6", C=256, M=4096, HW=6),
        fc("FC7", C=4096, M=4096),
        fc("FC8", C=4096, M=1000),
    ]


def vgg16() -> list[Layer]:
    """VGG-16 (Simonyan & Zisserman 2015, configuration D): 13 3x3 convs in 5 stages, then 3 FCs."""
    stages = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    layers: list[Layer] = []
    c, hw = 3, 224
    for s, (m, n) in enumerate(stages, start=1):
        for i in range(1, n + 1):
            layers.append(conv(f"conv{s}_{i}", C=c, M=m, HW=hw, RS=3))
            c = m
        hw //= 2  # 2x2/2 max pool
    layers += [fc("fc6", C=c, M=4096, HW=hw), fc("fc7", C=4096, M=4096), fc("fc8", C=4096, M=1000)]
    return layers


# ---------------------------------------------------------------------------------------------------------
# ResNets (torchvision layout)
# ---------------------------------------------------------------------------------------------------------

Src = tuple[str, ...]
"""Producers of a tensor: one layer, the branches of a concatenation, or the terms of a residual sum."""


def _residual_out(last: str, downsample: str | None, src: Src) -> Src:
    """Producers of a residual block's output: its last conv plus the shortcut (downsample or block input)."""
    return (last, downsample) if downsample else (last, *src)


def _basic_block(layers: list[Layer], prefix: str, src: Src, c: int, m: int, hw: int, stride: int) -> tuple[Src, int]:
    """ResNet basic block (3x3, 3x3, identity or 1x1/2 shortcut); appends it, returns (producers, H)."""
    layers.append(conv(f"{prefix}.conv1", C=c, M=m, HW=hw, RS=3, U=stride, inputs=src))
    out = layers[-1].E
    layers.append(conv(f"{prefix}.conv2", C=m, M=m, HW=out, RS=3))
    ds = None
    if stride != 1 or c != m:
        ds = f"{prefix}.downsample"
        layers.append(conv(ds, C=c, M=m, HW=hw, RS=1, U=stride, inputs=src))
    return _residual_out(f"{prefix}.conv2", ds, src), out


def _bottleneck(
    layers: list[Layer], prefix: str, src: Src, c: int, width: int, hw: int, stride: int
) -> tuple[Src, int]:
    """ResNet v1.5 bottleneck (1x1, 3x3 with the stride, 1x1 to 4*width); returns (producers, H)."""
    m = 4 * width
    layers.append(conv(f"{prefix}.conv1", C=c, M=width, HW=hw, RS=1, inputs=src))
    layers.append(conv(f"{prefix}.conv2", C=width, M=width, HW=hw, RS=3, U=stride))
    out = layers[-1].E
    layers.append(conv(f"{prefix}.conv3", C=width, M=m, HW=out, RS=1))
    ds = None
    if stride != 1 or c != m:
        ds = f"{prefix}.downsample"
        layers.append(conv(ds, C=c, M=m, HW=hw, RS=1, U=stride, inputs=src))
    return _residual_out(f"{prefix}.conv3", ds, src), out


def _resnet(blocks: list[int], bottleneck: bool) -> list[Layer]:
    """A torchvision ResNet: 7x7/2 stem, 3x3/2 max pool, four stages, global average pool, FC-1000."""
    layers = [conv("conv1", C=3, M=64, HW=224, RS=7, U=2)]
    src: Src = ("conv1",)
    c, hw = 64, 56
    for stage, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True), start=1):
        for b in range(n):
            stride = 2 if stage > 1 and b == 0 else 1
            prefix = f"layer{stage}.{b}"
            if bottleneck:
                src, hw = _bottleneck(layers, prefix, src, c, width, hw, stride)
                c = 4 * width
            else:
                src, hw = _basic_block(layers, prefix, src, c, width, hw, stride)
                c = width
    layers.append(fc("fc", C=c, M=1000, inputs=src))
    return layers


def resnet18() -> list[Layer]:
    """ResNet-18 (He et al. 2016), torchvision layout with 1x1/2 downsample shortcuts."""
    return _resnet([2, 2, 2, 2], bottleneck=False)


def resnet50() -> list[Layer]:
    """ResNet-50 v1.5 (torchvision): the stride-2 sits on the bottleneck's 3x3 conv."""
    return _resnet([3, 4, 6, 3], bottleneck=True)


# ---------------------------------------------------------------------------------------------------------
# MobileNet v1
# ---------------------------------------------------------------------------------------------------------


def _dw_separable(layers: list[Layer], prefix: str, c: int, m: int, hw: int, stride: int) -> int:
    """Depthwise 3x3 (groups = C) followed by pointwise 1x1; appends both, returns the output H."""
    layers.append(conv(f"{prefix}.dw", C=c, M=c, HW=hw, RS=3, U=stride, groups=c))
    out = layers[-1].E
    layers.append(conv(f"{prefix}.pw", C=c, M=m, HW=out, RS=1))
    return out


def mobilenet_v1() -> list[Layer]:
    """MobileNet v1, width 1.0, 224x224 (Howard et al. 2017, Table 1)."""
    layers = [conv("conv1", C=3, M=32, HW=224, RS=3, U=2)]
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    plan += [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    c, hw = 32, layers[0].E
    for i, (m, stride) in enumerate(plan, start=1):
        hw = _dw_separable(layers, f"block{i}", c, m, hw, stride)
        c = m
    layers.append(fc("fc", C=c, M=1000, inputs=(layers[-1].name,)))
    return layers


# ---------------------------------------------------------------------------------------------------------
# GoogLeNet (Inception v1)
# ---------------------------------------------------------------------------------------------------------


def _inception(
    layers: list[Layer], name: str, src: Src, c: int, hw: int, widths: tuple[int, int, int, int, int, int]
) -> tuple[Src, int]:
    """Inception module: 1x1 | 1x1->3x3 | 1x1->5x5 | 3x3 pool->1x1; returns (branch producers, channels)."""
    n1, r3, n3, r5, n5, pp = widths
    p = name
    layers += [
        conv(f"{p}.b1", C=c, M=n1, HW=hw, RS=1, inputs=src),
        conv(f"{p}.b2_reduce", C=c, M=r3, HW=hw, RS=1, inputs=src),
        conv(f"{p}.b2", C=r3, M=n3, HW=hw, RS=3, inputs=(f"{p}.b2_reduce",)),
        conv(f"{p}.b3_reduce", C=c, M=r5, HW=hw, RS=1, inputs=src),
        conv(f"{p}.b3", C=r5, M=n5, HW=hw, RS=5, inputs=(f"{p}.b3_reduce",)),
        conv(f"{p}.b4_proj", C=c, M=pp, HW=hw, RS=1, inputs=src),  # after a 3x3/1 max pool
    ]
    return (f"{p}.b1", f"{p}.b2", f"{p}.b3", f"{p}.b4_proj"), n1 + n3 + n5 + pp


# (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) of Szegedy et al. 2015, Table 1.
_INCEPTION_V1: list[tuple[str, tuple[int, int, int, int, int, int]]] = [
    ("inception3a", (64, 96, 128, 16, 32, 32)),
    ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("inception4a", (192, 96, 208, 16, 48, 64)),
    ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)),
    ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("inception5a", (256, 160, 320, 32, 128, 128)),
    ("inception5b", (384, 192, 384, 48, 128, 128)),
]


def googlenet() -> list[Layer]:
    """GoogLeNet / Inception v1 (Szegedy et al. 2015, Table 1) with true 5x5 branches, no auxiliary heads."""
    layers = [
        conv("conv1", C=3, M=64, HW=224, RS=7, U=2),  # -> 112, max pool -> 56
        conv("conv2_reduce", C=64, M=64, HW=56, RS=1),
        conv("conv2", C=64, M=192, HW=56, RS=3),  # max pool -> 28
    ]
    src: Src = ("conv2",)
    c, hw = 192, 28
    for name, widths in _INCEPTION_V1:
        if name in ("inception4a", "inception5a"):
            hw //= 2  # 3x3/2 max pool between stages
        src, c = _inception(layers, name, src, c, hw, widths)
    layers.append(fc("fc", C=c, M=1000, inputs=src))  # after 7x7 average pool (and dropout)
    return layers


# ---------------------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------------------

NETWORKS: dict[str, Callable[[], list[Layer]]] = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v1": mobilenet_v1,
    "googlenet": googlenet,
}


class UnknownNetworkError(ValueError):
    """A network name that is not in the registry; the message lists the known ones."""


def list_networks() -> list[str]:
    """Names of the built-in networks, sorted."""
    return sorted(NETWORKS)


def get_network(name: str, batch: int = 1) -> list[Layer]:
    """The layers of a built-in network (name case-insensitive, '-' as '_') with batch size `batch`."""
    key = name.strip().lower().replace("-", "_")
    if key not in NETWORKS:
        raise UnknownNetworkError(f"unknown network {name!r}; known networks: {', '.join(list_networks())}")
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    return [layer.with_batch(batch) for layer in NETWORKS[key]()]


def describe_network(name: str) -> str:
    """One line: layer count, weights and MACs per image of a built-in network."""
    layers = get_network(name)
    weights = sum(layer.weights for layer in layers)
    macs = sum(layer.macs for layer in layers)
    return f"{name}: {len(layers)} layers, {weights / 1e6:.2f}M weights, {macs / 1e6:.1f}M MACs per image"
