#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/ (run from anywhere; rewrites them in place).

Each seed is a valid input, so the fuzzers start deep in each format: the shipped YAML files,
a WAL segment and a snapshot encoded as scheduler/store writes them (CRC-32 of zlib), an IDX
pair of two 2x2 images, an InferRequest, and a sequence of rendezvous requests.
"""
import gzip
import pathlib
import shutil
import struct
import zlib

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"


def write(name, file, data):
    folder = corpus / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file).write_bytes(data)


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):  # a length-delimited protobuf field
    return varint(number << 3 | 2) + varint(len(value)) + value


def uint_field(number, value):
    return varint(number << 3) + varint(value)


# YAML: the shipped configuration files.
for path in sorted((root / "configs" / "jobs").glob("*.yaml")):
    write("job_config_fuzz", path.name, path.read_bytes())
write("job_config_fuzz", "minimal.yaml", b"job: {name: x}\n")
write("scheduler_config_fuzz", "scheduler.yaml", (root / "configs" / "scheduler.yaml").read_bytes())

# WAL: a segment header and two records (wal_format.h).
header = b"CSCHDWAL" + struct.pack("<IQ", 1, 1)
header += struct.pack("<I", zlib.crc32(header))
segment = header
for sequence, payload in ((1, b"first record"), (2, b"\x08\x01\x12\x03j-1")):
    crc = zlib.crc32(payload, zlib.crc32(struct.pack("<Q", sequence)))
    segment += struct.pack("<IQI", len(payload), sequence, crc) + payload
write("wal_fuzz", "two-records", segment)
write("wal_fuzz", "header-only", header)

# Snapshot (snapshot_format.h).
state = b"\x0a\x03j-1\x10\x02"
snapshot = b"CSCHDSNP" + struct.pack("<IQQ", 1, 7, len(state)) + state
snapshot += struct.pack("<I", zlib.crc32(snapshot))
write("snapshot_fuzz", "small", snapshot)

# IDX: the first byte splits the rest into the images file and the labels file (idx_fuzz.cc).
images = struct.pack(">IIII", 0x803, 2, 2, 2) + bytes([0, 64, 128, 255, 1, 2, 3, 4])
labels = struct.pack(">II", 0x801, 2) + bytes([3, 9])
rest = images + labels
split = len(images) * 255 // len(rest)
while len(rest) * split // 255 < len(images):
    split += 1
write("idx_fuzz", "plain-pair", bytes([split]) + rest)
gz_images, gz_labels = gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)
rest = gz_images + gz_labels
split = len(gz_images) * 255 // len(rest)
while len(rest) * split // 255 < len(gz_images):
    split += 1
if len(rest) * split // 255 == len(gz_images):  # the split must land exactly between them
    write("idx_fuzz", "gzip-pair", bytes([split]) + rest)

# InferRequest: two 28x28 images, a deadline and a model (proto/inference.proto).
request = field(1, bytes(range(256)) * 3 + bytes(16)) + field(1, bytes(784))
request += uint_field(2, 20) + field(3, b"fashion-mlp")
write("infer_request_fuzz", "two-images", request)


# Rendezvous: kind byte (0 Set, 1 Get, 2 Wait, 3 DeletePrefix), 2-byte length, the proto.
def op(kind, body):
    return bytes([kind]) + struct.pack("<H", len(body)) + body


ops = op(0, field(1, b"job/j-1/gen/0/rank_0") + field(2, b"10.0.0.1:4000"))
ops += op(2, field(1, b"job/j-1/gen/0/rank_0") + field(1, b"job/j-1/gen/0/rank_1"))
ops += op(0, field(1, b"job/j-1/gen/0/rank_1") + field(2, b"10.0.0.2:4000"))
ops += op(1, field(1, b"job/j-1/gen/0/rank_1"))
ops += op(3, field(1, b"job/j-1/gen/0/"))
write("rendezvous_fuzz", "a-generation", ops)
