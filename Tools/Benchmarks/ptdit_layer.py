#!/usr/bin/env python3
"""The PyTorch CPU eager baseline of `t2x bench --only ptdit` (Tools/Benchmarks/PtDitBench.cs, which runs this script).

The model is the PT-DiT of Tools/Trainer/gpu/train.py: the official modules and key names, the computation of
docs/ptdit.md §7 (proxy tokens, proxy-to-visual, window, shifted-window and text attention, feed-forward), in float32;
bf16 weights are upcast to float32 on reading, as the engine does on loading them. Text keys and values are computed in
every block of every forward, as in the official code (the engine computes them once per text).

It reads the bench's random checkpoint (the official layout, n blocks) and its inputs, checks the n-block model's output
against the engine's, then times the per-layer cost as the bench times the engine's: (n-block forward - 1-block forward)
/ (n - 1), each the median of --repeats forwards after a warm-up (the two models taking turns), under torch.no_grad
with --threads intra-op threads. Prints one JSON line: rel_error (|torch - engine| / |engine|, whole output), layer_s,
the forward seconds, the torch version and the BLAS library torch's matrix products ran on, with its kernel and threads.

--device cuda (the bench passes T2X_TORCH_DEVICE, default cpu) runs the same model on a CUDA GPU, float32 without TF32,
each timed call followed by torch.cuda.synchronize(); blas then names cuBLAS and the GPU.

  /usr/bin/python3 ptdit_layer.py --weights W.safetensors --case C.safetensors --heads 16 --window 8 [--repeats 3] [--threads 2] [--device cpu|cuda]
"""
import argparse, ctypes, json, os, statistics, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Trainer", "gpu"))
import torch  # noqa: E402
from train import Config, PtDit, read_safetensors  # noqa: E402


def blas():
    """The BLAS library loaded in this process: OpenBLAS names the kernel it chose for the CPU and its thread count."""
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if "libopenblas" in os.path.basename(path):
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            version = " ".join(lib.openblas_get_config().decode().split()[:2])
            forced = os.environ.get("OPENBLAS_CORETYPE")
            how = f" (forced by OPENBLAS_CORETYPE={forced})" if forced else ""
            return f"{version} {lib.openblas_get_corename().decode()}{how}", lib.openblas_get_num_threads()
    info = [part for part in torch.__config__.show().replace("\n", ",").split(",") if "BLAS_INFO" in part]
    return (info[0].strip() if info else "unknown"), None


def median_seconds(actions, repeats, sync=lambda: None):
    """Median seconds of each action after a warm-up call, the actions taking turns (as Benches.Medians does)."""
    for action in actions:
        action()
    sync()
    times = [[] for _ in actions]
    for _ in range(repeats):
        for action, seconds in zip(actions, times):
            start = time.perf_counter()
            action()
            sync()
            seconds.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True)
    p.add_argument("--case", required=True, help="latents [B,C,1,H,W], timestep [B], text [B,L,Cc], mask [B,L], output [B,Co,1,H,W]")
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--window", type=int, required=True, help="window side in tokens (compress_ratios[1] = [2])")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    weights, case = read_safetensors(a.weights), read_safetensors(a.case)
    case = {k: v.to(device) for k, v in case.items()}
    x = case["latents"][:, :, 0]  # one frame: train.py's PtDit takes [B, C, H, W]
    t, text, mask = case["timestep"], case["text"], case["mask"]
    layers = 1 + max(int(k.split(".")[1]) for k in weights if k.startswith("transformer_blocks."))
    width = weights["scale_shift_table"].shape[1]

    def model(n):
        c = Config(ImageSize=x.shape[-1], InChannels=x.shape[1], NumHeads=a.heads, HeadDim=width // a.heads, NumLayers=n,
                   PatchSize=weights["pos_embed.proj.weight"].shape[-1], Window=a.window, TextWidth=text.shape[-1])
        m = PtDit(c)
        keep = lambda k: not k.startswith("transformer_blocks.") or int(k.split(".")[1]) < n
        m.load_state_dict({k: v for k, v in weights.items() if keep(k)}, strict=True)
        return m.eval().to(device)

    with torch.no_grad():
        full, one = model(layers), model(1)
        out, want = full(x, t, text, mask).double(), case["output"][:, :, 0].double()
        rel_error = ((out - want).norm() / want.norm()).item()
        one_s, full_s = median_seconds([lambda: one(x, t, text, mask), lambda: full(x, t, text, mask)], a.repeats, sync)
    library, blas_threads = (f"cuBLAS on {torch.cuda.get_device_name(device)}", None) if cuda else blas()
    print(json.dumps({
        "rel_error": rel_error, "layer_s": (full_s - one_s) / (layers - 1),
        "forward_1_s": one_s, f"forward_{layers}_s": full_s, "layers": layers,
        "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(), "blas": library, "blas_threads": blas_threads,
    }))


if __name__ == "__main__":
    main()
