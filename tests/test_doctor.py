"""`act-edge doctor`: one line per check, exit 1 when a needed check fails, 2 when BUNDLE is no directory.

Failure lines are produced on a pinned machine (every probe in act_edge.doctor.probes replaced by
facts of a CPU-only x86 host) with one probe changed per test; `test_real_run_*` runs the real probes.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from act_edge.bundle import MANIFEST, PARITY_INPUTS, sha256_file
from act_edge.cli.main import main
from act_edge.doctor import probes

pytest.importorskip("onnx")  # the minimal bundle's graphs are built with onnx
pytest.importorskip("onnxruntime")

CPU_LINES = [
    "ok    platform    not a Jetson (x86_64, Linux 6.1.0, Test CPU): no Jetson model in /proc/device-tree/model, "
    "no /etc/nv_tegra_release",
    "ok    python      3.10.12 (act-edge needs >= 3.10)",
    "ok    numpy       1.26.4 (act-edge needs >= 1.21.5)",
    "warn  gpu         no NVIDIA GPU visible (no nvidia-smi, no /dev/nvidia*): policies run on CPU (onnxruntime)",
    "ok    tensorrt    not installed (not needed: no NVIDIA GPU here)",
    "ok    pycuda      not installed (not needed: no NVIDIA GPU here)",
    "ok    onnxruntime 1.20.1, providers CPUExecutionProvider",
    "ok    torch       not installed (the runtime does not need it; export, bench --compare and backend 'torch' do)",
]
JETSON = {"model": "NVIDIA Jetson AGX Orin Developer Kit", "l4t": "36.4.3", "jetpack": "6.2+b77",
          "power_mode": "MAXN (mode 0)", "gpu_freq_mhz": 1300.5, "emc_freq_mhz": None}
ORIN_CUDA = {"version": "2024.1.2", "count": 1, "name": "Orin", "compute_capability": "8.7"}
ORIN_GPU = {"source": "device nodes", "name": None, "nodes": ["/dev/nvhost-gpu"]}


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A CPU-only x86 host with numpy 1.26.4, onnxruntime 1.20.1 and nothing else; tests edit `installed`."""
    installed: dict = {"tensorrt": False, "pycuda": False}
    monkeypatch.setattr(probes, "jetson", lambda: None)
    monkeypatch.setattr(probes, "host", lambda: {"machine": "x86_64", "os": "Linux 6.1.0", "cpu": "Test CPU"})
    monkeypatch.setattr(probes, "python_version", lambda: (3, 10, 12))
    monkeypatch.setattr(probes, "python_floor", lambda: (3, 10))
    monkeypatch.setattr(probes, "numpy_version", lambda: "1.26.4")
    monkeypatch.setattr(probes, "numpy_floor", lambda: "1.21.5")
    monkeypatch.setattr(probes, "gpu", lambda: None)
    monkeypatch.setattr(probes, "torch", lambda: None)
    monkeypatch.setattr(probes, "module_installed", lambda name: installed.get(name, True))
    real_ort = probes.onnxruntime

    def ort() -> dict:
        real_ort()  # raises where onnxruntime is blocked
        return {"version": "1.20.1", "providers": ["CPUExecutionProvider"]}

    monkeypatch.setattr(probes, "onnxruntime", ort)
    return installed


def doctor(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, list[str]]:
    rc = main(["doctor", *map(str, args)])
    out = capsys.readouterr().out
    return rc, out.splitlines()


def as_orin(monkeypatch: pytest.MonkeyPatch, installed: dict) -> None:
    installed.update(tensorrt=True, pycuda=True)
    monkeypatch.setattr(probes, "jetson", lambda: dict(JETSON))
    monkeypatch.setattr(probes, "gpu", lambda: dict(ORIN_GPU))
    monkeypatch.setattr(probes, "tensorrt", lambda: "10.3.0")
    monkeypatch.setattr(probes, "pycuda", lambda: dict(ORIN_CUDA))


