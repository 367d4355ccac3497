"""The accelerator specification: a validated, frozen description of a spatial CNN accelerator.

Units live in the field descriptions. Every model forbids unknown keys, so a typo in a YAML file is an
error, not a silently ignored setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DATA_TYPES = ("ifmap", "weight", "psum")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PEArray(_Frozen):
    """The 2-D array of processing elements."""

    rows: int = Field(ge=1, le=4096, description="PE rows (the filter-row direction in row stationary)")
    cols: int = Field(ge=1, le=4096, description="PE columns (the output-row direction in row stationary)")

    @property
    def pes(self) -> int:
        return self.rows * self.cols


class Scratchpad(_Frozen):
    """One per-PE register file (scratchpad)."""

    words: int = Field(ge=1, description="capacity in words")
    word_bits: int = Field(ge=1, le=64, description="width of one word in bits")

    @property
    def bits(self) -> int:
        return self.words * self.word_bits


class RegisterFiles(_Frozen):
    """Per-PE register files: either one scratchpad per data type, or one shared file split freely."""

    ifmap: Scratchpad | None = Field(None, description="ifmap scratchpad (Eyeriss: 12 x 16 b)")
    weight: Scratchpad | None = Field(None, description="filter scratchpad (Eyeriss: 224 x 16 b)")
    psum: Scratchpad | None = Field(None, description="partial-sum scratchpad (Eyeriss: 24 x 16 b)")
    shared: Scratchpad | None = Field(None, description="one register file shared by all data types")

    @model_validator(mode="after")
    def _one_layout(self) -> RegisterFiles:
        split = [self.ifmap, self.weight, self.psum]
        if self.shared is not None and any(s is not None for s in split):
            raise ValueError("give either 'shared' or the per-type scratchpads (ifmap, weight, psum), not both")
        if self.shared is None and any(s is None for s in split):
            raise ValueError("per-type register files need all of 'ifmap', 'weight' and 'psum' (or give 'shared')")
        return self

    @property
    def word_bits(self) -> int:
        """Access width of the register file, used to scale per-access energy."""
        if self.shared is not None:
            return self.shared.word_bits
        assert self.weight is not None
        return self.weight.word_bits


class NoC(_Frozen):
    """On-chip networks between the global buffer and the PE array."""

    ifmap_bits_per_cycle: int = Field(64, ge=1, description="GLB-to-array ifmap bandwidth, bits per core cycle")
    weight_bits_per_cycle: int = Field(64, ge=1, description="GLB-to-array weight bandwidth, bits per core cycle")
    psum_bits_per_cycle: int = Field(
        64,
        ge=1,
        description="psum bandwidth between GLB and array in each direction (separate networks), bits per cycle",
    )
    multicast: bool = Field(True, description="one GLB read can reach every PE that needs the datum")


class GlobalBuffer(_Frozen):
    """The on-chip global buffer (GLB)."""

    size_kb: float = Field(gt=0, description="total capacity in kB (1 kB = 1024 bytes)")
    banks: int = Field(1, ge=1, description="number of banks (parallel accesses per cycle)")
    word_bits: int = Field(64, ge=1, description="width of one bank access in bits")
    weight_kb: float | None = Field(
        None,
        ge=0,
        description="capacity reserved for weights in kB; the rest holds ifmaps and psums. "
        "None: one pool shared by all data types",
    )
    holds_weights: bool = Field(True, description="False: weights bypass the GLB (DRAM straight to the array)")

    @model_validator(mode="after")
    def _partition_fits(self) -> GlobalBuffer:
        if self.weight_kb is not None and self.weight_kb >= self.size_kb:
            raise ValueError(
                f"weight_kb ({self.weight_kb}) must be smaller than size_kb ({self.size_kb}): "
                "ifmaps and psums need the rest"
            )
        return self

    @property
    def bits(self) -> int:
        return int(self.size_kb * 1024 * 8)


class DRAM(_Frozen):
    """Off-chip memory and the link to it."""

    bus_bits: int = Field(ge=1, description="width of the chip's DRAM link in bits")
    clock_mhz: float = Field(gt=0, description="link clock in MHz (one bus word per link cycle)")


class Arithmetic(_Frozen):
    """Native datapath widths; layers may use narrower operands, never wider."""

    weight_bits: int = Field(16, ge=1, le=64, description="native weight operand width in bits")
    act_bits: int = Field(16, ge=1, le=64, description="native activation operand width in bits")
    psum_bits: int = Field(16, ge=1, le=64, description="partial-sum (accumulator) width in bits")


class MacEnergy(_Frozen):
    """Energy of one MAC at reference operand widths; scaled with the operand widths actually used."""

    cost: float = Field(ge=0, description="energy of one MAC at the reference widths (energy unit)")
    weight_bits: int = Field(16, ge=1, description="weight width at which 'cost' applies")
    act_bits: int = Field(16, ge=1, description="activation width at which 'cost' applies")
    adder_fraction: float = Field(
        0.06,
        ge=0,
        le=1,
        description="share of 'cost' spent in the accumulator adder, which does not shrink with operand "
        "width (Horowitz 2014, 16 b: multiply ~0.8 pJ, add ~0.05 pJ)",
    )


class AccessEnergy(_Frozen):
    """Energy of one access of 'bits' bits at one storage level; moving b bits costs cost * b / bits."""

    cost: float = Field(ge=0, description="energy of one access (energy unit)")
    bits: int = Field(16, ge=1, description="bits moved by one access at this cost")


class EnergyTable(_Frozen):
    """Energy per access at each level of the hierarchy."""

    unit: Literal["normalized", "pJ"] = Field(
        description="'normalized': multiples of one native MAC (Eyeriss ISCA 2016); 'pJ': picojoules"
    )
    mac: MacEnergy
    rf: AccessEnergy = Field(description="register-file (scratchpad) access")
    noc: AccessEnergy = Field(description="one delivery over the array network (GLB to PE, PE to PE)")
    glb: AccessEnergy = Field(description="global-buffer access")
    dram: AccessEnergy = Field(description="off-chip DRAM access")
    lut: AccessEnergy | None = Field(
        None, description="codebook lookup in the PE (clustered weights); default: one RF access"
    )


class Features(_Frozen):
    """Switchable hardware features."""

    zero_gating: bool = Field(False, description="skip the MAC and the filter read when the ifmap value is zero")
    rlc: bool = Field(False, description="run-length code feature maps on the DRAM link")
    rlc_run_bits: int = Field(5, ge=1, le=16, description="bits of one RLC run field (Eyeriss: 5)")
    rlc_word_bits: int = Field(64, ge=8, description="RLC word (Eyeriss: 3 run/level pairs + 1 flag in 64 b)")
    row_reuse: bool = Field(
        False,
        description="PEs detect filters that share a clustered row (Deep k-Means, vector length S) and compute "
        "its 1-D convolution once per input row (needs decode.location: pe)",
    )


class Decode(_Frozen):
    """Where clustered weights (codebook indices) are turned back into values."""

    location: Literal["pe", "glb"] = Field(
        "pe",
        description="'pe': indices travel to the PEs and a per-PE lookup table decodes them; "
        "'glb': indices are decoded as they enter the global buffer (saves DRAM traffic only)",
    )
    lut_entries: int = Field(1024, ge=1, description="codebook values the per-PE lookup table holds")


class AcceleratorSpec(_Frozen):
    """A complete accelerator description."""

    name: str = Field(min_length=1, description="short identifier")
    description: str = ""
    source: str = Field("", description="where the figures come from")
    clock_mhz: float = Field(gt=0, description="core clock in MHz")
    pe_array: PEArray
    rf: RegisterFiles
    noc: NoC = NoC()
    glb: GlobalBuffer
    dram: DRAM
    arithmetic: Arithmetic = Arithmetic()
    energy: EnergyTable
    features: Features = Features()
    decode: Decode = Decode()
    dataflows: tuple[Literal["rs", "ws", "os", "nlr"], ...] = Field(
        ("rs",), min_length=1, description="dataflows this array can run"
    )

    @model_validator(mode="after")
    def _widths_consistent(self) -> AcceleratorSpec:
        a = self.arithmetic
        if self.rf.shared is None:
            for name in DATA_TYPES:
                pad = getattr(self.rf, name)
                native = {"ifmap": a.act_bits, "weight": a.weight_bits, "psum": a.psum_bits}[name]
                if pad.word_bits < native:
                    raise ValueError(
                        f"rf.{name}.word_bits ({pad.word_bits}) is narrower than the native "
                        f"{name} width ({native} bits) in 'arithmetic'"
                    )
        return self

    @property
    def energy_unit(self) -> str:
        return self.energy.unit
