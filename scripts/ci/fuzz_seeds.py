#!/usr/bin/env python3
"""Writes the hand-made seeds of the fuzz targets (scripts/ci/fuzz.sh), for the inputs the
repository holds no real file of: TFRecords of tf.train.Example, IDX files, safetensors
checkpoints (well-formed ones and hostile headers). Standard library only.

    scripts/ci/fuzz_seeds.py OUT_DIR     # writes OUT_DIR/{tfrecord_example,idx,safetensors}/*

The committed seeds (tests/*/fuzz/seeds) are these, the repository's configs and label map,
hand-written label maps and config overrides, and crops of a COCO fixture in each JPEG and
PNG variant (with hostile headers made from them); libFuzzer grew the corpora
(tests/*/fuzz/corpus) from them.
"""
import gzip
import json
import os
import struct
import sys

# --- CRC32C and TFRecord framing ---------------------------------------------------------
_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(record):
    length = struct.pack("<Q", len(record))
    return length + struct.pack("<I", masked(length)) + record + struct.pack("<I", masked(record))


# --- protobuf wire format, as much as tf.train.Example needs -----------------------------
def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, payload):  # length-delimited
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def feature(kind, values):
    if kind == "bytes":
        inner = b"".join(field(1, v) for v in values)
        return field(1, inner)
    if kind == "float":
        return field(2, field(1, b"".join(struct.pack("<f", v) for v in values)))
    return field(3, field(1, b"".join(varint(v) for v in values)))


def example(features):
    entries = b"".join(field(1, field(1, k.encode()) + field(2, feature(*v))) for k, v in features.items())
    return field(1, entries)


JPEG_STUB = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def tfrecord_seeds():
    detection = {
        "image/encoded": ("bytes", [JPEG_STUB]),
        "image/format": ("bytes", [b"jpeg"]),
        "image/filename": ("bytes", [b"000000017627.jpg"]),
        "image/source_id": ("bytes", [b"17627"]),
        "image/height": ("int64", [480]),
        "image/width": ("int64", [640]),
        "image/object/bbox/ymin": ("float", [0.1, 0.5]),
        "image/object/bbox/xmin": ("float", [0.2, 0.0]),
        "image/object/bbox/ymax": ("float", [0.4, 1.5]),
        "image/object/bbox/xmax": ("float", [0.3, 0.9]),
        "image/object/class/label": ("int64", [1, 2]),
        "image/object/class/text": ("bytes", [b"person", b"bicycle"]),
        "image/object/is_crowd": ("int64", [0, 1]),
        "image/object/area": ("float", [10.0, 2.5]),
    }
    classification = {
        "image/encoded": ("bytes", [JPEG_STUB]),
        "image/class/label": ("int64", [7]),
        "image/format": ("bytes", [b"JPEG"]),
        "image/filename": ("bytes", [b"n01440764_10026.JPEG"]),
    }
    text_only = dict(detection)
    del text_only["image/object/class/label"]
    wrong_kind = dict(detection)
    wrong_kind["image/object/bbox/xmin"] = ("int64", [1, 2])
    short_list = dict(detection)
    short_list["image/object/bbox/xmax"] = ("float", [0.3])
    nan_box = dict(detection)
    nan_box["image/object/bbox/ymin"] = ("float", [float("nan"), float("inf")])
    records = {
        "detection": example(detection),
        "classification": example(classification),
        "text_only": example(text_only),
        "wrong_kind": example(wrong_kind),
        "short_list": example(short_list),
        "nan_box": example(nan_box),
        "empty_example": b"",
        "not_protobuf": b"\xff\xff\xff\xff",
    }
    seeds = {}
    for name, record in records.items():
        seeds["record_" + name] = b"\x00" + record  # one record, framed by the target
        seeds["record_" + name + "_label_map"] = b"\x02" + record
    two = frame(records["detection"]) + frame(records["classification"])
    seeds["file_two_records"] = b"\x01" + two
    seeds["file_two_records_label_map"] = b"\x03" + two
    seeds["file_truncated"] = b"\x01" + two[:-3]
    bad_crc = bytearray(two)
    bad_crc[20] ^= 0xFF
    seeds["file_bad_data_crc"] = b"\x01" + bytes(bad_crc)
    huge = struct.pack("<Q", 1 << 62)
    seeds["file_huge_length"] = b"\x01" + huge + struct.pack("<I", masked(huge)) + b"\x00" * 8
    seeds["file_empty"] = b"\x01"
    return seeds


# --- IDX ----------------------------------------------------------------------------------
def idx_pair(labels, images):
    return struct.pack("<H", len(labels)) + labels + images


def idx_seeds():
    images = struct.pack(">IIII", 0x803, 3, 2, 2) + bytes(range(12))
    labels = struct.pack(">II", 0x801, 3) + bytes([0, 9, 4])
    return {
        "valid": idx_pair(labels, images),
        "valid_gzip": idx_pair(gzip.compress(labels, mtime=0), gzip.compress(images, mtime=0)),
        "huge_count": idx_pair(struct.pack(">II", 0x801, 0xFFFFFFFF), struct.pack(">IIII", 0x803, 0xFFFFFFFF, 65536, 65536)),
        "huge_size": idx_pair(labels, struct.pack(">IIII", 0x803, 3, 0x7FFFFFFF, 0xFFFFFFFF) + bytes(12)),
        "count_mismatch": idx_pair(struct.pack(">II", 0x801, 2) + bytes(2), images),
        "wrong_magic": idx_pair(labels, struct.pack(">IIII", 0x80D, 3, 2, 2) + bytes(12)),
        "truncated_pixels": idx_pair(labels, images[:-5]),
        "empty_set": idx_pair(struct.pack(">II", 0x801, 0), struct.pack(">IIII", 0x803, 0, 28, 28)),
    }