@pytest.fixture
def bundle(minimal_bundle: Path) -> Path:
    return minimal_bundle


def rewrite_manifest(path: Path, edit) -> None:
    mf = json.loads((path / MANIFEST).read_text())
    edit(mf)
    (path / MANIFEST).write_text(json.dumps(mf))


# --- machine lines ----------------------------------------------------------------------------------

def test_cpu_machine_every_line_and_exit_0(machine, capsys) -> None:
    rc, lines = doctor(capsys)
    assert lines == CPU_LINES + ["ready: 8 checks, 1 warning(s)"]
    assert rc == 0


def test_missing_onnxruntime_without_tensorrt_fails(machine, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    rc, lines = doctor(capsys)
    assert lines[6] == ("FAIL  onnxruntime not importable (ModuleNotFoundError: import of onnxruntime halted; None in "
                        "sys.modules): no backend can run a bundle here (TensorRT is not usable either); "
                        "fix: pip install onnxruntime")
    assert lines[-1] == "not ready: 1 needed check(s) failed (onnxruntime); 1 warning(s)"
    assert rc == 1


def test_missing_onnxruntime_with_tensorrt_only_warns(machine, monkeypatch, capsys) -> None:
    as_orin(monkeypatch, machine)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    rc, lines = doctor(capsys)
    assert lines[6] == ("warn  onnxruntime not importable (ModuleNotFoundError: import of onnxruntime halted; None in "
                        "sys.modules): no fallback when a bundle has no engine for this machine; "
                        "fix: pip install onnxruntime")
    assert rc == 0


def test_jetson_platform_line_and_backends_ok(machine, monkeypatch, capsys) -> None:
    as_orin(monkeypatch, machine)
    rc, lines = doctor(capsys)
    assert lines[0] == ("ok    platform    NVIDIA Jetson AGX Orin Developer Kit, L4T 36.4.3, JetPack 6.2+b77, "
                        "power mode MAXN (mode 0), GPU 1300.5 MHz")
    assert lines[3] == "ok    gpu         /dev/nvhost-gpu (device nodes)"
    assert lines[4] == "ok    tensorrt    10.3.0 (supported: major 10 or 11, built and tested with 10.3+)"
    assert lines[5] == "ok    pycuda      2024.1.2: 1 CUDA device(s), Orin (compute capability 8.7)"
    assert rc == 0


def test_tensorrt_too_old(machine, monkeypatch, capsys) -> None:
    machine["tensorrt"] = True
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="8.6.1"))
    monkeypatch.setattr(probes, "gpu", lambda: {"source": "nvidia-smi", "name": "NVIDIA RTX A2000", "driver": "550.54"})
    rc, lines = doctor(capsys)
    assert lines[4] == ("warn  tensorrt    TensorRT 8.6.1 is not supported (expected major version in (10, 11)); "
                        "fix: TensorRT 10.3 or newer, major 10 or 11: pip install 'tensorrt>=10.3,<12'")
    assert rc == 0  # a dGPU machine still runs bundles on onnxruntime
    monkeypatch.setattr(probes, "jetson", lambda: dict(JETSON))  # on a Jetson TensorRT is needed
    rc, lines = doctor(capsys)
    assert lines[4].startswith("FAIL  tensorrt    TensorRT 8.6.1 is not supported")
    assert rc == 1


def test_no_gpu_on_a_jetson_fails_elsewhere_warns(machine, monkeypatch, capsys) -> None:
    rc, lines = doctor(capsys)
    assert lines[3] == CPU_LINES[3] and rc == 0
    as_orin(monkeypatch, machine)
    monkeypatch.setattr(probes, "gpu", lambda: None)
    rc, lines = doctor(capsys)
    assert lines[3] == ("FAIL  gpu         no GPU visible (no nvidia-smi, no /dev/nvgpu, /dev/nvhost-gpu or "
                        "/dev/nvidia*); fix: check the L4T install (sudo apt install nvidia-l4t-core) and that this "
                        "user is in the 'video' group: sudo usermod -aG video $USER")
    assert rc == 1


