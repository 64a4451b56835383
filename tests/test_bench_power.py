"""Power sampling: tegrastats line parsing (JetPack 4/5/6 formats), INA3221 sysfs rails, unavailability."""

from __future__ import annotations

import shutil

import pytest

from act_edge.bench.power import (PowerSampler, board_power_w, ina3221_rails, parse_tegrastats_line,
                                  per_inference, read_ina3221)

# Orin NX 16GB, JetPack 6.0 (L4T 36.3), `tegrastats --interval 100`
ORIN_NX_JP6 = (
    "11-21-2026 10:31:02 RAM 3466/15656MB (lfb 2469x4MB) SWAP 0/7828MB (cached 0MB) "
    "CPU [3%@729,1%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729] EMC_FREQ 0%@2133 GR3D_FREQ 0%@[918,0] "
    "NVENC off NVDEC off NVJPG off NVJPG1 off VIC off OFA off NVDLA0 off NVDLA1 off PVA0_FREQ off APE 200 "
    "cpu@46.25C soc2@44.906C soc0@45.125C gpu@44.718C tj@46.25C soc1@44.468C "
    "VDD_IN 5937mW/5812mW VDD_CPU_GPU_CV 1160mW/1102mW VDD_SOC 1658mW/1640mW")
# AGX Orin 64GB, JetPack 6.1 (no module-input rail: the four rails are summed)
AGX_ORIN_JP6 = (
    "11-21-2026 10:31:02 RAM 4521/62780MB (lfb 12948x4MB) SWAP 0/31390MB (cached 0MB) "
    "CPU [5%@1728,2%@1728,0%@1728,1%@1728,0%@2201,0%@2201,0%@2201,0%@2201,off,off,off,off] "
    "EMC_FREQ 1%@3199 GR3D_FREQ 61%@[1300,1300] NVENC off NVDEC off NVJPG off NVJPG1 off VIC off OFA off "
    "NVDLA0 off NVDLA1 off PVA0_FREQ off APE 174 cpu@52.062C soc2@48.531C soc0@49.406C gpu@51.843C "
    "tj@52.062C soc1@48.343C VDD_GPU_SOC 11904mW/11904mW VDD_CPU_CV 1983mW/1983mW "
    "VIN_SYS_5V0 5352mW/5352mW VDDQ_VDD2_1V8AO 1009mW/1009mW")
# Jetson Nano, JetPack 4.6 (mW without the unit)
NANO_JP4 = (
    "RAM 1517/3964MB (lfb 62x4MB) SWAP 0/1982MB (cached 0MB) CPU [12%@1479,5%@1479,3%@1479,2%@1479] "
    "EMC_FREQ 0%@1600 GR3D_FREQ 0%@921 APE 25 PLL@26C CPU@29.5C PMIC@50C GPU@27.5C AO@35C thermal@28.25C "
    "POM_5V_IN 2790/2755 POM_5V_GPU 0/0 POM_5V_CPU 516/498")


def test_orin_nx_uses_the_module_input_rail():
    rails = parse_tegrastats_line(ORIN_NX_JP6)
    assert rails == {"VDD_IN": 5937.0, "VDD_CPU_GPU_CV": 1160.0, "VDD_SOC": 1658.0}  # instantaneous, not avg
    assert board_power_w(rails) == (pytest.approx(5.937), "VDD_IN")


def test_agx_orin_sums_the_rails_and_says_so():
    watts, how = board_power_w(parse_tegrastats_line(AGX_ORIN_JP6))
    assert watts == pytest.approx((11904 + 1983 + 5352 + 1009) / 1e3)
    assert how == "sum of VDDQ_VDD2_1V8AO+VDD_CPU_CV+VDD_GPU_SOC+VIN_SYS_5V0"


def test_jetpack4_format_without_units():
    rails = parse_tegrastats_line(NANO_JP4)
    assert rails == {"POM_5V_IN": 2790.0, "POM_5V_GPU": 0.0, "POM_5V_CPU": 516.0}
    assert board_power_w(rails) == (pytest.approx(2.79), "POM_5V_IN")


def test_line_without_rails():
    assert parse_tegrastats_line("RAM 1517/3964MB (lfb 62x4MB) CPU [12%@1479] EMC_FREQ 0%@1600") == {}
    assert board_power_w({}) is None


def test_ina3221_sysfs(tmp_path):
    hw = tmp_path / "1-0040" / "hwmon" / "hwmon3"
    hw.mkdir(parents=True)
    for i, (label, mv, ma) in enumerate([("VDD_IN", 5000, 1200), ("VDD_CPU_GPU_CV", 5000, 300)], start=1):
        (hw / f"in{i}_label").write_text(label + "\n")
        (hw / f"in{i}_input").write_text(f"{mv}\n")
        (hw / f"curr{i}_input").write_text(f"{ma}\n")
    rails = ina3221_rails(str(tmp_path))
    assert set(rails) == {"VDD_IN", "VDD_CPU_GPU_CV"}
    assert read_ina3221(rails) == {"VDD_IN": 6000.0, "VDD_CPU_GPU_CV": 1500.0}
    assert board_power_w(read_ina3221(rails)) == (6.0, "VDD_IN")


def test_mj_per_inference():
    got = per_inference({"available": True, "mean_w": 10.0}, inferences=100, seconds=2.0)
    assert got["mj_per_inference"] == pytest.approx(200.0)  # 10 W x 2 s / 100 = 0.2 J
    assert "mj_per_inference" not in per_inference({"available": False, "reason": "x"}, 100, 2.0)


@pytest.mark.skipif(shutil.which("tegrastats") is not None, reason="a Jetson: power is available here")
def test_unavailable_off_jetson():
    res = PowerSampler().start().stop()
    assert res["available"] is False and res["reason"].startswith("unavailable")
