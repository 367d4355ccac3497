"""Accelerator specs: presets, user files with `extends:`, overrides, and the errors bad files get."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from accelerators import SpecError, list_presets, load_spec, spec_to_yaml, with_overrides
from simulator.mapper import MappingError, search
from simulator.networks import get_network
from studies.cli import cli


def test_presets_ship_with_the_package() -> None:
    names = list_presets()
    assert {"eyeriss", "eyeriss-isca16"} <= set(names)
    for name in names:
        spec = load_spec(name)
        assert spec.name == name


@pytest.mark.parametrize("preset", list_presets())
def test_every_preset_maps_every_alexnet_layer(preset: str) -> None:
    spec = load_spec(preset)
    for layer in get_network("alexnet"):
        assert search(spec, layer, dataflow=spec.dataflows[0]).total_energy > 0


def test_eyeriss_preset_matches_the_chip() -> None:
    s = load_spec("eyeriss")
    assert (s.pe_array.rows, s.pe_array.cols) == (12, 14)
    assert s.glb.size_kb == 108
    assert s.rf.weight is not None and s.rf.weight.words == 224
    assert s.rf.ifmap is not None and s.rf.ifmap.words == 12
    assert s.rf.psum is not None and s.rf.psum.words == 24
    assert (s.clock_mhz, s.dram.bus_bits, s.dram.clock_mhz) == (200, 64, 60)
    i = load_spec("eyeriss-isca16")
    assert i.pe_array.pes == 256 and i.glb.size_kb == 128
    assert i.rf.shared is not None and i.rf.shared.bits == 512 * 8
    e = i.energy
    assert [e.mac.cost, e.rf.cost, e.noc.cost, e.glb.cost, e.dram.cost] == [1, 1, 2, 6, 200]


def write(tmp_path: Path, data: dict, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_user_file_extends_a_preset(tmp_path: Path) -> None:
    path = write(tmp_path, {"extends": "eyeriss", "name": "big-glb", "glb": {"size_kb": 216}})
    spec = load_spec(path)
    assert spec.name == "big-glb" and spec.glb.size_kb == 216
    assert spec.glb.weight_kb == 8  # untouched nested fields are inherited
    assert spec.pe_array.rows == 12


def test_extends_a_file_relative_to_the_child(tmp_path: Path) -> None:
    write(tmp_path, {"extends": "eyeriss", "name": "base", "clock_mhz": 250}, "base.yaml")
    child = write(tmp_path, {"extends": "base.yaml", "name": "child"}, "child.yaml")
    assert load_spec(child).clock_mhz == 250


@pytest.mark.parametrize(
    ("patch", "field", "expect"),
    [
        ({"glb": {"size_kb": -4}}, "glb.size_kb", "greater than 0"),
        ({"pe_array": {"rows": 12, "colz": 3}}, "pe_array.colz", "unknown key"),
        ({"energy": {"dram": {"cost": "lots"}}}, "energy.dram.cost", "valid number"),
        ({"rf": {"ifmap": {"words": 12, "word_bits": 8}}}, "word_bits", "narrower"),
    ],
)
def test_bad_specs_name_file_field_and_expectation(tmp_path: Path, patch: dict, field: str, expect: str) -> None:
    path = write(tmp_path, {"extends": "eyeriss", **patch})
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message
    assert field in message
    assert expect in message


def test_missing_field_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load(spec_to_yaml(load_spec("eyeriss")))
    del data["dram"]
    path = write(tmp_path, data)
    with pytest.raises(SpecError, match=r"dram: missing required field"):
        load_spec(path)


def test_rf_too_small_for_a_filter_row_is_reported_with_the_field() -> None:
    spec = with_overrides(load_spec("eyeriss"), {"rf__ifmap__words": 8})
    conv1 = get_network("alexnet")[0]  # 11-wide filter rows
    with pytest.raises(MappingError, match=r"rf\.ifmap"):
        search(spec, conv1)


def test_overrides_revalidate() -> None:
    spec = load_spec("eyeriss")
    assert with_overrides(spec, {"glb__size_kb": 54}).glb.size_kb == 54
    with pytest.raises(SpecError, match=r"glb\.size_kb"):
        with_overrides(spec, {"glb__size_kb": -1})


def test_cli_accelerators_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["accelerators", "list"])
    assert listed.exit_code == 0 and "eyeriss-isca16" in listed.output
    shown = runner.invoke(cli, ["accelerators", "show", "eyeriss"])
    assert shown.exit_code == 0 and yaml.safe_load(shown.output)["glb"]["size_kb"] == 108
    good = write(tmp_path, {"extends": "eyeriss", "name": "mine"})
    ok = runner.invoke(cli, ["accelerators", "validate", str(good)])
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = write(tmp_path, {"extends": "eyeriss", "glb": {"size_kb": 0}}, "bad.yaml")
    failed = runner.invoke(cli, ["accelerators", "validate", str(bad)])
    assert failed.exit_code != 0
    assert "glb.size_kb" in failed.output and "Traceback" not in failed.output