def test_python_and_numpy_below_the_floor(machine, monkeypatch, capsys) -> None:
    monkeypatch.setattr(probes, "python_version", lambda: (3, 9, 18))
    monkeypatch.setattr(probes, "numpy_version", lambda: "1.19.5")
    rc, lines = doctor(capsys)
    assert lines[1] == ("FAIL  python      3.9.18: act-edge needs >= 3.10; fix: use Python >= 3.10 "
                        "(JetPack 6: the system python3, 3.10)")
    assert lines[2] == "FAIL  numpy       1.19.5 is older than act-edge's floor 1.21.5; fix: pip install 'numpy>=1.21.5'"
    assert rc == 1


def test_numpy_2_on_a_jetson_warns(machine, monkeypatch, capsys) -> None:
    as_orin(monkeypatch, machine)
    monkeypatch.setattr(probes, "numpy_version", lambda: "2.2.6")
    rc, lines = doctor(capsys)
    assert lines[2] == ("warn  numpy       2.2.6 on a Jetson: JetPack's TensorRT bindings are built against numpy "
                        "1.x; fix: keep JetPack's numpy: a venv made with --system-site-packages, then pip "
                        "uninstall numpy (docs/jetson.md)")
    assert rc == 0


# --- bundle lines -----------------------------------------------------------------------------------

def test_bundle_ok_lines(machine, bundle, capsys) -> None:
    rc, lines = doctor(capsys, bundle)
    assert lines[:8] == CPU_LINES
    assert lines[8] == "ok    manifest    tiny: 1 camera(s), state 3, action 2 x chunk 4, max batch 4"
    assert lines[9] == "ok    artifacts   3 file(s), sha256 as in the manifest: model.onnx, model.fp16.onnx, parity.npz"
    assert lines[10] == ("ok    engine      not checked: TensorRT and pycuda are not both usable here (see their "
                         "lines); bundles run on onnxruntime")
    m = re.fullmatch(r"ok    smoke run   onnxruntime \(cpu, fp32\): max \|error\| (\S+) normalized action units vs "
                     r"the recorded reference, within the tolerance 5e-05", lines[11])
    assert m and 0 <= float(m.group(1)) < 5e-6, lines[11]
    assert lines[12] == "ready: 12 checks, 1 warning(s)" and rc == 0


def test_corrupted_artifact_fails_artifacts_line(machine, bundle, capsys) -> None:
    f = bundle / "model.fp16.onnx"
    want = json.loads((bundle / MANIFEST).read_text())["artifacts"]["onnx_fp16"]["sha256"]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    rc, lines = doctor(capsys, bundle)
    got = sha256_file(f)
    assert lines[9] == (f"FAIL  artifacts   {f}: sha256 {got[:12]}... does not match the manifest's {want[:12]}... "
                        "(file modified or truncated; re-export the bundle); fix: re-export the bundle "
                        "(act-edge export CKPT) or copy it again from where it was exported")
    assert [ln.split()[1] for ln in lines[8:-1]] == ["manifest", "artifacts", "engine"]  # no smoke run on it
    assert rc == 1


def test_missing_engine_gives_the_build_engine_command(machine, monkeypatch, bundle, capsys) -> None:
    as_orin(monkeypatch, machine)
    rc, lines = doctor(capsys, bundle)
    assert lines[10] == (f"FAIL  engine      TensorRT 10.3.0 on Orin (sm87): no TensorRT engine for fp16 strongly "
                         f"typed (bundle has: none); fix: act-edge build-engine {bundle} --fp16 --max-batch 4")
    assert lines[11].startswith("ok    smoke run   onnxruntime (cpu, fp32)")  # auto fell back to onnxruntime
    assert rc == 1
    rc = main(["doctor", str(bundle), "--json"])
    out = json.loads(capsys.readouterr().out)
    engine = next(c for c in out["checks"] if c["name"] == "engine")
    assert engine["data"]["command"] == f"act-edge build-engine {bundle} --fp16 --max-batch 4"
    assert out["exit_code"] == rc == 1


