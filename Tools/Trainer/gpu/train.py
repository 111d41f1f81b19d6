#!/usr/bin/env python3
"""Trains the built-in model on a CUDA GPU with PyTorch (or slowly on a CPU): the GPU backend of t2x-train.

The model, data, objective and schedule are the TorchSharp trainer's (Tools/Trainer/*.cs), ported one to one, so that
`t2x-train import` turns the result into a run folder that `t2x-train export` writes out for the engine. It exists
because machines with a GPU have PyTorch but no .NET; `--check` proves the port computes what the TorchSharp trainer
(and so the engine) computes, on the check case exported with the shipped model. See Tools/Trainer/README.md.

  python3 train.py --out DIR --seconds 420 [--batch 512 --lr 1.5e-3 --layers 6 ...]   writes DIR/config.json,
      DIR/transformer.safetensors and DIR/text_encoder.safetensors (averaged weights, float32), DIR/train.log,
      DIR/checkpoint.pt or --checkpoint-dir's (resumes when present: weights, average, optimizer, step, schedule length)
  python3 train.py --check Tests/Models/Data/builtin-check.safetensors --model Host/BuiltinModel
"""
import argparse, json, math, os, random, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------------------------------
# The caption grammar and vocabulary (Tools/DataGen/Grammar.cs, Tools/Trainer/Vocabulary.cs).
COLORS = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"]
SHAPES = ["circle", "square", "triangle"]
POSITIONS = ["in the top left corner", "at the top", "in the top right corner", "on the left", "in the center",
             "on the right", "in the bottom left corner", "at the bottom", "in the bottom right corner"]
RGB = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (255, 255, 255), (0, 0, 0)]
WORDS = ["a", "and", "on", "background"] + COLORS + SHAPES
for _phrase in POSITIONS:
    WORDS += [w for w in _phrase.split() if w not in WORDS]
PAD, EOS = 0, 1
WORD_ID = {w: 3 + i for i, w in enumerate(WORDS)}  # after <pad>, </s>, <unk>
TRAINED_ROWS = (3 + len(WORDS) + 7) // 8 * 8
MIN_SIZE, MAX_SIZE, MAX_JITTER = 0.22, 0.27, 0.025
T = 1000.0


class Config:
    """ModelConfig (Tools/Trainer/Config.cs), written under its C# property names for `t2x-train import`."""
    FIELDS = ["ImageSize", "InChannels", "NumHeads", "HeadDim", "NumLayers", "PatchSize", "Window", "TextWidth",
              "TextHeads", "TextHeadDim", "TextFeedForward", "TextLayers", "MaxLength"]

    def __init__(self, **values):
        self.ImageSize, self.InChannels, self.MaxLength, self.TextHeadDim = 64, 3, 32, 32
        for k, v in values.items():
            setattr(self, k, v)
        self.Width = self.NumHeads * self.HeadDim
        self.OutChannels = 2 * self.InChannels

    def to_json(self):
        return {k: getattr(self, k) for k in self.FIELDS}


# ---------------------------------------------------------------------------------------------------------------------
# Modules under the official key names (Attention.cs, PtDit.cs, T5Encoder.cs).
def layer_norm(x):
    return F.layer_norm(x, x.shape[-1:], None, None, 1e-6)


