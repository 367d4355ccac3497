"""Built-in networks: published MAC and weight counts, producer chaining, registry behaviour."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulator.networks import (
    NETWORKS,
    UnknownNetworkError,
    describe_network,
    get_network,
    list_networks,
)
from simulator.trace import TraceError, check_chain
from simulator.workload import Layer

ALL = ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v1", "googlenet"]


def total_macs(layers: list[Layer]) -> int:
    return sum(layer.macs for layer in layers)


def total_weights(layers: list[Layer]) -> int:
    return sum(layer.weights for layer in layers)


# --- AlexNet: Eyeriss (Chen et al., JSSC 2017) ---------------------------------------------------------

# Per-image MACs of CONV1..CONV5 from the Eyeriss shapes (227x227 input, groups=2 on CONV2/4/5).
ALEXNET_CONV_MACS = {
    "CONV1": 105_415_200,
    "CONV2": 223_948_800,
    "CONV3": 149_520_384,
    "CONV4": 112_140_288,
    "CONV5": 74_760_192,
}
# Eyeriss publishes millions of MACs for a batch of 4.
EYERISS_BATCH4_MMACS = {"CONV1": 422, "CONV2": 896, "CONV3": 598, "CONV4": 449, "CONV5": 299}


def test_alexnet_layer_names_and_kinds() -> None:
    layers = get_network("alexnet")
    assert [x.name for x in layers] == [f"CONV{i}" for i in range(1, 6)] + ["FC6", "FC7", "FC8"]
    assert [x.kind for x in layers] == ["conv"] * 5 + ["fc"] * 3
    # (C, H, M, R, U, pad, groups) of CONV1..5 as in Eyeriss: 227x227 input, no padding on CONV1.
    assert [(x.C, x.H, x.M, x.R, x.U, x.pad, x.groups) for x in layers[:5]] == [
        (3, 227, 96, 11, 4, 0, 1),
        (96, 27, 256, 5, 1, 2, 2),
        (256, 13, 384, 3, 1, 1, 1),
        (384, 13, 384, 3, 1, 1, 2),
        (384, 13, 256, 3, 1, 1, 2),
    ]
    assert [x.E for x in layers[:5]] == [55, 27, 13, 13, 13]


def test_alexnet_conv_macs_per_image_match_eyeriss_shapes() -> None:
    by_name = {x.name: x for x in get_network("alexnet")}
    for name, expected in ALEXNET_CONV_MACS.items():
        assert by_name[name].macs == expected, name
    assert [round(by_name[n].macs / 1e6, 1) for n in ALEXNET_CONV_MACS] == [105.4, 223.9, 149.5, 112.1, 74.8]


def test_alexnet_batch4_matches_eyeriss_published_macs() -> None:
    by_name = {x.name: x for x in get_network("alexnet", batch=4)}
    for name, mmacs in EYERISS_BATCH4_MMACS.items():
        assert by_name[name].macs / 1e6 == pytest.approx(mmacs, rel=5e-3), name
    conv_total = sum(by_name[n].macs for n in EYERISS_BATCH4_MMACS)
    assert conv_total / 1e6 == pytest.approx(2663, rel=5e-3)


def test_alexnet_fc_shapes() -> None:
    fc6, fc7, fc8 = get_network("alexnet")[5:]
    assert (fc6.C, fc6.H, fc6.W, fc6.R, fc6.S, fc6.M) == (256, 6, 6, 6, 6, 4096)
    assert fc6.E == fc6.F == 1
    assert (fc7.C, fc7.M, fc8.C, fc8.M) == (4096, 4096, 4096, 1000)


# --- Published totals ----------------------------------------------------------------------------------

# Per-image MACs. Sources: torchvision model docs ("GFLOPS" column, which counts multiply-adds) for VGG-16,
# ResNet-18 and ResNet-50 (v1.5); Howard et al. 2017 (MobileNets, Table 8: 569M mult-adds for 1.0 / 224);
# Szegedy et al. 2015 (Going Deeper with Convolutions, Table 1: the "ops" column sums to ~1586M, which
# the text rounds to "1.5 billion multiply-adds"); AlexNet: Eyeriss CONV1-5 (665.8M per image) plus the
# FC layers 9216*4096 + 4096*4096 + 4096*1000 = 58.6M.
PUBLISHED_MACS = {
    "alexnet": 665.8e6 + 58.6e6,
    "vgg16": 15.47e9,
    "resnet18": 1.81e9,
    "resnet50": 4.09e9,
    "mobilenet_v1": 569e6,
    "googlenet": 1.586e9,
}


@pytest.mark.parametrize("name", ALL)
def test_total_macs_match_published(name: str) -> None:
    assert total_macs(get_network(name)) == pytest.approx(PUBLISHED_MACS[name], rel=0.02)


# Weights only (no biases, no batch-norm parameters). torchvision parameter counts minus those:
# VGG-16 138,357,544 - 13,416 biases; ResNet-50 25,557,032 - 53,120 BN - 1,000 fc bias;
# ResNet-18 11,689,512 - 9,600 BN - 1,000 fc bias. MobileNet v1: "4.2 million parameters" (Howard et al.).
PUBLISHED_WEIGHTS = {
    "vgg16": 138_344_128,
    "resnet50": 25_502_912,
    "resnet18": 11_678_912,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_WEIGHTS))
def test_weight_counts_match_torchvision_without_biases(name: str) -> None:
    assert total_weights(get_network(name)) == PUBLISHED_WEIGHTS[name]


def test_weight_counts_approximate_headlines() -> None:
    assert total_weights(get_network("vgg16")) / 1e6 == pytest.approx(138.3, abs=0.1)
    assert total_weights(get_network("resnet50")) / 1e6 == pytest.approx(25.5, abs=0.05)
    assert total_weights(get_network("mobilenet_v1")) / 1e6 == pytest.approx(4.2, rel=0.02)


# --- Structure -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_check_chain_passes(name: str) -> None:
    check_chain(get_network(name))


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "googlenet"])
def test_branching_networks_need_their_inputs(name: str) -> None:
    """Without `inputs`, the branches do not chain: the declared producers are what makes check_chain pass."""
    stripped = [replace(layer, inputs=()) for layer in get_network(name)]
    with pytest.raises(TraceError):
        check_chain(stripped)


@pytest.mark.parametrize("name", ALL)
def test_names_unique_and_inputs_refer_to_earlier_layers(name: str) -> None:
    layers = get_network(name)
    names = [x.name for x in layers]
    assert len(set(names)) == len(names)
    seen: set[str] = {"input"}
    for layer in layers:
        assert set(layer.inputs) <= seen, layer.name
        seen.add(layer.name)


@pytest.mark.parametrize("name", ALL)
def test_producers_of_one_tensor_agree_spatially(name: str) -> None:
    """Concatenated branches share E x F; residual-sum operands share M; a conv reads its producers' E
    directly or after one 2x pooling (the ResNet stem's max pool), a global-pool FC reads any size."""
    by_name: dict[str, Layer] = {}
    for layer in get_network(name):
        producers = [by_name[p] for p in layer.inputs if p != "input"]
        if len(producers) > 1 and sum(p.M for p in producers) == layer.C:  # a concatenation
            assert len({(p.E, p.F) for p in producers}) == 1, layer.name
        elif len(producers) > 1:  # a residual sum
            assert {p.M for p in producers} == {layer.C}, layer.name
        if layer.kind == "conv":
            for p in producers:
                assert layer.H in (p.E, p.E // 2, (p.E + 1) // 2), (layer.name, p.name)
        by_name[layer.name] = layer


def test_resnet_structure() -> None:
    r18 = {x.name: x for x in get_network("resnet18")}
    assert len(r18) == 21  # 1 stem + 16 block convs + 3 downsamples + fc
    assert [n for n in r18 if n.endswith("downsample")] == [f"layer{i}.0.downsample" for i in (2, 3, 4)]
    ds = r18["layer2.0.downsample"]
    assert (ds.R, ds.U, ds.pad, ds.C, ds.M) == (1, 2, 0, 64, 128)
    assert ds.inputs == r18["layer2.0.conv1"].inputs
    # A residual sum names both operands: the block's last conv and its shortcut.
    assert r18["layer2.1.conv1"].inputs == ("layer2.0.conv2", "layer2.0.downsample")
    assert r18["layer1.1.conv1"].inputs == ("layer1.0.conv2", "conv1")
    assert r18["fc"].inputs == ("layer4.1.conv2", "layer4.0.conv2", "layer4.0.downsample")

    r50 = {x.name: x for x in get_network("resnet50")}
    assert len(r50) == 54  # 1 + 16 * 3 + 4 downsamples + fc
    # v1.5: the stride sits on the 3x3 conv, not on the first 1x1.
    assert (r50["layer2.0.conv1"].U, r50["layer2.0.conv2"].U) == (1, 2)
    assert r50["layer1.0.downsample"].U == 1 and r50["layer1.0.downsample"].M == 256
    assert r50["layer4.2.conv3"].E == 7 and r50["fc"].C == 2048


def test_mobilenet_depthwise_layers() -> None:
    layers = get_network("mobilenet_v1")
    dw = [x for x in layers if x.depthwise]
    assert len(dw) == 13
    assert all(x.groups == x.C == x.M and x.R == 3 for x in dw)
    assert layers[-2].E == 7 and layers[-2].M == 1024


def test_googlenet_inception_modules() -> None:
    layers = get_network("googlenet")
    by_name = {x.name: x for x in layers}
    assert len(layers) == 3 + 9 * 6 + 1
    assert sum(1 for x in layers if x.R == 5) == 9  # true 5x5 branches, not torchvision's 3x3
    m = by_name["inception4a.b1"]
    assert m.H == 14 and m.C == 480
    assert m.inputs == ("inception3b.b1", "inception3b.b2", "inception3b.b3", "inception3b.b4_proj")
    assert by_name["fc"].C == 1024 and len(by_name["fc"].inputs) == 4


# --- Registry ------------------------------------------------------------------------------------------


def test_list_networks() -> None:
    assert list_networks() == sorted(ALL)
    assert set(NETWORKS) == set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_get_network_batch(name: str) -> None:
    one = get_network(name)
    three = get_network(name, batch=3)
    assert all(x.N == 1 for x in one)
    assert all(x.N == 3 for x in three)
    assert [x.name for x in three] == [x.name for x in one]
    assert total_macs(three) == 3 * total_macs(one)


def test_get_network_rejects_bad_batch() -> None:
    with pytest.raises(ValueError):
        get_network("alexnet", batch=0)


def test_unknown_network_lists_known_names() -> None:
    with pytest.raises(UnknownNetworkError) as info:
        get_network("lenet5")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "lenet5" in message
    for name in ALL:
        assert name in message


def test_describe_network() -> None:
    line = describe_network("vgg16")
    assert "\n" not in line
    assert "16 layers" in line
    assert "138.34M weights" in line
    assert "15470.3M MACs" in line
