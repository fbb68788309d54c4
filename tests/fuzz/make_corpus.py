#!/usr/bin/env python3
# Writes the seed corpora in corpus/<target>/: a few valid and near-valid inputs per fuzz target,
# each small. Rerun after a format change and commit the result; the fuzzers grow their own
# corpora from these in a temporary copy (.ci/fuzz).
# SPDX-License-Identifier: GPL-3.0-or-later
import gzip
import json
import shutil
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    path = HERE / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


# ---- safetensors: the layout of io::serializeSafetensors (the reference writer's) ----

def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes), already in data order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"))
    if pad:
        text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + b"".join(t[3] for t in tensors)


def f32(*v):
    return struct.pack(f"<{len(v)}f", *v)


def idx(dims, fill=0):
    head = struct.pack(">I", 0x0800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    count = 1
    for d in dims:
        count *= d
    return head + bytes((fill + i) % 10 for i in range(count))


def main():
    shutil.rmtree(HERE, ignore_errors=True)
    bn = [("bn.num_batches_tracked", "I64", [], struct.pack("<q", 7)),
          ("bn.bias", "F32", [2], f32(0.5, -0.5)),
          ("bn.weight", "F32", [2], f32(1.0, 2.0))]
    write("fuzz_safetensors", "model.safetensors",
          safetensors(bn, {"format": "pt", "arch": "resnet18"}))
    write("fuzz_safetensors", "conv.safetensors",
          safetensors([("conv.weight", "F32", [2, 1, 1, 2], f32(1, 2, 3, 4))]))
    write("fuzz_safetensors", "empty.safetensors", safetensors([]))
    write("fuzz_safetensors", "zero_size.safetensors", safetensors([("e", "F32", [0, 3], b"")]))
    write("fuzz_safetensors", "convert.safetensors",
          safetensors([("d", "F64", [2], struct.pack("<2d", 1.5, -2.25)),
                       ("h", "F16", [2], struct.pack("<2H", 0x3C00, 0x7C00)),
                       ("b", "BF16", [3], struct.pack("<3H", 0x3F80, 0xFF80, 0x0001))], pad=False))
    # Near-valid: each breaks one rule.
    write("fuzz_safetensors", "gap.safetensors",
          safetensors([("a", "F32", [1], f32(1)), ("b", "F32", [1], f32(2))])[:-4] + b"\0" * 8)
    write("fuzz_safetensors", "u8.safetensors", safetensors([("u", "U8", [4], b"\1\2\3\4")]))
    write("fuzz_safetensors", "truncated.safetensors", safetensors(bn)[:-3])
    write("fuzz_safetensors", "big_shape.safetensors",
          safetensors([("w", "F32", [4294967296, 4294967296, 16], b"")]))

    # ---- config: the document, then "--set key=value" lines (fuzz_config.cpp) ----

    defaults = {  # io::toJson(ExperimentConfig{})
        "data": {"augment": True, "dataset": "auto", "path": "", "syntheticTest": 512,
                 "syntheticTrain": 2048, "testLimit": 0, "trainLimit": 0},
        "description": "",
        "eval": {"recalibrateBatchNorm": 0},
        "model": {"arch": "resnet18", "classes": 0, "inputChannels": 0, "inputSize": 0,
                  "norm": "batch", "stem": "cifar", "width": 64},
        "name": "experiment",
        "optimizer": {"beta1": 0.9, "beta2": 0.999, "dampening": 0.0, "eps": 1e-08, "kind": "sgd",
                      "lr": 0.1, "momentum": 0.9, "nesterov": False, "weightDecay": 0.0005},
        "pipeline": {"cuts": [], "delays": [], "diagnosticStash": False, "emaBeta": "window",
                     "emaBetaValue": 0.9, "microBatches": 4, "policy": "stash",
                     "schedule": "layerpipe", "telemetry": True},
        "schedule": {"gamma": 0.1, "kind": "cosine", "minLr": 0.0, "stepEpochs": 30,
                     "warmupEpochs": 0.0},
        "training": {"batchSize": 128, "epochs": 1, "maxSteps": 0, "seed": 1, "threads": 0},
    }
    write("fuzz_config", "defaults.json", json.dumps(defaults, indent=4) + "\n")
    write("fuzz_config", "pipeline.json", json.dumps(
        {"name": "p", "model": {"arch": "resnet10", "width": 8},
         "pipeline": {"cuts": [2, 4], "delays": [4, 2, 0], "policy": "ema", "emaBeta": "fixed",
                      "emaBetaValue": 0.5}}) + "\n--set training.epochs=3\n--set pipeline.cuts=3")
    write("fuzz_config", "overrides_only.txt",
          "\n--set optimizer.lr=0.05\n--set data.augment=0\n--set training.seed=18446744073709551615"
          "\n--set pipeline.delays=[2]\n--set description=hello")
    write("fuzz_config", "gpipe.json", '{"pipeline": {"schedule": "gpipe", "microBatches": 8},'
          ' "training": {"batchSize": 8}, "optimizer": {"kind": "adamw", "nesterov": false}}')
    # Near-valid: a duplicate key, a range error, a wrong type, an unknown key.
    write("fuzz_config", "duplicate.json", '{"training": {"epochs": 2, "epochs": 3}}')
    write("fuzz_config", "range.json", '{"optimizer": {"lr": 11}, "schedule": {"minLr": 0.5}}')
    write("fuzz_config", "type.json", '{"training": {"epochs": 2.5, "seed": -1}}\n--set model=3')
    write("fuzz_config", "unknown.json", '{"trainig": {}}\n--set optimizer.lr=abc')

    # ---- gzip (fuzz_gunzip) ----

    write("fuzz_gunzip", "hello.gz", gz(b"hello, world\n" * 4))
    write("fuzz_gunzip", "two_members.gz", gz(b"first\n") + gz(b"second\n"))
    write("fuzz_gunzip", "empty_member.gz", gz(b""))
    write("fuzz_gunzip", "stored.gz", gzip.compress(bytes(range(64)), compresslevel=0, mtime=0))
    write("fuzz_gunzip", "truncated.gz", gz(b"abcdefgh" * 16)[:-5])

    # ---- IDX (fuzz_idx): first byte = rank - 1 (bits 0-1) | 4 when gzipped ----


    write("fuzz_idx", "labels", bytes([0]) + idx([5]))
    write("fuzz_idx", "images", bytes([2]) + idx([2, 4, 4], 3))
    write("fuzz_idx", "images.gz", bytes([2 | 4]) + gz(idx([2, 3, 5], 1)))
    write("fuzz_idx", "rank4", bytes([3]) + idx([1, 2, 2, 2]))
    write("fuzz_idx", "trailing", bytes([0]) + idx([3]) + b"\0")
    write("fuzz_idx", "huge_dims", bytes([2]) + idx([1, 1, 1])[:4] + b"\xff" * 12 + b"\0")

    # ---- CIFAR (fuzz_cifar): first byte 0 = CIFAR-10 (3073-byte records), 1 = CIFAR-100 (3074) ----

    pixels = bytes(i % 256 for i in range(3072))
    write("fuzz_cifar", "cifar10_one", bytes([0, 7]) + pixels)
    write("fuzz_cifar", "cifar100_one", bytes([1, 19, 99]) + pixels)
    write("fuzz_cifar", "cifar10_bad_label", bytes([0, 10]) + pixels)
    write("fuzz_cifar", "cifar100_short", bytes([1, 3, 42]) + pixels[:100])


if __name__ == "__main__":
    main()