def test_matching_engine_is_named(machine, monkeypatch, bundle, capsys) -> None:
    as_orin(monkeypatch, machine)
    from act_edge.engine_key import EngineKey

    mf = json.loads((bundle / MANIFEST).read_text())
    key = EngineKey("10.3.0", "Orin", "8.7", "fp16", "strong", mf["artifacts"]["onnx_fp16"]["sha256"], 4)
    (bundle / "engines").mkdir()
    plan = bundle / key.filename()
    plan.write_bytes(np.random.default_rng(0).bytes(256))
    rewrite_manifest(bundle, lambda m: m["engines"].append(
        {"path": key.filename(), "sha256": sha256_file(plan), "key": key.to_dict()}))
    rc, lines = doctor(capsys, bundle)
    assert lines[9].startswith("ok    artifacts   4 file(s)") and lines[9].endswith(key.filename())
    assert lines[10] == f"ok    engine      {key.filename()}"
    plan.write_bytes(b"truncated")
    rc, lines = doctor(capsys, bundle)
    assert lines[9].startswith(f"FAIL  artifacts   {plan}: sha256 ") and lines[9].endswith(
        f"fix: rebuild the engine: act-edge build-engine {bundle}")
    assert rc == 1


def test_smoke_run_error_above_tolerance(machine, bundle, capsys) -> None:
    path = bundle / "parity.npz"
    with np.load(path) as d:
        saved = dict(d)
    saved["actions"] = saved["actions"] + np.float32(1e-3)  # 2e-4 normalized units (min_max span 10)
    np.savez(path, **saved)
    rewrite_manifest(bundle, lambda m: m["artifacts"][PARITY_INPUTS].update(sha256=sha256_file(path)))
    rc, lines = doctor(capsys, bundle)
    m = re.fullmatch(r"FAIL  smoke run   onnxruntime \(cpu, fp32\): max \|error\| (\S+) normalized action units vs "
                     r"the recorded reference exceeds the tolerance 5e-05; fix: re-export the bundle \(act-edge "
                     r"export CKPT\); if it persists, report it with the output of act-edge doctor BUNDLE --json",
                     lines[11])
    assert m and float(m.group(1)) == pytest.approx(2e-4, rel=0.01), lines[11]
    assert rc == 1
    rewrite_manifest(bundle, lambda m: m.setdefault("parity", {}).setdefault("onnx_fp32", {}).update(tolerance=1e-3))
    rc, lines = doctor(capsys, bundle)  # the manifest's own tolerance is the one applied
    assert lines[11].startswith("ok    smoke run") and lines[11].endswith("within the tolerance 0.001") and rc == 0


def test_fp16_backend_judged_in_percent_of_the_action_range(bundle) -> None:
    from act_edge.bundle import load_bundle
    from act_edge.doctor.smoke import judge

    b = load_bundle(bundle)
    ref = np.random.default_rng(5).uniform(-4, 5, (1, 4, 2)).astype(np.float32)
    ok = judge(b, "tensorrt (cuda:0, fp16)", "fp16", ref + np.float32(0.15), ref)  # span 10: 1.5 %
    assert ok.line() == ("ok    smoke run   tensorrt (cuda:0, fp16): max |error| 1.5% of the action range vs the "
                         "recorded reference, within the tolerance 2%")
    bad = judge(b, "tensorrt (cuda:0, fp16)", "fp16", ref + np.float32(0.25), ref)  # 2.5 %
    assert bad.status == "FAIL" and bad.finding.endswith("max |error| 2.5% of the action range vs the recorded "
                                                         "reference exceeds the tolerance 2%")
    assert bad.data["range_definition"] == "max - min (normalization stats)" and bad.data["tolerance_unit"] == "pct_range"
    nan = judge(b, "tensorrt (cuda:0, fp16)", "fp16", np.full_like(ref, np.nan), ref)
    assert nan.line() == ("FAIL  smoke run   tensorrt (cuda:0, fp16): non-finite actions on parity.npz; fix: "
                          "re-export the bundle; for fp16, export without --fp16")


