#!/usr/bin/python3
# Side-by-side training throughput of LayerPipe (`layerpipe bench`) and PyTorch on the CPU: the
# same CIFAR-style ResNet-18 (3x3 stem conv, stride 1, no max-pool; BasicBlocks [2, 2, 2, 2];
# BN; global average pool; fc), the same batch and thread count, SGD with momentum 0.9 and weight
# decay 5e-4, on one fixed synthetic batch (no data loading). The two run alternately, each run in
# a fresh process so that its peak resident memory (getrusage) is its own; the table gives the
# median images/s of each, their ratio and the peak RSS.
#
# Run with Debian's Python, which has python3-torch:
#   /usr/bin/python3 scripts/compare_pytorch.py --layerpipe build/perf/app/layerpipe
# Installs nothing.
# SPDX-License-Identifier: GPL-3.0-or-later
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

# name -> (width, batch, channels, size, classes, timed steps, warm-up steps)
CONFIGS = {
    "w64-b32": (64, 32, 3, 32, 100, 6, 1),
    "w64-b128": (64, 128, 3, 32, 100, 2, 1),
    "w16-b128": (16, 128, 3, 32, 100, 8, 2),
    "w16-b128-1x28": (16, 128, 1, 28, 10, 8, 2),
}


def peak_rss_kib():
    # VmHWM: the peak of this program's own address space. ru_maxrss would also keep the RSS of
    # the parent this worker was forked from (this script, with torch imported: ~228 MiB), as
    # layerpipe bench's figure did before it read VmHWM too.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def torch_worker(a):
    """One PyTorch measurement; prints a JSON object on stdout."""
    try:
        import torch
        import torch.nn as nn
    except ImportError:
        sys.exit("compare_pytorch.py: PyTorch is missing; install it with "
                 "`apt-get install python3-torch` and run this script with /usr/bin/python3")
    rss_after_import = peak_rss_kib()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                                nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18(nn.Module):  # CIFAR stem, as core/model/resnet.cpp (Stem::Cifar)
        def __init__(self, width, channels, classes):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, width, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            layers = []
            cin = width
            for stage in range(4):
                cout = width * 2 ** stage
                for b in range(2):
                    layers.append(BasicBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                    cin = cout
            self.layers = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def forward(self, x):
            x = self.layers(self.relu(self.bn1(self.conv1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    model = ResNet18(a.width, a.channels, a.classes)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(a.batch, a.channels, a.size, a.size)
    y = torch.arange(a.batch) % a.classes

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    loss = 0.0
    for _ in range(a.steps):
        loss += step()
    seconds = time.perf_counter() - t0
    print(json.dumps({"images_per_second": a.batch * a.steps / seconds,
                      "peak_rss_kib": peak_rss_kib(),
                      "rss_after_import_kib": rss_after_import,
                      "loss": loss / a.steps,
                      "torch": torch.__version__,
                      "threads": torch.get_num_threads()}))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out[out.index("{"):])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--layerpipe", default="build/perf/app/layerpipe",
                   help="the layerpipe executable (a release build)")
    p.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS),
                   help="which configurations to run (default: all four)")
    p.add_argument("--rounds", type=int, default=3, help="runs of each side per configuration")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps-scale", type=float, default=1.0,
                   help="multiply every configuration's timed steps")
    p.add_argument("--seed", type=int, default=1)
    # Worker mode (internal): one PyTorch run in this fresh process.
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("width", "batch", "channels", "size", "classes", "steps", "warmup"):
        p.add_argument("--" + name, type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_worker:
        torch_worker(a)
        return
    try:
        import torch  # noqa: F401  (checked here so that the message comes before any run)
    except ImportError:
        sys.exit("compare_pytorch.py: PyTorch is missing; install it with "
                 "`apt-get install python3-torch` and run this script with /usr/bin/python3")
    if not os.access(a.layerpipe, os.X_OK):
        sys.exit(f"compare_pytorch.py: no layerpipe executable at {a.layerpipe}; build it "
                 "(cmake --build <build> --target layerpipe) or pass --layerpipe")

    print(f"PyTorch {torch.__version__} vs {a.layerpipe}, {a.threads} threads, "
          f"{a.rounds} alternating rounds per configuration, each run a fresh process")
    rows = []
    for name in a.configs:
        width, batch, channels, size, classes, steps, warmup = CONFIGS[name]
        steps = max(1, round(steps * a.steps_scale))
        ours_cmd = [a.layerpipe, "bench", "--json", "--no-layers", "--no-telemetry",
                    "--width", str(width), "--batch-size", str(batch),
                    "--image", f"{channels}x{size}x{size}", "--classes", str(classes),
                    "--threads", str(a.threads), "--steps", str(steps),
                    "--warmup", str(warmup), "--seed", str(a.seed)]
        torch_cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker",
                     "--width", str(width), "--batch", str(batch), "--channels", str(channels),
                     "--size", str(size), "--classes", str(classes), "--steps", str(steps),
                     "--warmup", str(warmup), "--threads", str(a.threads),
                     "--seed", str(a.seed)]
        ours, theirs = [], []
        for r in range(a.rounds):
            order = [("ours", ours_cmd), ("torch", torch_cmd)]
            if r % 2 == 1:
                order.reverse()  # alternate who runs first
            for who, cmd in order:
                res = run_json(cmd)
                (ours if who == "ours" else theirs).append(res)
                print(f"  {name} round {r + 1} {who:5s}: "
                      f"{res['images_per_second']:8.1f} images/s, "
                      f"peak RSS {res['peak_rss_kib'] / 1024:7.1f} MiB", flush=True)
        rows.append((name, ours, theirs))

    print()
    header = (f"{'configuration':16s} {'layerpipe img/s':>16s} {'pytorch img/s':>14s} "
              f"{'ratio':>6s} {'best/best':>10s} {'layerpipe RSS':>14s} {'pytorch RSS':>12s} "
              f"{'(torch import)':>15s}")
    print(header)
    print("-" * len(header))
    for name, ours, theirs in rows:
        o = statistics.median(x["images_per_second"] for x in ours)
        t = statistics.median(x["images_per_second"] for x in theirs)
        ob = max(x["images_per_second"] for x in ours)
        tb = max(x["images_per_second"] for x in theirs)
        orss = max(x["peak_rss_kib"] for x in ours) / 1024
        trss = max(x["peak_rss_kib"] for x in theirs) / 1024
        imp = max(x["rss_after_import_kib"] for x in theirs) / 1024
        print(f"{name:16s} {o:16.1f} {t:14.1f} {o / t:6.2f} {ob / tb:10.2f} {orss:10.0f} MiB "
              f"{trss:8.0f} MiB {imp:11.0f} MiB")
    print("\nimages/s and ratio: medians of the rounds; best/best: the fastest round of each (on a "
          "machine shared with other jobs\nthe least disturbed); RSS: the largest peak of the "
          "rounds. Targets: ratio >= 1.3, layerpipe RSS <= pytorch RSS.")


if __name__ == "__main__":
    main()
