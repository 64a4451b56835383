"""Bundle manifest contents, verification and atomic writing."""

import json

import numpy as np
import pytest

from act_edge.bundle import (MANIFEST, load_bundle, update_manifest, write_bundle_atomic,
                             write_file_atomic)
from act_edge.errors import BundleError


def test_manifest_describes_the_bundle(exported_bundle):
    b = load_bundle(exported_bundle)
    m = b.manifest
    assert m["format"] == "act-edge-bundle" and m["schema_version"] == 1
    assert [e["name"] for e in m["io"]["inputs"]] == ["images", "state"]
    assert m["io"]["inputs"][0]["cameras"] == ["front", "wrist"]
    assert m["io"]["outputs"][0]["shape"] == ["batch", 10, 4]
    assert m["runtime"] == {"temporal_ensemble_coeff": 0.01, "n_action_steps": 10, "post_steps": []}
    assert m["parity"]["onnx_fp32"]["max_abs_normalized"] <= 5e-5
    assert 0 < m["fp16_error"]["max_abs_pct_range"] < 1
    assert set(m["artifacts"]) == {"onnx_fp32", "onnx_fp16", "parity_inputs"}
    assert m["versions"]["opset"] == 17 and m["source"]["format"] == "act-edge"
    assert len(m["source"]["files"]["tiny.pt"]) == 64
    assert m["model"]["tokens"] == 2 + 2 * 2 * 3


def test_parity_inputs_are_random_and_reproduce_with_onnxruntime(exported_bundle):
    pytest.importorskip("onnxruntime")
    from act_edge.export.onnx_runner import run_onnx

    b = load_bundle(exported_bundle)
    data = np.load(b.artifact_path("parity_inputs"), allow_pickle=False)
    inputs = {k: data[k] for k in ("images", "state")}
    assert inputs["images"].std() > 50 and np.abs(inputs["state"]).min() > 0
    got = run_onnx(b.artifact_path("onnx_fp32"), inputs)
    scale = np.array(b.spec.action_norm.std)
    assert np.abs((got - data["actions"]) / scale).max() <= 5e-5


def test_tampered_artifact_is_refused(synthetic_bundle, tmp_path):
    import shutil

    copy = tmp_path / "t.actedge"
    shutil.copytree(synthetic_bundle.path, copy)
    with open(copy / "parity.npz", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(BundleError, match="parity.npz: sha256 .* does not match"):
        load_bundle(copy).artifact_path("parity_inputs")


@pytest.mark.parametrize("mutate, match", [
    (lambda m: m.update(schema_version=99), "schema_version 99"),
    (lambda m: m.update(format="other"), "not an act-edge manifest"),
    (lambda m: m["spec"].update(chunk_size=0), "invalid spec: chunk_size"),
])
def test_bad_manifests_are_refused(synthetic_bundle, tmp_path, mutate, match):
    import shutil

    copy = tmp_path / "b.actedge"
    shutil.copytree(synthetic_bundle.path, copy)
    m = json.loads((copy / MANIFEST).read_text())
    mutate(m)
    (copy / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(BundleError, match=match):
        load_bundle(copy)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no manifest.json"):
        load_bundle(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="unreadable manifest"):
        load_bundle(tmp_path)


def test_failed_build_leaves_nothing_and_keeps_the_old_bundle(tmp_path, synthetic_bundle):
    import shutil

    dest = tmp_path / "x.actedge"
    shutil.copytree(synthetic_bundle.path, dest)
    before = sorted(p.name for p in dest.iterdir())

    def build(tmp):
        (tmp / "model.onnx").write_bytes(b"partial")
        raise RuntimeError("export crashed half way")

    with pytest.raises(RuntimeError):
        write_bundle_atomic(dest, build)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.actedge"]  # no temp dir left behind
    assert sorted(p.name for p in dest.iterdir()) == before


def _engine_entry(bundle_dir, onnx_sha256, data=b"plan bytes"):
    from act_edge.bundle import sha256_file

    (bundle_dir / "engines").mkdir(exist_ok=True)
    (bundle_dir / "engines" / "x.engine").write_bytes(data)
    key = {"trt_version": "10.3.0", "gpu_name": "Orin", "compute_capability": "8.7", "precision": "fp16",
           "typing": "strong", "onnx_sha256": onnx_sha256, "max_batch": 4, "dla_core": None}
    return {"path": "engines/x.engine", "sha256": sha256_file(bundle_dir / "engines" / "x.engine"),
            "bytes": len(data), "key": key}


def test_update_manifest_and_atomic_file_write(synthetic_bundle, tmp_path):
    import shutil

    copy = tmp_path / "u.actedge"
    shutil.copytree(synthetic_bundle.path, copy)
    sha = load_bundle(copy).artifact("onnx_fp16")["sha256"]
    entry = _engine_entry(copy, sha)
    update_manifest(copy, lambda m: m["engines"].append(entry))
    assert load_bundle(copy).engines == [entry]
    target = tmp_path / "f.bin"
    write_file_atomic(target, b"abc")
    assert target.read_bytes() == b"abc" and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("field, value, match", [
    ("path", "/etc/passwd", r"engines\[0\]\.path: \"/etc/passwd\" is an absolute path"),
    ("sha256", "abc", r"engines\[0\]\.sha256: expected a sha256"),
    ("bytes", float("nan"), r"engines\[0\]\.bytes: expected a finite number, got NaN"),
])
def test_update_manifest_refuses_what_load_would_refuse(synthetic_bundle, tmp_path, field, value, match):
    """build-engine records engines with update_manifest: a record the reader would refuse is never written."""
    import shutil

    copy = tmp_path / "v.actedge"
    shutil.copytree(synthetic_bundle.path, copy)
    entry = _engine_entry(copy, load_bundle(copy).artifact("onnx_fp16")["sha256"])
    entry[field] = value
    before = (copy / MANIFEST).read_bytes()
    with pytest.raises(BundleError, match=match) as info:
        update_manifest(copy, lambda m: m["engines"].append(entry))
    assert "(not updated)" in str(info.value) and len(str(info.value).splitlines()) == 1
    assert (copy / MANIFEST).read_bytes() == before
    load_bundle(copy)
