#!/usr/bin/env python3
"""PyTorch's figures at the shapes of `t2x bench --only gemm,attention` (Tools/Benchmarks/GemmBench.cs, AttentionBench.cs),
for Tools/gpu/proof.sh to set beside the engine's from the same run on the same GPU. One JSON line per row.

  gemm:               y[m, n] = x[m, k] @ W[k, n] (torch.matmul), m in 64/1024/4096 tokens, (k, n) the PT-DiT layers
                      (1152x1152, 1152x4608, 4608x1152, 4096x1152), in f32 (TF32 off, as the engine computes f32),
                      f32 with TF32, bf16 and f16 (activations in the weight type, as cuBLAS wants; the engine keeps f32
                      activations and reads f16/bf16 weights); gflops = 2mkn / median seconds.
  window_attention:   scaled_dot_product_attention over 8x8 windows of a 64x64 token grid (64 windows of 64 tokens),
                      16 heads x 72, batch 1 and 2; gflops = 4 * windows * 64 * 64 * 72 * 16 / seconds.
  attention:          4096 queries over 64 or 200 keys (text), 16 heads x 72.
  matmul_peak:        8192^3 bf16, the GPU's ceiling as torch reaches it.
Every timed call is repeated until 0.1 s have passed, the median of --repeats such runs, synchronized.

  python3 Tools/gpu/torch_peer.py [--device cuda|cpu] [--repeats 5] [--quick]
"""
import argparse, json, statistics, time

import torch


def sdpa(q, k, v):
    """scaled_dot_product_attention (PyTorch 2); on an older torch (Debian's 1.13, for the local check) the plain math."""
    f = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    if f is not None:
        return f(q, k, v)
    return torch.softmax(q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5, dim=-1) @ v


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="m 64 and 1024, two layers, f32 and bf16, batch 1: a check of the script")
    a = p.parse_args()
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    name = torch.cuda.get_device_name(dev) if cuda else "cpu"
    print(json.dumps({"op": "torch_machine", "device": name, "torch": torch.__version__, "cuda": torch.version.cuda}), flush=True)

    def seconds(fn):
        fn(); sync()
        start = time.perf_counter(); fn(); sync(); once = max(time.perf_counter() - start, 1e-6)
        calls = int(min(max(0.1 / once, 1), 1000))
        runs = []
        for _ in range(a.repeats):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            sync()
            runs.append((time.perf_counter() - start) / calls)
        return statistics.median(runs)

    def row(**fields):
        print(json.dumps({"peer": "torch", "device": name, **fields}), flush=True)

    g = torch.Generator(device="cpu").manual_seed(1)
    layers = [(1152, 1152), (1152, 4608), (4608, 1152), (4096, 1152)]
    kinds = [("f32", torch.float32, False), ("f32_tf32", torch.float32, True), ("bf16", torch.bfloat16, False), ("f16", torch.float16, False)]
    tokens = [64, 1024, 4096]
    if a.quick:
        layers, kinds, tokens = layers[:2], [kinds[0], kinds[2]], [64, 1024]
    for m in tokens:
        for k, n in layers:
            for label, dtype, tf32 in kinds:
                if cuda:
                    torch.backends.cuda.matmul.allow_tf32 = tf32
                elif tf32:
                    continue
                x = torch.randn(m, k, generator=g).to(dev, dtype)
                w = (torch.randn(k, n, generator=g) / k ** 0.5).to(dev, dtype)
                try:
                    s = seconds(lambda: torch.matmul(x, w))
                except RuntimeError as e:  # e.g. no f16 matmul on an old torch's CPU
                    row(op="gemm", m=m, n=n, k=k, dtype=label, error=str(e).splitlines()[0])
                    continue
                row(op="gemm", m=m, n=n, k=k, dtype=label, seconds=s, gflops=round(2.0 * m * k * n / s / 1e9, 2))
    torch.backends.cuda.matmul.allow_tf32 = False

    heads, dim, side, window = 16, 72, 64, 8
    windows, wt = (side // window) ** 2, window * window
    for label, dtype in ([("f32", torch.float32), ("bf16", torch.bfloat16)]):
        for batch in ([1] if a.quick else [1, 2]):
            q, k, v = (torch.randn(batch * windows, heads, wt, dim, generator=g).to(dev, dtype) for _ in range(3))
            s = seconds(lambda: sdpa(q, k, v))
            row(op="window_attention", batch=batch, tokens=side * side, keys=wt, heads=heads, head_dim=dim, dtype=label,
                seconds=s, gflops=round(4.0 * windows * batch * wt * wt * dim * heads / s / 1e9, 2))
        for keys in [64, 200]:
            q = torch.randn(1, heads, side * side, dim, generator=g).to(dev, dtype)
            k, v = (torch.randn(1, heads, keys, dim, generator=g).to(dev, dtype) for _ in range(2))
            s = seconds(lambda: sdpa(q, k, v))
            row(op="attention", batch=1, tokens=side * side, keys=keys, heads=heads, head_dim=dim, dtype=label,
                seconds=s, gflops=round(4.0 * side * side * keys * dim * heads / s / 1e9, 2))
    if cuda and not a.quick:
        x, w = (torch.randn(8192, 8192, generator=g).to(dev, torch.bfloat16) for _ in range(2))
        s = seconds(lambda: torch.matmul(x, w))
        row(op="matmul_peak", m=8192, n=8192, k=8192, dtype="bf16", seconds=s, gflops=round(2.0 * 8192 ** 3 / s / 1e9, 1))


if __name__ == "__main__":
    main()
