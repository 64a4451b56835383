#!/usr/bin/env python3
"""FLOPs and fp16 weight bytes of the z = 0 ACT inference graph per preset, and Orin latency floors.

Counts multiply-accumulates (1 MAC = 2 FLOP) of convolutions and matmuls only; norms, softmax,
activations and pre/post-processing are O(activations) and left out. The graph is what
`act-edge export` runs: ResNet-18 up to layer4 (no pooling/fc) per camera, 1x1 input projection,
encoder over (latent, state, image tokens), the one decoder layer that reaches the output, action
head. The VAE encoder and the unused decoder layers of a training checkpoint are not in it.

Floors: compute = GFLOP / (fp16 dense tensor peak); memory = fp16 weight bytes / DRAM bandwidth.
Real engines reach a fraction of peak; the floor says what no engine can beat.
Usage: python tools/act_roofline.py   (prints the markdown tables in docs/jetson.md)
"""

from __future__ import annotations

from dataclasses import dataclass

# (name, H, W, cameras, d_model, enc layers, dec layers, FF, chunk, state dim, action dim)
PRESETS = [
    ("aloha-sim", 480, 640, 1, 512, 4, 1, 3200, 100, 14, 14),
    ("aloha-real", 480, 640, 4, 512, 4, 1, 3200, 100, 14, 14),
    ("so100", 480, 640, 2, 512, 4, 1, 3200, 50, 6, 6),
]

# Public peak figures (NVIDIA Jetson Orin module data sheets / technical brief): GPU INT8 sparse
# TOPS, GPU clock, tensor cores, DRAM GB/s. fp16 dense tensor TFLOPS = INT8 sparse / 4 (Ampere:
# sparsity x2, INT8 = 2 x fp16) = tensor cores x 256 FMA x 2 x clock; both give the same number.
MODULES = [  # name, tensor cores, GPU max clock GHz, DRAM GB/s
    ("AGX Orin 64GB", 64, 1.300, 204.8),
    ("AGX Orin 32GB", 56, 0.930, 204.8),
    ("Orin NX 16GB", 32, 0.918, 102.4),
    ("Orin NX 8GB", 32, 0.765, 102.4),
    ("Orin Nano 8GB", 32, 0.625, 68.0),
    ("Orin Nano 4GB", 16, 0.625, 34.0),
]


@dataclass
class Count:
    macs: float = 0.0
    params: float = 0.0

    def conv(self, cin: int, cout: int, k: int, hout: int, wout: int, bias: bool = False) -> None:
        self.macs += cin * cout * k * k * hout * wout
        self.params += cin * cout * k * k + (cout if bias else 0)

    def linear(self, din: int, dout: int, tokens: int) -> None:
        self.macs += din * dout * tokens
        self.params += din * dout + dout


def resnet18(h: int, w: int) -> tuple[Count, int, int]:
    """Frozen-BN ResNet-18 trunk: (count, feature H, feature W)."""
    c = Count()
    h, w = -(-h // 2), -(-w // 2)
    c.conv(3, 64, 7, h, w)
    h, w = -(-h // 2), -(-w // 2)  # maxpool
    cin = 64
    for stage, cout in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if (stage > 0 and block == 0) else 1
            h, w = -(-h // stride), -(-w // stride)
            c.conv(cin, cout, 3, h, w)
            c.conv(cout, cout, 3, h, w)
            if stride == 2 or cin != cout:
                c.conv(cin, cout, 1, h, w)  # downsample
            cin = cout
    return c, h, w


def act(h: int, w: int, cams: int, d: int, enc: int, dec: int, ff: int, chunk: int, s: int, a: int) -> Count:
    bb, fh, fw = resnet18(h, w)
    c = Count(bb.macs * cams, bb.params)  # one backbone, run per camera
    n_img = cams * fh * fw
    n = n_img + 2  # + latent and state tokens
    c.conv(512, d, 1, fh * cams, fw, bias=True)  # input projection
    c.linear(s, d, 1)  # state projection
    c.params += 2 * d + chunk * d  # latent token, query embeddings
    for _ in range(enc):
        c.linear(d, 3 * d, n)
        c.linear(d, d, n)
        c.macs += 2 * n * n * d  # QK^T and AV
        c.linear(d, ff, n)
        c.linear(ff, d, n)
    for _ in range(dec):
        c.linear(d, 3 * d, chunk)
        c.linear(d, d, chunk)
        c.macs += 2 * chunk * chunk * d
        c.linear(d, d, chunk)  # cross-attention Q
        c.linear(d, 2 * d, n)  # cross-attention K, V over the memory
        c.linear(d, d, chunk)
        c.macs += 2 * chunk * n * d
        c.linear(d, ff, chunk)
        c.linear(ff, d, chunk)
    c.linear(d, a, chunk)  # action head
    return c


def main() -> None:
    rows = [(p[0], act(*p[1:])) for p in PRESETS]
    print("| preset | cameras | tokens | GFLOP / inference | parameters | fp16 weights |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (name, *_), p in zip(rows, PRESETS):
        _, fh, fw = resnet18(p[1], p[2])
        c = dict(rows)[name]
        print(f"| {name} | {p[3]} | {p[3] * fh * fw + 2} | {2 * c.macs / 1e9:.1f} | {c.params / 1e6:.1f} M "
              f"| {2 * c.params / 1e6:.0f} MB |")
    print()
    print("| module | fp16 dense TFLOPS | DRAM GB/s | " + " | ".join(f"{n} floor (ms)" for n, _ in rows) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in rows) + " |")
    for name, tc, ghz, bw in MODULES:
        tflops = tc * 256 * 2 * ghz / 1e3
        cells = []
        for _, c in rows:
            compute = 2 * c.macs / (tflops * 1e12) * 1e3
            memory = 2 * c.params / (bw * 1e9) * 1e3
            cells.append(f"{max(compute, memory):.2f} ({'compute' if compute >= memory else 'memory'})")
        print(f"| {name} | {tflops:.1f} | {bw:g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
