# Writes the small torch.save files that Tests/Weights/TorchCheckpointTests.cs reads (run with a Python that has
# torch; these were written with PyTorch 1.13). Values follow simple formulas so the C# test can recompute them.
import collections
import torch

def state():
    w32 = (torch.arange(12, dtype=torch.float32) / 8).reshape(3, 4)
    sd = collections.OrderedDict()
    sd["w32"] = w32
    sd["w16"] = (torch.arange(6, dtype=torch.float32) - 2.5).reshape(2, 3).half()
    sd["wbf"] = (torch.arange(5, dtype=torch.float32) * 0.5 + 1 / 3).bfloat16()
    sd["i64"] = torch.arange(4, dtype=torch.int64) - 1
    sd["i32"] = torch.arange(3, dtype=torch.int32) * 7
    sd["u8"] = torch.arange(4, dtype=torch.uint8) * 60
    sd["mask"] = torch.tensor([True, False, True])
    sd["t"] = w32.t()                  # non-contiguous view of w32's storage
    sd["s"] = w32[1, 1:]               # view with a storage offset
    sd["param"] = torch.nn.Parameter(torch.full((2,), 0.25))
    sd["scalar"] = torch.tensor(3.5)
    lin = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with torch.no_grad():
        lin[0].weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3) - 1)
        lin[0].bias.copy_(torch.tensor([0.5, -0.5]))
    sd["block"] = lin.state_dict()     # nested OrderedDict with _metadata (BUILD)
    return sd

torch.save({"state_dict": state(), "epoch": 5, "name": "fixture", "steps": [1, 2, 3], "lr": 1e-4}, "torch113_state_dict.pt")
torch.save(state(), "torch113_protocol4.pt", pickle_protocol=4)
torch.save(state(), "torch113_legacy.pt", _use_new_zipfile_serialization=False)

# A Megatron / MindSpeed style checkpoint: weights under "model" beside the training run's arguments (an
# argparse.Namespace holding a torch dtype), RNG states (a numpy array inside) and a float64 tensor.
import argparse, random
import numpy as np
random.seed(1)
np.random.seed(1)
torch.manual_seed(1)
megatron = {
    "args": argparse.Namespace(lr=1e-4, params_dtype=torch.bfloat16, layers=[1, 2], tags={"a", "b"}),
    "checkpoint_version": 3.0,
    "iteration": 7,
    "model": state(),
    "rng_state": [{"random_rng_state": random.getstate(), "np_rng_state": np.random.get_state(),
                   "torch_rng_state": torch.get_rng_state()}],
    "loss_scale": torch.tensor([2.0], dtype=torch.float64),
}
torch.save(megatron, "torch113_megatron_like.pt")