def test_percent_range_comes_from_the_normalization_not_the_reference_span(bundle) -> None:
    """A random-weights policy's reference actions barely move (aloha-sim: span ~1e-4 robot units), so
    a span taken from them turned a 1e-6 error into 0.6 %; the range is 6 std, as in fp16_error."""
    import dataclasses

    from act_edge.bundle import load_bundle
    from act_edge.doctor.smoke import judge
    from act_edge.spec import Normalization

    b = load_bundle(bundle)
    rng = np.random.default_rng(9)
    std = rng.uniform(0.5, 2.0, 2)
    b.spec = dataclasses.replace(b.spec, action_norm=Normalization("mean_std", mean=(0.1, -0.2), std=tuple(std)))
    ref = (1.0 + rng.uniform(-1e-4, 1e-4, (1, 4, 2))).astype(np.float32)  # nearly constant actions
    got = ref + np.float32(0.06)
    check = judge(b, "tensorrt (cuda:0, fp16)", "fp16", got, ref)
    assert check.data["range_definition"].startswith("6 x std")
    assert check.data["max_abs_pct_range"] == pytest.approx(100 * 0.06 / (6 * std.min()), rel=1e-3)
    assert check.status == "ok", check.line()


def test_invalid_manifest_fails_and_stops_bundle_checks(machine, bundle, capsys) -> None:
    rewrite_manifest(bundle, lambda m: m.update(schema_version=99))
    rc, lines = doctor(capsys, bundle)
    assert lines[8] == (f"FAIL  manifest    {bundle / MANIFEST}: schema_version 99, this act-edge reads 1; re-export "
                        "the bundle with this version; fix: re-export the bundle (act-edge export CKPT) or copy it "
                        "again from where it was exported")
    assert len(lines) == 10 and rc == 1


def test_not_a_directory_is_exit_2_one_line(machine, tmp_path, capsys) -> None:
    rc = main(["doctor", str(tmp_path / "nope.actedge")])
    captured = capsys.readouterr()
    assert captured.err == (f"act-edge doctor: error: {tmp_path / 'nope.actedge'}: does not exist "
                            "(expected a bundle directory, *.actedge/)\n")
    assert captured.out == "" and rc == 2