def gelu_tanh(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as one kernel."""
    return F.gelu(x, approximate="tanh")


def modulate(y, shift, scale):
    return y * (1 + scale) + shift


def attention(q, k, v, bias):
    if hasattr(F, "scaled_dot_product_attention"):  # a float mask must have the query's dtype (bfloat16 under --bf16)
        return F.scaled_dot_product_attention(q, k, v, None if bias is None else bias.to(q.dtype))
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(scores if bias is None else scores + bias, -1) @ v


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.to_q, self.to_k, self.to_v = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)
        self.to_out = nn.ModuleList([nn.Linear(width, width)])

    def forward(self, x, context, bias=None):
        g, lq, d = x.shape
        lk = context.shape[1]
        heads = lambda t, l: t.view(g, l, self.heads, d // self.heads).transpose(1, 2)
        o = attention(heads(self.to_q(x), lq), heads(self.to_k(context), lk), heads(self.to_v(context), lk), bias)
        return self.to_out[0](o.transpose(1, 2).reshape(g, lq, d))


class WindowLayout:
    """Window p = iH·nW + iW, in-window n = y·ws + z; X is [B·P, N, D] (WindowLayout.cs)."""

    def __init__(self, rows, cols, ws):
        self.rows, self.cols, self.ws, self.shift = rows, cols, ws, ws // 2
        self.wr, self.wc = rows // ws, cols // ws
        self.windows, self.n = self.wr * self.wc, ws * ws

    def to_windows(self, grid):
        b, d = grid.shape[0], grid.shape[3]
        return grid.view(b, self.wr, self.ws, self.wc, self.ws, d).permute(0, 1, 3, 2, 4, 5).reshape(b * self.windows, self.n, d)

    def to_grid(self, w):
        d, b = w.shape[2], w.shape[0] // self.windows
        return w.view(b, self.wr, self.wc, self.ws, self.ws, d).permute(0, 1, 3, 2, 4, 5).reshape(b, self.rows, self.cols, d)

    def roll_forward(self, w):
        return self.to_windows(self.to_grid(w).roll((-self.shift, -self.shift), (1, 2)))

    def roll_back(self, w):
        return self.to_windows(self.to_grid(w).roll((self.shift, self.shift), (1, 2)))

    def shift_mask(self):
        region = lambda i, n: 0 if i < n - self.ws else 1 if i < n - self.shift else 2
        labels = torch.tensor([[3.0 * region(r, self.rows) + region(c, self.cols) for c in range(self.cols)] for r in range(self.rows)])
        windowed = self.to_windows(labels.view(1, self.rows, self.cols, 1)).squeeze(-1)
        same = windowed.unsqueeze(2) == windowed.unsqueeze(1)
        return torch.where(same, torch.tensor(0.0), torch.tensor(-10000.0))


class PtDitBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.scale_shift_table = nn.Parameter(torch.randn(6, width) / math.sqrt(width))
        self.proxy_scale_shift_table = nn.Parameter(torch.randn(3, width) / math.sqrt(width))
        for name in ["proxy_attn1", "attn1", "pvisual_attn2", "attn2", "attn3"]:
            setattr(self, name, Attention(width, heads))
        self.linear_2 = nn.Linear(width, width)
        self.ff = nn.Module()
        self.ff.net = nn.ModuleList([nn.Module(), nn.Dropout(0), nn.Linear(4 * width, width)])
        self.ff.net[0].proj = nn.Linear(width, 4 * width)
        self.linear_1_visual = nn.Linear(width, width)
        for lin in [self.linear_1_visual, self.linear_2]:  # zero start (docs/ptdit.md, quirk Q11)
            nn.init.zeros_(lin.weight); nn.init.zeros_(lin.bias)

    def forward(self, x, t6, ctx, text_bias, shift_bias, layout):
        rows, n, d = x.shape
        p = layout.windows
        b = rows // p
        mod = self.scale_shift_table.unsqueeze(0) + t6
        sw = self.proxy_scale_shift_table.unsqueeze(0) + t6[:, :3]
        row = lambda m, j: m[:, j:j + 1]
        proxies = x.mean(1).view(b, p, d)
        proxies = proxies + self.proxy_attn1(layer_norm(proxies), layer_norm(proxies))
        visual = self.pvisual_attn2(layer_norm(x).view(b, p * n, d), layer_norm(proxies))
        x = x + self.linear_1_visual(visual).view(rows, n, d)
        y = modulate(layer_norm(x), row(mod, 0), row(mod, 1))
        x = x + row(mod, 2) * self.attn1(y, y)
        ys = modulate(layer_norm(layout.roll_forward(x)), row(sw, 0), row(sw, 1))
        a = layout.roll_back(self.attn3(ys, ys, shift_bias))
        x = x + self.linear_2(row(sw, 2) * a)
        xt = x.view(b, p * n, d)
        x = (xt + self.attn2(xt, ctx, text_bias)).view(rows, n, d)
        y = modulate(layer_norm(x), row(mod, 3), row(mod, 4))
        return x + row(mod, 5) * self.ff.net[2](gelu_tanh(self.ff.net[0].proj(y)))


def position_table(h, w, d):
    """The fixed sin-cos table for one frame, [h·w, D] (PtDit.PositionTable, docs/ptdit.md, quirk Q2's axis order)."""
    kt, ks = d // 8, 3 * d // 16
    def sincos(k, pos):
        omega = [10000.0 ** (-i / k) for i in range(k)]
        return [math.sin(pos * o) for o in omega] + [math.cos(pos * o) for o in omega]
    return torch.tensor([sincos(kt, 0) + sincos(ks, idx % h) + sincos(ks, idx // h) for idx in range(h * w)], dtype=torch.float32)


def timestep_sinusoid(t):
    freq = torch.exp(-math.log(10000) * torch.arange(128, dtype=torch.float64) / 128).float().to(t.device)
    angles = t.float().unsqueeze(1) * freq.unsqueeze(0)
    return torch.cat([torch.cos(angles), torch.sin(angles)], 1)


class PtDit(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, p = c.Width, c.PatchSize
        self.pos_embed = nn.Module()
        self.pos_embed.proj = nn.Conv2d(c.InChannels, d, p, p)
        self.transformer_blocks = nn.ModuleList([PtDitBlock(d, c.NumHeads) for _ in range(c.NumLayers)])
        self.scale_shift_table = nn.Parameter(torch.randn(2, d) / math.sqrt(d))
        self.proj_out = nn.Linear(d, p * p * c.OutChannels)
        self.adaln_single = nn.Module()
        self.adaln_single.emb = nn.Module()
        self.adaln_single.emb.timestep_embedder = nn.Module()
        self.adaln_single.emb.timestep_embedder.linear_1 = nn.Linear(256, d)
        self.adaln_single.emb.timestep_embedder.linear_2 = nn.Linear(d, d)
        self.adaln_single.linear = nn.Linear(d, 6 * d)
        self.caption_projection = nn.Module()
        self.caption_projection.linear_1 = nn.Linear(c.TextWidth, d)
        self.caption_projection.linear_2 = nn.Linear(d, d)
        nn.init.zeros_(self.proj_out.weight); nn.init.zeros_(self.proj_out.bias)
        nn.init.normal_(self.adaln_single.linear.weight, 0, 0.02)
        s = c.ImageSize // p
        self.layout = WindowLayout(s, s, c.Window)
        self.register_buffer("table", position_table(s, s, d), persistent=False)
        self.register_buffer("shift_bias", self.layout.shift_mask().unsqueeze(1), persistent=False)

    def forward(self, x, t, text, mask):
        c, lay, b = self.c, self.layout, x.shape[0]
        d, pch, h, w = c.Width, c.PatchSize, lay.rows, lay.cols
        grid = self.pos_embed.proj(x).permute(0, 2, 3, 1) + self.table.view(1, h, w, d)
        hidden = lay.to_windows(grid)
        te = self.adaln_single.emb.timestep_embedder
        temb = te.linear_2(F.silu(te.linear_1(timestep_sinusoid(t))))
        t6 = self.adaln_single.linear(F.silu(temb)).view(b, 1, 6, d).expand(b, lay.windows, 6, d).reshape(b * lay.windows, 6, d)
        ctx = self.caption_projection.linear_2(gelu_tanh(self.caption_projection.linear_1(text)))
        text_bias = ((1 - mask) * -10000.0).view(b, 1, 1, -1)
        shift_bias = self.shift_bias.repeat(b, 1, 1, 1)
        for block in self.transformer_blocks:
            hidden = block(hidden, t6, ctx, text_bias, shift_bias, lay)
        shift = self.scale_shift_table[0].unsqueeze(0) + temb
        scale = self.scale_shift_table[1].unsqueeze(0) + temb
        z = modulate(layer_norm(hidden.view(b, lay.windows * lay.n, d)), shift.unsqueeze(1), scale.unsqueeze(1))
        o = self.proj_out(z).view(b, lay.wr, lay.wc, lay.ws, lay.ws, pch, pch, c.OutChannels)
        return o.permute(0, 7, 1, 3, 5, 2, 4, 6).reshape(b, c.OutChannels, h * pch, w * pch)


class RmsNorm(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6))


class T5Block(nn.Module):
    def __init__(self, c, first):
        super().__init__()
        inner = c.TextHeads * c.TextHeadDim
        self.heads, self.head_dim = c.TextHeads, c.TextHeadDim
        attn = nn.Module()
        attn.q, attn.k, attn.v = (nn.Linear(c.TextWidth, inner, bias=False) for _ in range(3))
        attn.o = nn.Linear(inner, c.TextWidth, bias=False)
        if first:
            attn.relative_attention_bias = nn.Embedding(32, c.TextHeads)
        ff = nn.Module()
        ff.wi_0, ff.wi_1 = (nn.Linear(c.TextWidth, c.TextFeedForward, bias=False) for _ in range(2))
        ff.wo = nn.Linear(c.TextFeedForward, c.TextWidth, bias=False)
        l0, l1 = nn.Module(), nn.Module()
        l0.SelfAttention, l0.layer_norm = attn, RmsNorm(c.TextWidth)
        l1.DenseReluDense, l1.layer_norm = ff, RmsNorm(c.TextWidth)
        self.layer = nn.ModuleList([l0, l1])
        with torch.no_grad():  # T5's initialisation (T5Encoder.cs)
            nn.init.normal_(attn.q.weight, 0, (c.TextWidth * c.TextHeadDim) ** -0.5)
            for lin in [attn.k, attn.v, ff.wi_0, ff.wi_1]:
                nn.init.normal_(lin.weight, 0, c.TextWidth ** -0.5)
            nn.init.normal_(attn.o.weight, 0, inner ** -0.5)
            nn.init.normal_(ff.wo.weight, 0, c.TextFeedForward ** -0.5)

    def forward(self, x, bias):
        b, l, _ = x.shape
        attn, ff = self.layer[0].SelfAttention, self.layer[1].DenseReluDense
        hn = self.layer[0].layer_norm(x)
        heads = lambda t: t.view(b, l, self.heads, self.head_dim).transpose(1, 2)
        scores = heads(attn.q(hn)) @ heads(attn.k(hn)).transpose(2, 3) + bias  # no 1/sqrt(d)
        context = (torch.softmax(scores, -1) @ heads(attn.v(hn))).transpose(1, 2).reshape(b, l, -1)
        x = x + attn.o(context)
        hf = self.layer[1].layer_norm(x)
        return x + ff.wo(gelu_tanh(ff.wi_0(hf)) * ff.wi_1(hf))


def t5_bucket(relative):
    half, exact = 16, 8
    base, n = (half if relative > 0 else 0), abs(relative)
    if n < exact:
        return base + n
    large = exact + int(np.float32(math.log(np.float32(n / exact)) / math.log(np.float32(128 / exact))) * (half - exact))
    return base + min(half - 1, large)


class T5Encoder(nn.Module):
    def __init__(self, c, rows=TRAINED_ROWS):
        super().__init__()
        self.shared = nn.Embedding(rows, c.TextWidth)
        nn.init.normal_(self.shared.weight, 0, 1.0)
        self.encoder = nn.Module()
        self.encoder.block = nn.ModuleList([T5Block(c, i == 0) for i in range(c.TextLayers)])
        self.encoder.final_layer_norm = RmsNorm(c.TextWidth)
        l = c.MaxLength
        self.register_buffer("buckets", torch.tensor([[t5_bucket(j - i) for j in range(l)] for i in range(l)]), persistent=False)

    def forward(self, ids, mask):
        l = ids.shape[1]
        x = self.shared(ids)
        rel = self.encoder.block[0].layer[0].SelfAttention.relative_attention_bias
        bias = rel(self.buckets[:l, :l]).permute(2, 0, 1).unsqueeze(0) + ((1 - mask) * torch.finfo(torch.float32).min).view(mask.shape[0], 1, 1, l)
        for block in self.encoder.block:
            x = block(x, bias)
        return self.encoder.final_layer_norm(x)


class TextToImage(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.text_encoder = T5Encoder(c)
        self.transformer = PtDit(c)

    def forward(self, x, t, ids, mask):
        return self.transformer(x, t, self.text_encoder(ids, mask), mask)


# ---------------------------------------------------------------------------------------------------------------------
# Data (Tools/DataGen/Scene.cs, SceneRenderer.cs): the same distribution, drawn with Python's RNG, rendered on the device.
def random_scene(rng, background_named=None):
    objects, colors, cells = [], [], []
    for _ in range(rng.randrange(2) + 1):
        color = rng.choice([k for k in range(8) if k not in colors])
        cell = rng.choice([k for k in range(9) if k not in cells])
        colors.append(color); cells.append(cell)
        size = MIN_SIZE + rng.random() * (MAX_SIZE - MIN_SIZE)
        cx = (cell % 3 + 0.5) / 3 + (rng.random() * 2 - 1) * MAX_JITTER
        cy = (cell // 3 + 0.5) / 3 + (rng.random() * 2 - 1) * MAX_JITTER
        objects.append((color, rng.randrange(3), cell, cx, cy, size))
    background = rng.choice([k for k in range(8) if k not in colors])
    named = rng.randrange(2) == 0 if background_named is None else background_named
    return objects, background, named


def caption(scene):
    objects, background, named = scene
    text = " and ".join(f"a {COLORS[o[0]]} {SHAPES[o[1]]} {POSITIONS[o[2]]}" for o in objects)
    return f"{text} on a {COLORS[background]} background" if named else text


def tokenize(captions, max_length):
    """Every piece is a whole "▁word": ids = words then </s>, padded with <pad> (checked against t2x tokenize)."""
    ids = np.zeros((len(captions), max_length), np.int64)
    for i, text in enumerate(captions):
        row = [WORD_ID[w] for w in text.split()][:max_length - 1] + [EOS]
        ids[i, :len(row)] = row
    return torch.from_numpy(ids), torch.from_numpy((ids != PAD).astype(np.float32))


def shape_inside(shape, u, v):
    """Which pixels a shape covers, from pixel centers (u, v) relative to its center in half-sizes (SceneRenderer)."""
    return torch.where(shape == 0, u * u + v * v <= 1,
           torch.where(shape == 1, (u.abs() <= 1) & (v.abs() <= 1), (v >= -1) & (v <= 1) & (u.abs() <= (v + 1) / 2)))


def render(scenes, size, device):
    """Flat colors, pixel centers tested against each shape (SceneRenderer.Render): [B, 3, size, size] in [-1, 1]."""
    palette = torch.tensor(RGB, dtype=torch.float32, device=device) / 127.5 - 1
    b = len(scenes)
    obj, present = np.zeros((b, 2, 6)), np.zeros((b, 2), bool)
    for i, (objects, _, _) in enumerate(scenes):
        for k, o in enumerate(objects):
            obj[i, k], present[i, k] = o, True
    obj, present = torch.from_numpy(obj).to(device), torch.from_numpy(present).to(device)
    background = torch.tensor([s[1] for s in scenes], device=device)
    label = background.view(b, 1, 1).expand(b, size, size).clone()
    coord = torch.arange(size, dtype=torch.float64, device=device) + 0.5
    for k in range(2):
        half = (obj[:, k, 5] * size / 2).view(b, 1, 1)
        u = (coord.view(1, 1, size) - (obj[:, k, 3] * size).view(b, 1, 1)) / half
        v = (coord.view(1, size, 1) - (obj[:, k, 4] * size).view(b, 1, 1)) / half
        inside = shape_inside(obj[:, k, 1].long().view(b, 1, 1), u, v) & present[:, k].view(b, 1, 1)
        label = torch.where(inside, obj[:, k, 0].long().view(b, 1, 1), label)
    return palette[label].permute(0, 3, 1, 2).contiguous()


class ScenePosterior:
    """E[x0 | x_t, caption] under the scene distribution itself: the best any denoiser can do, a yardstick for the model.

    Given its caption, a scene is known up to each shape's size and jitter (uniform priors) and, when no background
    is named, the background colour (uniform over the colours the objects lack); the shapes stay inside their cells,
    so the likelihood of x_t = (1 - s)·x0 + s·noise factors over cells. Each shape's size and jitter are summed over a
    grid of `grid`³ points of their prior plus the sample's own values (so that at low noise the mean is the sample
    itself, not its nearest grid point)."""

    def __init__(self, size, device, grid=8):
        self.size, self.device = size, device
        self.window = size - 2 * (size // 3)  # the widest cell; each cell's window starts at its top-left pixel
        g = (torch.arange(grid, dtype=torch.float64) + 0.5) / grid
        sz, dx, dy = (v.reshape(1, -1) for v in torch.meshgrid(MIN_SIZE + (MAX_SIZE - MIN_SIZE) * g,
                                                               MAX_JITTER * (2 * g - 1), MAX_JITTER * (2 * g - 1), indexing="ij"))
        shape, cell = (v.reshape(27, 1).expand(27, grid ** 3) for v in torch.meshgrid(torch.arange(3), torch.arange(9), indexing="ij"))
        self.bank = self.masks(shape.reshape(-1), cell.reshape(-1), ((cell % 3 + 0.5) / 3 + dx).reshape(-1),
                               ((cell // 3 + 0.5) / 3 + dy).reshape(-1), sz.expand(27, -1).reshape(-1)).view(27, grid ** 3, -1)
        cells = torch.arange(9)
        offsets = torch.arange(self.window)
        rows, cols = (cells // 3 * size // 3).view(9, 1, 1) + offsets.view(1, -1, 1), (cells % 3 * size // 3).view(9, 1, 1) + offsets.view(1, 1, -1)
        self.window_index = (rows * size + cols).reshape(9, -1).to(device)

    def masks(self, shape, cell, cx, cy, sz):
        """[N, window²] masks of N shapes (as render draws them) over their cells' windows."""
        size, w = self.size, self.window
        offsets = torch.arange(w, dtype=torch.float64) + 0.5
        half = (sz * size / 2).view(-1, 1, 1)
        u = ((cell % 3 * size // 3).view(-1, 1, 1) + offsets.view(1, 1, w) - (cx * size).view(-1, 1, 1)) / half
        v = ((cell // 3 * size // 3).view(-1, 1, 1) + offsets.view(1, w, 1) - (cy * size).view(-1, 1, 1)) / half
        return shape_inside(shape.view(-1, 1, 1), u, v).reshape(len(shape), w * w).float().to(self.device)

    @torch.no_grad()
    def clean_mean(self, scenes, xt, s):
        """E[x0 | x_t] for each scene's caption: [B, 3, size, size]; s = t/T, [B]."""
        b, pixels, dev = len(scenes), self.size ** 2, self.device
        palette = torch.tensor(RGB, dtype=torch.float32, device=dev) / 127.5 - 1
        obj = torch.zeros(b, 2, 6, dtype=torch.float64)
        obj[:, :, 5] = MAX_SIZE  # absent objects: any valid shape, masked out below
        present = torch.zeros(b, 2, dtype=torch.bool)
        allowed = torch.zeros(b, 8, dtype=torch.bool)
        for i, (objects, background, named) in enumerate(scenes):
            for k, o in enumerate(objects):
                obj[i, k], present[i, k] = torch.tensor(o, dtype=torch.float64), True
            if named:
                allowed[i, background] = True
            else:
                allowed[i] = True
                allowed[i, [o[0] for o in objects]] = False
        a = (1 - s).float().view(b, 1, 1)
        inv = (0.5 / s.float() ** 2).view(b, 1)
        r = xt.float().reshape(b, 1, 3, pixels) - a.unsqueeze(1) * palette.view(1, 8, 3, 1)  # x_t - (1 - s)·background
        log_p = (-(r * r).sum((2, 3)) * inv).masked_fill(~allowed.to(dev), float("-inf"))   # [B, 8 backgrounds]
        mean = palette.view(1, 8, 3, 1).expand(b, 8, 3, pixels).clone()
        for k in range(2):
            has = present[:, k].to(dev)
            color, shape, cell = (obj[:, k, j].long() for j in range(3))
            m = torch.cat([self.bank[(shape * 9 + cell).to(dev)], self.masks(shape, cell, *obj[:, k, 3:].unbind(1)).unsqueeze(1)], 1)
            index = self.window_index[cell.to(dev)].view(b, 1, 1, -1).expand(b, 8, 3, -1)
            d = palette[color.to(dev)].view(b, 1, 3) - palette.view(1, 8, 3)               # shape minus background colour
            # squared error of a mask, less the background's: -2(1-s)·r·d + (1-s)²·|d|² summed over the mask's pixels
            h = -2 * a * (r.gather(3, index) * d.unsqueeze(-1)).sum(2) + (a * a) * (d * d).sum(2, keepdim=True)
            e = -torch.bmm(m, h.transpose(1, 2)) * inv.unsqueeze(1)                          # [B, masks, 8]
            log_p = log_p + torch.where(has.view(b, 1), torch.logsumexp(e, 1), torch.zeros_like(log_p))
            covered = torch.bmm(torch.softmax(e, 1).transpose(1, 2), m)                        # [B, 8, window²]
            add = torch.zeros_like(mean).scatter_(3, index, covered.unsqueeze(2) * d.unsqueeze(-1))
            mean = mean + add * has.view(b, 1, 1, 1)
        return (torch.softmax(log_p, 1).view(b, 8, 1, 1) * mean).sum(1).view(b, 3, self.size, self.size)


# ---------------------------------------------------------------------------------------------------------------------
# Rectified flow (RectifiedFlow.cs).
def transform(t, height, width, scale):
    r = math.sqrt(height * width / (512.0 * 512.0)) * scale
    u = t / T
    return T * r * u / (1 + (r - 1) * u)


def rflow_loss(model, x0, ids, mask, a, gen):
    b, c = x0.shape[0], x0.shape[1]
    t = torch.rand(b, generator=gen, device=x0.device) * T if a.sample_method == "uniform" \
        else torch.sigmoid(torch.randn(b, generator=gen, device=x0.device)) * T
    if a.transform_scale > 0:
        t = transform(t, x0.shape[2], x0.shape[3], a.transform_scale)
    # Shares of the batch drawn uniformly from a band of times instead: high noise (only the caption tells the layout)
    # and any other band to train more (mid noise: the outline; low noise: the edges).
    first = 0
    for share, lo, hi in [(a.high_noise_share, a.high_noise_from, 1.0), (a.band_share, a.band_from, a.band_to)]:
        n = min(b - first, round(share * b))
        if n > 0:
            t = torch.cat([t[:first], (lo + (hi - lo) * torch.rand(n, generator=gen, device=x0.device)) * T, t[first + n:]])
        first += n
    noise = torch.randn(x0.shape, generator=gen, device=x0.device)
    s = (t / T).view(b, 1, 1, 1)
    velocity = model((1 - s) * x0 + s * noise, t, ids, mask)[:, :c]
    return (velocity.float() - (x0 - noise)).pow(2).mean()


@torch.no_grad()
def generate(model, captions, steps, cfg, scale, seed, device, start=None, first_step=0):
    """The engine's sampler; with `start` (clean images), sampling begins at step `first_step` from them noised to
    that step's time (how much of a picture the model keeps once it is half drawn)."""
    c = model.c
    n, s = len(captions), c.ImageSize
    ids, mask = (v.to(device) for v in tokenize(list(captions) + [""] * n, c.MaxLength))
    text = model.text_encoder(ids, mask)
    z = torch.randn(n, c.InChannels, s, s, generator=torch.Generator(device=device).manual_seed(seed), device=device)
    times = [(1 - i / steps) * T for i in range(steps)]
    times = [transform(t, s, s, scale) if scale > 0 else t for t in times]
    if start is not None:
        z = (1 - times[first_step] / T) * start + times[first_step] / T * z
    for i in range(first_step, steps):
        dt = (times[i] - times[i + 1] if i < steps - 1 else times[i]) / T
        out = model.transformer(torch.cat([z, z]), torch.full((2 * n,), times[i], device=device), text, mask)[:, :c.InChannels]
        z = z + (out[n:] + cfg * (out[:n] - out[n:])) * dt
    return ((z.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def one_shot_shapes(model, posterior, scenes, captions, step, a, device):
    """From the true pictures noised to sampler step `step` of 20, how often one guided step of the model predicts
    x0 = x_t + s·v with every shape right, and how often the exact denoiser E[x0 | x_t] does (from step 8 on, every
    time: the caption and the noisy picture together decide every shape, so the gap is what the model has to learn)."""
    c = model.c
    n, size = len(captions), c.ImageSize
    t = transform((1 - step / 20) * T, size, size, a.transform_scale) if a.transform_scale > 0 else (1 - step / 20) * T
    x0 = render(scenes, size, device)
    noise = torch.randn(x0.shape, generator=torch.Generator(device=device).manual_seed(step), device=device)
    xt = (1 - t / T) * x0 + t / T * noise
    ids, mask = (v.to(device) for v in tokenize(list(captions) + [""] * n, c.MaxLength))
    out = model.transformer(torch.cat([xt, xt]), torch.full((2 * n,), t, device=device), model.text_encoder(ids, mask), mask)[:, :c.InChannels]
    predicted = xt + t / T * (out[n:] + a.cfg * (out[:n] - out[n:]))
    exact = posterior.clean_mean(scenes, xt, torch.full((n,), t / T, device=device))
    to_rgb = lambda z: ((z.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return tuple(np.mean([adherence(img, s)[1] for img, s in zip(to_rgb(z), scenes)]) for z in (predicted, exact))


def adherence(rgb, scene):
    """A quick reading of AdherenceChecker.cs for the training log; the engine's own checker is the measure."""
    size = rgb.shape[0]
    palette = np.array(RGB, np.int64)
    labels = ((rgb.astype(np.int64)[:, :, None, :] - palette[None, None]) ** 2).sum(-1).argmin(-1)
    bounds = lambda cell: ((cell % 3) * size // 3, (cell // 3) * size // 3, (cell % 3 + 1) * size // 3, (cell // 3 + 1) * size // 3)
    colors_ok = shapes_ok = True
    objects, background, _ = scene
    for color, shape, cell, *_ in objects:
        x0, y0, x1, y1 = bounds(cell)
        ys, xs = np.nonzero(labels[y0:y1, x0:x1] == color)
        ok = len(ys) >= 0.2 * (MIN_SIZE * size) ** 2 * 0.5
        colors_ok &= ok
        if len(ys) == 0:
            shapes_ok = False; continue
        fill = len(ys) / ((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1))
        seen = 1 if fill > 0.89 else 0 if fill > 0.64 else 2
        shapes_ok &= ok and seen == shape
    votes = np.zeros(8, np.int64)
    for cell in set(range(9)) - {o[2] for o in objects}:
        x0, y0, x1, y1 = bounds(cell)
        votes += np.bincount(labels[y0:y1, x0:x1].ravel(), minlength=8)
    return colors_ok and votes.argmax() == background, shapes_ok


# ---------------------------------------------------------------------------------------------------------------------
# safetensors, read and written directly (no dependency beyond PyTorch).
DTYPES = {"F32": (np.float32, torch.float32), "F16": (np.float16, torch.float16), "BF16": (np.uint16, torch.bfloat16),
          "I64": (np.int64, torch.int64)}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        array = np.frombuffer(data[8 + n + a:8 + n + b], DTYPES[info["dtype"]][0]).reshape(info["shape"])
        if info["dtype"] == "BF16":  # the upper half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(array.astype(np.float32) if info["dtype"] in ("F16", "BF16") else array.copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        blob = tensors[name].detach().float().cpu().contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob); offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(path + ".tmp", path)


def strip(tensors, prefix):
    return {k[len(prefix):]: v for k, v in tensors.items()}


def load_weights(path):
    """Sizes and weights (PT-DiT, T5 state dicts) of a model folder (Host/BuiltinModel's layout, float16) or of this
    script's output (config.json, transformer.safetensors, text_encoder.safetensors)."""
    if os.path.exists(os.path.join(path, "transformer", "config.json")):
        index = json.load(open(os.path.join(path, "transformer", "config.json")))
        t5 = json.load(open(os.path.join(path, "text_encoder", "config.json")))
        c = Config(NumHeads=index["num_heads"], HeadDim=index["head_dim"], NumLayers=index["num_layers"], PatchSize=index["patch_size"],
                   Window=index["compress_ratios"][1], TextWidth=t5["d_model"], TextHeads=t5["num_heads"], TextHeadDim=t5["d_kv"],
                   TextFeedForward=t5["d_ff"], TextLayers=t5["num_layers"])
        dit = read_safetensors(os.path.join(path, "transformer", "diffusion_pytorch_model.safetensors"))
        enc = read_safetensors(os.path.join(path, "text_encoder", "model.safetensors"))
        enc["shared.weight"] = enc["shared.weight"][:TRAINED_ROWS]  # the rows past the vocabulary are zero padding
    else:
        c = Config(**json.load(open(os.path.join(path, "config.json"))))
        dit = strip(read_safetensors(os.path.join(path, "transformer.safetensors")), "transformer.")
        enc = strip(read_safetensors(os.path.join(path, "text_encoder.safetensors")), "text_encoder.")
    return c, dit, enc


def check(a):
    """The port against the check case the TorchSharp trainer exported with the shipped model (float16 weights)."""
    c, dit, enc = load_weights(a.model)
    model = TextToImage(c)
    model.transformer.load_state_dict(dit, strict=True)
    model.text_encoder.load_state_dict(enc, strict=True)
    case = read_safetensors(a.check)
    ids, _ = tokenize(["a red circle in the top left corner and a blue square at the bottom on a white background"], c.MaxLength)
    with torch.no_grad():
        text = model.text_encoder(case["ids"], case["mask"])
        out = model.transformer(case["x"], case["t"], text, case["mask"])
    errors = {"ids": (ids - case["ids"]).abs().max().item(), "text": (text - case["text"]).abs().max().item(),
              "out": (out - case["out"]).abs().max().item()}
    print(f"check against {a.check}: max |difference| {errors} (output rms {case['out'].pow(2).mean().sqrt().item():.3f})")
    return 0 if errors["ids"] == 0 and errors["text"] < 1e-4 and errors["out"] < 1e-4 else 1


# ---------------------------------------------------------------------------------------------------------------------
def train(a):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    os.makedirs(a.out, exist_ok=True)
    log_file = open(os.path.join(a.out, "train.log"), "a")
    def log(line):
        line = time.strftime("%H:%M:%S ") + line
        print(line, flush=True); log_file.write(line + "\n"); log_file.flush()

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.init:  # start from earlier weights and their sizes (a new schedule, fresh optimizer)
        c, dit, enc = load_weights(a.init)
    else:
        c = Config(NumHeads=a.heads, HeadDim=a.head_dim, NumLayers=a.layers, PatchSize=a.patch, Window=a.window,
                   TextWidth=a.text_width, TextHeads=a.text_heads, TextFeedForward=a.text_ff, TextLayers=a.text_layers)
    model, ema = TextToImage(c), TextToImage(c)
    if a.init:
        model.transformer.load_state_dict(dit, strict=True)
        model.text_encoder.load_state_dict(enc, strict=True)
    model, ema = model.to(device), ema.to(device)
    ema.load_state_dict(model.state_dict())
    params = list(model.parameters())
    # Options for speed on a GPU: bfloat16 matrix products (weights, optimizer and loss stay float32), and
    # torch.compile, which fuses the many small element-wise kernels of this narrow model.
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.bf16)
    if a.compile and not hasattr(torch, "compile"):
        sys.exit(f"--compile needs PyTorch 2; this is {torch.__version__}")
    step_model = torch.compile(model) if a.compile else model
    ema_params = list(ema.parameters())
    posterior = ScenePosterior(c.ImageSize, device)
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0, **({"fused": True} if device.type == "cuda" else {}))
    step, total, resumed = 0, a.steps, False
    os.makedirs(a.checkpoint_dir or a.out, exist_ok=True)
    ckpt = os.path.join(a.checkpoint_dir or a.out, "checkpoint.pt")
    if os.path.exists(ckpt):
        state = torch.load(ckpt, map_location=device)
        model.load_state_dict(state["model"]); ema.load_state_dict(state["ema"]); opt.load_state_dict(state["optimizer"])
        step, total, resumed = state["step"], state["total"], True
        log(f"resumed from {ckpt} at step {step} of {total}")
    log(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}), torch {torch.__version__}; "
        f"parameters {sum(p.numel() for p in params):,} (transformer {sum(p.numel() for p in model.transformer.parameters()):,}); "
        f"config {json.dumps(c.to_json())}; options {json.dumps(vars(a))}")

    def lr_at(k):
        if k < a.warmup:
            return a.lr * (k + 1) / a.warmup
        progress = min(1.0, (k - a.warmup) / max(1, total - a.warmup))
        return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def save():
        write_safetensors(os.path.join(a.out, "transformer.safetensors"), {"transformer." + k: v for k, v in ema.transformer.state_dict().items()})
        write_safetensors(os.path.join(a.out, "text_encoder.safetensors"), {"text_encoder." + k: v for k, v in ema.text_encoder.state_dict().items()})
        with open(os.path.join(a.out, "config.json"), "w") as f:
            json.dump(c.to_json(), f, indent=2)
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(), "step": step, "total": total}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)

    def evaluate():
        rng = random.Random(12345)
        scenes = [random_scene(rng, background_named=True) for _ in range(a.eval_prompts)]
        captions = [caption(s) for s in scenes]
        ema.eval()
        images = generate(ema, captions, 20, a.cfg, a.transform_scale, 7, device)
        # Shapes are decided in the middle of sampling: from the true pictures noised to step 14 of 20
        # (t = 632 with the built-in model's transform), how often the sampler still ends at the right shapes.
        kept = generate(ema, captions, 20, a.cfg, a.transform_scale, 7, device, render(scenes, c.ImageSize, device), 14)
        scores = np.array([adherence(img, s) for img, s in zip(images, scenes)])
        kept_shapes = np.mean([adherence(img, s)[1] for img, s in zip(kept, scenes)])
        one_shot = [one_shot_shapes(ema, posterior, scenes, captions, k, a, device) for k in (8, 11, 14)]
        log(f"eval step {step}: colors {scores[:, 0].mean():.0%}, shapes {scores[:, 1].mean():.0%} on {len(scenes)} prompts; "
            f"shapes from the true pictures at step 14 of 20 {kept_shapes:.0%}; one step from the true pictures at steps "
            f"8/11/14: " + " / ".join(f"{m:.0%}" for m, _ in one_shot) + " (exact denoiser " + " / ".join(f"{e:.0%}" for _, e in one_shot) +
            ") (quick checker)")
        return images

    rng = random.Random(a.seed * 1_000_003 + step)
    gen = torch.Generator(device=device).manual_seed(a.seed * 7919 + step)
    start, last_save, last_eval, losses, images = time.time(), time.time(), time.time(), [], None
    warm_step, warm_time = a.calibrate // 4, None  # steps before warm_step (compilation, caches) are not timed
    while step < total:
        if step == warm_step:
            warm_time = time.time()
        if a.seconds and step == a.calibrate and not resumed:  # fit the schedule into the time budget
            per_step = (time.time() - warm_time) / (step - warm_step)
            total = max(step + 1, step + int((a.seconds - (time.time() - start)) / per_step))
            log(f"{per_step * 1000:.1f} ms/step over steps {warm_step}-{step}: schedule set to {total} steps")
        scenes = [random_scene(rng) for _ in range(a.batch)]
        captioned = [rng.random() >= a.caption_dropout for _ in scenes]
        if step < a.single_object_steps:
            scenes = [([s[0][0]], s[1], s[2]) for s in scenes]
        captions = [caption(s) if keep else "" for s, keep in zip(scenes, captioned)]
        x0 = render(scenes, c.ImageSize, device)
        ids, mask = (v.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else v for v in tokenize(captions, c.MaxLength))
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        with autocast():
            loss = rflow_loss(step_model, x0, ids, mask, a, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, params, alpha=1 - decay)
        losses.append(loss.detach())
        step += 1
        if step % 100 == 0:
            log(f"step {step}/{total} loss {torch.stack(losses).mean().item():.4f} lr {lr_at(step):.2e} {(time.time() - start) / step * 1000:.1f} ms/step")
            losses = []
        if time.time() - last_save > a.save_every or step == total:
            save(); last_save = time.time()
        if time.time() - last_eval > a.eval_every or step == total:
            images = evaluate(); last_eval = time.time()
    try:
        images = evaluate() if images is None else images
        from PIL import Image
        grid = images[:64].reshape(8, 8, *images.shape[1:]).transpose(0, 2, 1, 3, 4).reshape(8 * images.shape[1], 8 * images.shape[2], 3)
        Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(os.path.join(a.out, "samples.png"))
    except Exception as e:  # the grid is only for looking at
        log(f"no sample grid: {e}")
    log(f"done: {step} steps in {time.time() - start:.0f} s")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check"); p.add_argument("--model", default="Host/BuiltinModel")
    p.add_argument("--out", default="Tools/Trainer/run/gpu")
    p.add_argument("--checkpoint-dir", help="where checkpoint.pt goes (default: --out)")
    p.add_argument("--init", help="start from this model folder (e.g. Host/BuiltinModel) or this script's output; its sizes win")
    p.add_argument("--seconds", type=float, default=0, help="fit the schedule into this many seconds (step time measured over the last 3/4 of --calibrate steps)")
    p.add_argument("--calibrate", type=int, default=200)
    p.add_argument("--steps", type=int, default=10000); p.add_argument("--batch", type=int, default=512)
    p.add_argument("--lr", type=float, default=1.5e-3); p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--ema", type=float, default=0.999); p.add_argument("--seed", type=int, default=1)
    p.add_argument("--caption-dropout", type=float, default=0.1)
    p.add_argument("--sample-method", default="uniform", choices=["uniform", "logit-normal"])
    p.add_argument("--transform-scale", type=float, default=32, help="RFlow timestep transform scale; 0 = no transform")
    p.add_argument("--high-noise-share", type=float, default=0.3); p.add_argument("--high-noise-from", type=float, default=0.97)
    p.add_argument("--band-share", type=float, default=0.0)
    p.add_argument("--band-from", type=float, default=0.15); p.add_argument("--band-to", type=float, default=0.75)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast for the forward and backward passes")
    p.add_argument("--compile", action="store_true", help="torch.compile the training model (PyTorch 2)")
    p.add_argument("--single-object-steps", type=int, default=0)
    p.add_argument("--layers", type=int, default=6); p.add_argument("--heads", type=int, default=4)
    p.add_argument("--head-dim", type=int, default=32); p.add_argument("--patch", type=int, default=4)
    p.add_argument("--window", type=int, default=4); p.add_argument("--text-width", type=int, default=128)
    p.add_argument("--text-layers", type=int, default=4); p.add_argument("--text-heads", type=int, default=4)
    p.add_argument("--text-ff", type=int, default=512)
    p.add_argument("--cfg", type=float, default=4.0); p.add_argument("--eval-prompts", type=int, default=128)
    p.add_argument("--eval-every", type=float, default=90, help="seconds"); p.add_argument("--save-every", type=float, default=60, help="seconds")
    a = p.parse_args()
    if a.calibrate < 1:
        p.error("--calibrate must be at least 1")
    sys.exit(check(a) if a.check else train(a))


if __name__ == "__main__":
    main()
