"""EngineKey: naming, validation, compatibility errors, engine selection from a manifest (pure Python)."""

from __future__ import annotations

import pytest

from act_edge.engine_key import EngineKey, EngineMismatch, Machine, check_compatible, find_engine
from act_edge.errors import BackendUnavailable

SHA16 = "1a2b3c4d" + "0" * 56
SHA32 = "ffee0011" + "1" * 56
ORIN = Machine("10.3.0", "Orin", "8.7")


def key(**kw) -> EngineKey:
    base = dict(trt_version="10.3.0", gpu_name="Orin", compute_capability="8.7", precision="fp16",
                typing="strong", onnx_sha256=SHA16, max_batch=8)
    return EngineKey(**{**base, **kw})


def entry(k: EngineKey) -> dict:
    return {"path": k.filename(), "sha256": "0" * 64, "bytes": 1, "key": k.to_dict()}


def test_filename_encodes_every_key_field():
    assert key().filename() == "engines/model.fp16-strong.sm87-orin.trt10.3.0.b8.1a2b3c4d.engine"
    assert key(gpu_name="NVIDIA GeForce RTX 4090", compute_capability="8.9", precision="fp32",
               onnx_sha256=SHA32, max_batch=1).filename() == \
        "engines/model.fp32-strong.sm89-nvidia-geforce-rtx-4090.trt10.3.0.b1.ffee0011.engine"
    assert key(typing="weak", dla_core=1).filename() == \
        "engines/model.fp16-weak.sm87-orin.dla1.trt10.3.0.b8.1a2b3c4d.engine"


def test_distinct_keys_get_distinct_filenames():
    variants = [key(), key(trt_version="10.13.3.9"), key(compute_capability="9.0"), key(precision="fp32"),
                key(typing="weak"), key(onnx_sha256=SHA32), key(max_batch=4), key(dla_core=0)]
    assert len({k.filename() for k in variants}) == len(variants)


def test_roundtrip_through_manifest_dict():
    k = key(dla_core=0)
    assert EngineKey.from_dict(k.to_dict()) == k


@pytest.mark.parametrize("kw, msg", [
    (dict(precision="int8"), "precision"),
    (dict(typing="loose"), "typing"),
    (dict(precision="fp32", typing="weak"), "weak typing"),
    (dict(compute_capability="87"), "compute_capability"),
    (dict(onnx_sha256="abc"), "sha256"),
    (dict(max_batch=0), "max_batch"),
])
def test_invalid_keys_are_rejected(kw, msg):
    with pytest.raises(ValueError, match=msg):
        key(**kw)


def test_compatible_engine_passes():
    check_compatible(key(), ORIN, "b.actedge")


def test_other_trt_version_error_is_one_line_with_expected_found_and_rebuild():
    with pytest.raises(EngineMismatch) as exc:
        check_compatible(key(trt_version="10.13.3.9"), ORIN, "/data/aloha.actedge", "engines/x.engine")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "engines/x.engine" in msg
    assert "expected TensorRT 10.3.0 (engine built with 10.13.3.9)" in msg
    assert msg.endswith("rebuild it here: act-edge build-engine /data/aloha.actedge --fp16 --max-batch 8")
    assert isinstance(exc.value, BackendUnavailable)  # the Policy's "backend can't run here" type


def test_other_gpu_error_names_both_gpus():
    with pytest.raises(EngineMismatch) as exc:
        check_compatible(key(gpu_name="NVIDIA H100 80GB HBM3", compute_capability="9.0"), ORIN, "b")
    msg = str(exc.value)
    assert "expected GPU Orin sm87 (engine built on NVIDIA H100 80GB HBM3 sm90)" in msg
    assert "TensorRT" not in msg.split("rebuild")[0]  # the version matched: not blamed


def test_same_name_other_compute_capability_is_incompatible():
    with pytest.raises(EngineMismatch, match="sm72"):
        check_compatible(key(compute_capability="7.2"), ORIN, "b")


def test_weak_and_dla_rebuild_command_keeps_options():
    cmd = key(typing="weak", dla_core=0, max_batch=2).rebuild_command("my bundle.actedge")
    assert cmd == "act-edge build-engine 'my bundle.actedge' --fp16 --weak-typing --max-batch 2 --dla-core 0"


def test_find_engine_prefers_fp16_strong_and_skips_other_machines():
    engines = [key(precision="fp32", onnx_sha256=SHA32), key(typing="weak", onnx_sha256=SHA32),
               key(trt_version="10.13.3.9"), key()]
    manifest = {"engines": [entry(k) for k in engines]}
    assert find_engine(manifest, ORIN, "b")["key"] == key().to_dict()
    assert find_engine(manifest, ORIN, "b", precision="fp32")["key"]["precision"] == "fp32"
    assert find_engine(manifest, ORIN, "b", typing="weak")["key"]["typing"] == "weak"


def test_find_engine_without_engines_says_how_to_build():
    with pytest.raises(EngineMismatch) as exc:
        find_engine({"engines": [], "max_batch": 4}, ORIN, "b.actedge")
    assert "no TensorRT engine" in str(exc.value)
    assert str(exc.value).endswith("act-edge build-engine b.actedge --fp16 --max-batch 4")


def test_find_engine_for_other_machine_reports_the_mismatch():
    manifest = {"engines": [entry(key(trt_version="11.4.0.106"))]}
    with pytest.raises(EngineMismatch, match=r"expected TensorRT 10.3.0 \(engine built with 11.4.0.106\)"):
        find_engine(manifest, ORIN, "b")


def test_find_engine_ignores_engines_of_a_replaced_onnx():
    manifest = {"engines": [entry(key(onnx_sha256=SHA32))]}  # fp16 engine from an older model.fp16.onnx
    with pytest.raises(EngineMismatch, match="no TensorRT engine"):
        find_engine(manifest, ORIN, "b", onnx_sha256={"fp16": SHA16})
    assert find_engine(manifest, ORIN, "b", onnx_sha256={"fp16": SHA32})["key"]["onnx_sha256"] == SHA32


def test_find_engine_batch_too_large_for_profile():
    manifest = {"engines": [entry(key(max_batch=2))]}
    assert find_engine(manifest, ORIN, "b", max_batch=2)
    with pytest.raises(EngineMismatch, match=r"batch <= 2, expected max batch 8.*--max-batch 8$"):
        find_engine(manifest, ORIN, "b", max_batch=8)


def test_find_engine_prefers_gpu_over_dla_and_the_smallest_sufficient_profile():
    manifest = {"engines": [entry(key(dla_core=0, max_batch=1)), entry(key(max_batch=8)), entry(key(max_batch=2))]}
    chosen = find_engine(manifest, ORIN, "b", max_batch=1)["key"]
    assert (chosen["dla_core"], chosen["max_batch"]) == (None, 2)
