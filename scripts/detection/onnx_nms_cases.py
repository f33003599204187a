#!/usr/bin/env python3
"""Writes tests/kernels/cpu/data/onnx_nms_cases.json: the ONNX NonMaxSuppression conformance
cases (onnx/backend/test/data/node/test_nonmaxsuppression_*), read from Debian's
libonnx-testdata, as golden cases for trainer's non_max_suppression.

    apt-get install libonnx-testdata    # /usr/share/libonnx-testdata
    scripts/detection/onnx_nms_cases.py [DATA_DIR]

Each case's model.onnx holds one NonMaxSuppression node (its center_point_box attribute is read
here) and test_data_set_0/ holds the inputs boxes [B, N, 4], scores [B, C, N],
max_output_boxes_per_class, iou_threshold, score_threshold and the output selected_indices
[S, 3] (batch, class, box) as serialized onnx.TensorProto messages. The protobuf wire format
is decoded by hand below (stdlib only), so neither onnx nor protobuf is needed. The JSON keeps
every float32 as the shortest decimal that reads back to the same float32."""
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "kernels", "cpu", "data", "onnx_nms_cases.json")
DEFAULT_DATA = "/usr/share/libonnx-testdata/data/node"


def varint(buf, pos):
    value, shift = 0, 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(buf):
    """Yields (field number, wire type, value) of one message; value is an int for varints and
    fixed-width fields' raw bytes or a length-delimited field's bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def packed_varints(data):
    out, pos = [], 0
    while pos < len(data):
        v, pos = varint(data, pos)
        out.append(signed64(v))
    return out


FLOAT, INT64 = 1, 7  # onnx.TensorProto.DataType


def read_tensor(path):
    """onnx.TensorProto: dims = 1, data_type = 2, float_data = 4, int64_data = 7, raw_data = 9."""
    with open(path, "rb") as f:
        buf = f.read()
    dims, dtype, floats, ints, raw = [], None, [], [], None
    for number, wire, value in fields(buf):
        if number == 1:
            dims += packed_varints(value) if wire == 2 else [signed64(value)]
        elif number == 2:
            dtype = value
        elif number == 4:
            floats += list(struct.unpack(f"<{len(value) // 4}f", value)) if wire == 2 else [
                struct.unpack("<f", struct.pack("<I", value))[0]]
        elif number == 7:
            ints += packed_varints(value) if wire == 2 else [signed64(value)]
        elif number == 9:
            raw = value
    if raw is not None:
        if dtype == FLOAT:
            floats = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        elif dtype == INT64:
            ints = list(struct.unpack(f"<{len(raw) // 8}q", raw))
        else:
            raise ValueError(f"{path}: unsupported data type {dtype}")
    data = floats if dtype == FLOAT else ints
    count = 1
    for d in dims:
        count *= d
    assert len(data) == count, (path, dims, len(data))
    return dims, data


def f32_text(x):
    """Shortest decimal that reads back as the same float32 (as a JSON number)."""
    for digits in range(1, 10):
        text = f"{x:.{digits}g}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == x:
            return float(text)
    return x


def center_point_box(model_path):
    """ModelProto.graph (7) -> GraphProto.node (1) -> NodeProto.attribute (5) ->
    AttributeProto name (1), i (3)."""
    with open(model_path, "rb") as f:
        model = f.read()
    for n, _, graph in fields(model):
        if n != 7:
            continue
        for m, _, node in fields(graph):
            if m != 1:
                continue
            for a, _, attr in fields(node):
                if a != 5:
                    continue
                name, value = None, 0
                for k, _, v in fields(attr):
                    if k == 1:
                        name = v.decode()
                    elif k == 3:
                        value = signed64(v)
                if name == "center_point_box":
                    return value
    return 0


def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DATA
    cases = []
    for name in sorted(os.listdir(data_dir)):
        if not name.startswith("test_nonmaxsuppression_"):
            continue
        case_dir = os.path.join(data_dir, name)
        inputs = [read_tensor(os.path.join(case_dir, "test_data_set_0", f"input_{i}.pb")) for i in range(5)]
        out_dims, out = read_tensor(os.path.join(case_dir, "test_data_set_0", "output_0.pb"))
        (box_dims, boxes), (score_dims, scores) = inputs[0], inputs[1]
        cases.append({
            "name": name[len("test_nonmaxsuppression_"):],
            "center_point_box": center_point_box(os.path.join(case_dir, "model.onnx")),
            "boxes_shape": box_dims,
            "boxes": [f32_text(v) for v in boxes],
            "scores_shape": score_dims,
            "scores": [f32_text(v) for v in scores],
            "max_output_boxes_per_class": inputs[2][1][0],
            "iou_threshold": f32_text(inputs[3][1][0]),
            "score_threshold": f32_text(inputs[4][1][0]),
            "selected_indices": [out[i:i + 3] for i in range(0, len(out), 3)],
        })
        assert out_dims[1] == 3
    doc = {
        "source": "libonnx-testdata 1.12.0 (Debian), data/node/test_nonmaxsuppression_*; "
                  "written by scripts/detection/onnx_nms_cases.py",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