def test_json_schema(machine, bundle, capsys) -> None:
    rc = main(["doctor", str(bundle), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"schema", "act_edge_version", "bundle", "exit_code", "summary", "checks"}
    assert out["schema"] == "act-edge-doctor/1" and out["bundle"] == str(bundle) and out["exit_code"] == rc == 0
    assert [c["name"] for c in out["checks"]] == ["platform", "python", "numpy", "gpu", "tensorrt", "pycuda",
                                                  "onnxruntime", "torch", "manifest", "artifacts", "engine",
                                                  "smoke run"]
    assert [c["status"] for c in out["checks"]] == ["ok"] * 3 + ["warn"] + ["ok"] * 8
    assert all(set(c) == {"name", "status", "finding", "fix", "data"} for c in out["checks"])
    smoke = out["checks"][-1]["data"]
    assert smoke["backend"] == "onnxruntime (cpu, fp32)" and smoke["tolerance"] == 5e-5
    assert smoke["tolerance_unit"] == "normalized" and smoke["max_abs_normalized"] < 5e-6


def test_l4t_from_the_l4t_core_package(monkeypatch) -> None:
    from act_edge.bench import device_info

    monkeypatch.setattr(device_info, "run_command", lambda cmd, timeout=5.0:
                        "36.4.3-20250107174145" if cmd[-1] == "nvidia-l4t-core" else None)
    assert device_info.l4t_from_package() == "36.4.3"
    monkeypatch.setattr(device_info, "run_command", lambda cmd, timeout=5.0: None)
    assert device_info.l4t_from_package() is None


# --- real run: real probes, torch/tensorrt/pycuda/onnx blocked as on a robot without them -------------

BLOCKED_RUN = """
import json, sys
BLOCKED = ("torch", "tensorrt", "onnx", "pycuda")  # act_edge.export stays: it is part of every install

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocker())
from act_edge.cli.main import main
rc = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorrt", "onnx", "pycuda"))
print("LOADED " + json.dumps(loaded))
sys.exit(rc)
"""


def run_blocked_doctor(*args: str):
    import os
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, "doctor", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_real_run_without_torch_every_line_and_json(bundle: Path) -> None:
    import glob
    import platform

    import onnxruntime

    res = run_blocked_doctor(str(bundle))
    lines = res.stdout.splitlines()
    assert lines[-1] == "LOADED []", res.stderr  # doctor never imported torch, tensorrt, onnx or pycuda
    assert res.stderr == ""
    lines = lines[:-1]
    jetson = probes.jetson()
    gpu_visible = bool(shutil.which("nvidia-smi") or glob.glob("/dev/nvidia[0-9]*") or jetson)
    if jetson is None:
        assert re.fullmatch(rf"ok    platform    not a Jetson \({re.escape(platform.machine())}, "
                            rf"{re.escape(platform.system())} .*\): no Jetson model in /proc/device-tree/model, "
                            r"no /etc/nv_tegra_release", lines[0]), lines[0]
    else:
        assert lines[0].startswith(f"ok    platform    {jetson['model']}")
    py = platform.python_version()
    assert lines[1] == f"ok    python      {py} (act-edge needs >= {'.'.join(map(str, probes.python_floor()))})"
    assert lines[2] == f"ok    numpy       {np.__version__} (act-edge needs >= {probes.numpy_floor()})"
    if not gpu_visible:
        assert lines[3:6] == [CPU_LINES[3], CPU_LINES[4], CPU_LINES[5]]
    else:
        assert lines[3].startswith("ok    gpu ") and lines[4].startswith(("warn  tensorrt", "FAIL  tensorrt"))
    providers = ", ".join(onnxruntime.get_available_providers())
    assert lines[6] == f"ok    onnxruntime {onnxruntime.__version__}, providers {providers}"
    assert lines[7] == CPU_LINES[7]  # blocked torch is reported as not installed, never imported
    assert lines[8] == "ok    manifest    tiny: 1 camera(s), state 3, action 2 x chunk 4, max batch 4"
    assert lines[9] == "ok    artifacts   3 file(s), sha256 as in the manifest: model.onnx, model.fp16.onnx, parity.npz"
    assert lines[10].startswith("ok    engine      not checked" if not gpu_visible else "warn  engine      not checked")
    device = "cpu, fp32" if "CUDAExecutionProvider" not in providers else "cuda:0, fp16"
    assert lines[11].startswith(f"ok    smoke run   onnxruntime ({device}): max |error| ")
    assert lines[12] == f"ready: 12 checks, {1 if not gpu_visible else 3} warning(s)"
    assert res.returncode == 0

    res = run_blocked_doctor(str(bundle), "--json")
    assert res.returncode == 0 and res.stdout.splitlines()[-1] == "LOADED []"
    out = json.loads("\n".join(res.stdout.splitlines()[:-1]))
    assert out["exit_code"] == 0 and out["summary"] == lines[12]
    from act_edge.doctor.check import Check

    rebuilt = [Check(c["status"] if c["status"] != "fail" else "FAIL", c["name"], c["finding"], c["fix"]).line()
               for c in out["checks"]]
    assert rebuilt == lines[:12]  # the JSON says what the lines say
    assert out["checks"][7]["data"] == {} and out["checks"][6]["data"]["version"] == onnxruntime.__version__