# --- safetensors --------------------------------------------------------------------------
def safetensors(header, data=b"", header_length=None):
    text = header if isinstance(header, (bytes, str)) else json.dumps(header, separators=(",", ":"))
    text = text.encode() if isinstance(text, str) else text
    n = len(text) if header_length is None else header_length
    return struct.pack("<Q", n) + text + data


def checkpoint_metadata(**changes):
    meta = {"format": "trainer-checkpoint-1", "architecture": "fuzz", "step": "12", "loader_epoch": "1",
            "loader_batch": "3", "loss_scale": "32768", "loss_scale_good_steps": "5", "loss_scale_overflows": "0",
            "skipped_steps": "0", "config": "model { }"}
    meta.update(changes)
    return meta


def model_tensors(params=8):
    # The fuzz target's model: conv.weight [2,3] and conv.bias [2] (8 parameters), the buffer
    # bn.running_mean [2], and the optimizer's flat tensors.
    tensors, offset = {}, 0
    for name, shape in [("conv.weight", [2, 3]), ("conv.bias", [2]), ("bn.running_mean", [2]),
                        ("optimizer.momentum", [params]), ("optimizer.moving_average", [params])]:
        n = 4
        for d in shape:
            n *= d
        tensors[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    return tensors, bytes(offset)


def safetensors_seeds():
    tensors, data = model_tensors()
    good = dict(tensors, __metadata__=checkpoint_metadata())
    seeds = {"checkpoint": safetensors(good, data)}
    seeds["plain_tensors"] = safetensors({"a": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
                                          "b": {"dtype": "BF16", "shape": [], "data_offsets": [16, 18]},
                                          "c": {"dtype": "U8", "shape": [0, 5], "data_offsets": [18, 18]},
                                          "d": {"dtype": "BOOL", "shape": [2], "data_offsets": [18, 20]},
                                          "e": {"dtype": "F16", "shape": [1, 1], "data_offsets": [20, 22]},
                                          "f": {"dtype": "I32", "shape": [1], "data_offsets": [22, 26]}},
                                         bytes(26))
    seeds["header_length_huge"] = safetensors(good, data, header_length=1 << 62)
    seeds["header_length_negative"] = safetensors(good, data, header_length=(1 << 64) - 8)
    seeds["header_length_past_end"] = safetensors(good, data, header_length=len(json.dumps(good)) + len(data) + 1)
    seeds["too_short"] = b"\x10\x00\x00"
    seeds["header_not_json"] = safetensors("{\"a\": [1, 2", bytes(8))
    seeds["header_not_object"] = safetensors("[1,2,3]")
    bad = lambda **t: safetensors({"t": dict({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, **t)}, bytes(16))
    seeds["offsets_past_end"] = bad(data_offsets=[8, 24])
    seeds["offsets_reversed"] = bad(data_offsets=[8, 0])
    seeds["offsets_huge"] = bad(data_offsets=[(1 << 64) - 8, (1 << 64) - 1])
    seeds["offsets_negative"] = bad(data_offsets=[-8, 0])
    seeds["offsets_three"] = bad(data_offsets=[0, 4, 8])
    seeds["offsets_not_numbers"] = bad(data_offsets=["0", "8"])
    seeds["dtype_unknown"] = bad(dtype="F64")
    seeds["dtype_not_string"] = bad(dtype=4)
    seeds["dtype_mismatch"] = bad(dtype="I64")
    seeds["shape_negative"] = bad(shape=[-2])
    seeds["shape_overflow"] = bad(shape=[1 << 62, 4], data_offsets=[0, 0])
    seeds["shape_zero_overflow"] = bad(shape=[0, 1 << 62, 1 << 62], data_offsets=[0, 0])
    seeds["shape_float"] = bad(shape=[2.0])
    seeds["missing_fields"] = safetensors({"t": {"dtype": "F32"}})
    seeds["overlap"] = safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12))
    seeds["same_range"] = safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                       "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8))
    text = json.dumps(good, separators=(",", ":"))
    seeds["duplicate_name"] = safetensors(text[:-1] + ',"conv.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
                                          data)
    seeds["duplicate_metadata"] = safetensors('{"__metadata__":{"a":"1"},"__metadata__":{"b":"2"}}')
    seeds["duplicate_metadata_key"] = safetensors('{"__metadata__":{"a":"1","a":"2"}}')
    seeds["metadata_not_string"] = safetensors({"__metadata__": {"step": 12}})
    for key, value in [("loss_scale", "abc"), ("loss_scale", "nan"), ("loss_scale", "-1"), ("step", "1e3"),
                       ("step", "99999999999999999999"), ("format", "other")]:
        seeds[f"metadata_{key}_{value}"] = safetensors(dict(tensors, __metadata__=checkpoint_metadata(**{key: value})),
                                                       data)
    no_scale = checkpoint_metadata()
    del no_scale["loss_scale"]
    seeds["metadata_no_loss_scale"] = safetensors(dict(tensors, __metadata__=no_scale), data)
    wrong_shape, data2 = model_tensors(params=7)
    seeds["optimizer_wrong_size"] = safetensors(dict(wrong_shape, __metadata__=checkpoint_metadata()), data2)
    missing = dict(tensors, __metadata__=checkpoint_metadata())
    del missing["conv.bias"]
    seeds["missing_weight"] = safetensors(missing, data)
    return seeds


def main():
    out = sys.argv[1]
    for target, seeds in [("tfrecord_example", tfrecord_seeds()), ("idx", idx_seeds()),
                          ("safetensors", safetensors_seeds())]:
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(out, target, name), "wb") as f:
                f.write(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
