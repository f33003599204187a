#!/usr/bin/env python3
"""Prepares the detection demo's data: aerial tree-crown photos with boxes, as COCO JSON.

Source: the PyPI package deepforest 2.1.0 (MIT licence, Weecology; Weinstein et al. 2020,
https://doi.org/10.1111/2041-210X.13472) ships a few hand-annotated crops of NEON Airborne
Observation Platform RGB orthophotos (10 cm per pixel; NEON data are public domain, CC0 1.0;
NEON asks to be credited: "National Ecological Observatory Network (NEON)"). The package is not
installed: its wheel is downloaded with pip (no dependencies) and only `deepforest/data/*` is
unzipped.

Splits:
  train  2019_YELL_2_541000_4977000_image_crop (1249x1035, 279 boxes) and
         2019_YELL_2_528000_4978000_image_crop2 (2299x2472, 574 boxes), Yellowstone (YELL),
         cut into square tiles.
  eval   OSBS_029 (400x400, 61 boxes), Ordway-Swisher (OSBS), whole, another site and forest.

Box reading. The annotations are Pascal VOC XML, whose coordinates are 1-based and inclusive:
pixel columns xmin..xmax are inside the box. The files confirm it: the smallest coordinate is
1 and the largest equals the image's width or height, never 0. This script reads them as VOC
does: in continuous pixel coordinates with the image spanning [0, width], a box is
x = xmin - 1, y = ymin - 1, w = xmax - xmin + 1, h = ymax - ymin + 1, which is also how COCO's
[x, y, w, h] is written. (DeepForest itself uses the raw numbers as corners: its boxes' left
and top edges lie one pixel further right and down, one pixel narrower and shorter; a pixel on
40-pixel crowns.)

Tiling. The detector (SSD320) sees 320x320 inputs. The crowns are small: median side about 40
px, from 9 px to 109 px. The eval image is 400x400 and is resized whole to 320 (factor 0.8), so
the train tiles are 400x400 as well: the trees then reach the network at the same scale in
training and evaluation (median side about 30 px, near the 32 px of SSD320's smallest anchors:
level 3, stride 8, anchor_scale 4), instead of shrinking a whole 2299x2472 crop by 7x into
5-pixel trees. Neighbouring tiles overlap by at least 120 px, more than the largest box (109
px), so every tree lies wholly inside at least one tile; the tile origins are spread evenly so
that the last tile ends at the image's edge (no padding). A box goes into a tile when at least
half of its area lies inside the tile; it is clipped to the tile. Boxes cut at a tile's edge
therefore appear as partial crowns, as they do at the edges of the annotated crops themselves.

Outputs, under --out (default runs/data/deepforest/ in the repository, which git ignores):
  train/*.png, train.json     400x400 tiles and their COCO instances annotations
  eval/OSBS_029.png, eval.json
  label_map.pbtxt             StringIntLabelMap: id 1 "tree"
  preview/*.png               with --preview: copies with the boxes drawn
  venv/                       Python environment holding Pillow (PNG reading and writing)
  wheel/, raw/                the downloaded wheel and its unzipped data folder
COCO image file names are relative to train/ or eval/ (coco_json_input_reader's image_dir).

Image I/O uses Pillow, which neither the system Python nor the project's .venv has: the script
creates its own venv under --out with `python3 -m venv` (Debian's python3-venv, which
scripts/install_deps.sh installs), installs a pinned Pillow into it with pip, and re-runs itself
there; pip in that venv also downloads the wheel. Everything else is the standard library.

Running it again skips what is done: the venv, the download (checked against its SHA-256), the
unzip, and the conversion (when prepared.json records the same settings and every file is
there); --force redoes the conversion. It prints a summary of the data either way.

Usage: python3 scripts/demo/prepare_deepforest.py [--out DIR] [--preview] [--force]
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_OUT = os.path.join(ROOT, "runs", "data", "deepforest")

PACKAGE = "deepforest==2.1.0"
WHEEL = "deepforest-2.1.0-py3-none-any.whl"
WHEEL_SHA256 = "8c2798d8e9be7f0004b194fe207b76c1d9fff6e711b3db67b9508dcd5d00ae54"
PILLOW = "pillow==13.0.0"
IN_VENV_FLAG = "PREPARE_DEEPFOREST_IN_VENV"

# Source image stem -> number of boxes its XML must hold.
TRAIN_SOURCES = {
    "2019_YELL_2_541000_4977000_image_crop": 279,
    "2019_YELL_2_528000_4978000_image_crop2": 574,
}
EVAL_SOURCES = {"OSBS_029": 61}

TILE = 400
MIN_OVERLAP = 120
MIN_INSIDE = 0.5  # a box is kept in a tile when at least this fraction of its area is inside
DETECTOR_SIZE = 320
CATEGORY = {"id": 1, "name": "tree"}
SETTINGS = {"version": 2, "tile": TILE, "min_overlap": MIN_OVERLAP, "min_inside": MIN_INSIDE,
            "box_reading": "voc_1based_inclusive", "format": "png"}


def log(message):
    print(f"prepare_deepforest: {message}", flush=True)


def fail(message):
    print(f"prepare_deepforest: error: {message}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# Environment: a venv under --out with Pillow, and pip for the download.

def venv_python(out):
    return os.path.join(out, "venv", "bin", "python3")


def ensure_venv_and_reexec(out, argv):
    """Runs the rest of the script in out/venv, creating it with Pillow when needed."""
    python = venv_python(out)
    inside = os.path.realpath(sys.prefix) == os.path.realpath(os.path.join(out, "venv"))
    if inside:
        try:
            import PIL  # noqa: F401
            return
        except ImportError:
            pass
    if not os.path.exists(python):
        log(f"creating {os.path.join(out, 'venv')}")
        os.makedirs(out, exist_ok=True)
        try:
            subprocess.check_call([sys.executable, "-m", "venv", os.path.join(out, "venv")])
        except subprocess.CalledProcessError:
            fail("python3 -m venv failed; on Debian/Ubuntu install python3-venv "
                 "(scripts/install_deps.sh does)")
    has_pillow = subprocess.call([python, "-c", "import PIL"], stderr=subprocess.DEVNULL) == 0
    if not has_pillow:
        log(f"installing {PILLOW} into {os.path.join(out, 'venv')}")
        try:
            subprocess.check_call([python, "-m", "pip", "install", "-q",
                                   "--disable-pip-version-check", PILLOW])
        except subprocess.CalledProcessError:
            fail(f"pip could not install {PILLOW} into {os.path.join(out, 'venv')}")
    if os.environ.get(IN_VENV_FLAG) == "1":
        fail(f"{python} still cannot import PIL")
    env = dict(os.environ, **{IN_VENV_FLAG: "1"})
    os.execve(python, [python, os.path.abspath(__file__)] + argv, env)


# ---------------------------------------------------------------------------------------------
# Download and unzip.

def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_wheel(out):
    wheel_dir = os.path.join(out, "wheel")
    wheel = os.path.join(wheel_dir, WHEEL)
    if os.path.exists(wheel) and sha256_of(wheel) == WHEEL_SHA256:
        log(f"wheel present: {wheel}")
        return wheel
    os.makedirs(wheel_dir, exist_ok=True)
    log(f"downloading {PACKAGE} (wheel only, no dependencies) into {wheel_dir}")
    try:
        subprocess.check_call([sys.executable, "-m", "pip", "download", "-q",
                               "--disable-pip-version-check", "--no-deps",
                               "--only-binary=:all:", PACKAGE, "-d", wheel_dir])
    except subprocess.CalledProcessError:
        fail(f"pip download {PACKAGE} failed (is PyPI reachable?)")
    if not os.path.exists(wheel):
        fail(f"pip download did not produce {wheel}")
    got = sha256_of(wheel)
    if got != WHEEL_SHA256:
        fail(f"{wheel}: SHA-256 {got}, expected {WHEEL_SHA256}")
    return wheel


def ensure_unzipped(wheel, out):
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    extracted = skipped = 0
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if not info.filename.startswith("deepforest/data/") or info.is_dir():
                continue
            name = info.filename[len("deepforest/data/"):]
            if "/" in name:
                continue
            target = os.path.join(raw, name)
            if os.path.exists(target) and os.path.getsize(target) == info.file_size:
                skipped += 1
                continue
            with z.open(info) as src, open(target + ".tmp", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(target + ".tmp", target)
            extracted += 1
    log(f"deepforest/data: {extracted} files unzipped, {skipped} already there, into {raw}")
    needed = [s + ext for s in list(TRAIN_SOURCES) + list(EVAL_SOURCES) for ext in (".png", ".xml")]
    missing = [n for n in needed if not os.path.exists(os.path.join(raw, n))]
    if missing:
        fail(f"the wheel lacks {', '.join(missing)}")
    return raw


# ---------------------------------------------------------------------------------------------
# Annotations.

def read_voc(xml_path, expected_count):
    """Returns (width, height, boxes) with boxes as (x0, y0, x1, y1) in continuous pixels."""
    root = ET.parse(xml_path).getroot()
    width = int(root.findtext("size/width"))
    height = int(root.findtext("size/height"))
    boxes = []
    for obj in root.iter("object"):
        xmin, ymin, xmax, ymax = (int(round(float(obj.findtext("bndbox/" + k))))
                                  for k in ("xmin", "ymin", "xmax", "ymax"))
        # VOC: 1-based, inclusive -> [xmin - 1, xmax) x [ymin - 1, ymax).
        x0, y0, x1, y1 = xmin - 1, ymin - 1, xmax, ymax
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            fail(f"{xml_path}: box {xmin},{ymin},{xmax},{ymax} outside {width}x{height}")
        boxes.append((x0, y0, x1, y1))
    if len(boxes) != expected_count:
        fail(f"{xml_path}: {len(boxes)} boxes, expected {expected_count}")
    return width, height, boxes


def tile_origins(size, tile, min_overlap):
    if size <= tile:
        return [0]
    n = math.ceil((size - tile) / (tile - min_overlap)) + 1
    return [round(i * (size - tile) / (n - 1)) for i in range(n)]


def boxes_in_tile(boxes, tx, ty, tile):
    """Boxes with at least MIN_INSIDE of their area inside the tile, clipped, tile-relative.

    Returns [(index into boxes, (x, y, w, h))]."""
    kept = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        cx0, cy0 = max(x0, tx), max(y0, ty)
        cx1, cy1 = min(x1, tx + tile), min(y1, ty + tile)
        if cx1 <= cx0 or cy1 <= cy0:
            continue
        if (cx1 - cx0) * (cy1 - cy0) >= MIN_INSIDE * (x1 - x0) * (y1 - y0):
            kept.append((i, (cx0 - tx, cy0 - ty, cx1 - cx0, cy1 - cy0)))
    return kept


# ---------------------------------------------------------------------------------------------
# Writing.

def coco_document(images, annotations, split):
    return {
        "info": {
            "description": f"DeepForest 2.1.0 sample data, {split} split, converted by "
                           "scripts/demo/prepare_deepforest.py",
            "contributor": "imagery: National Ecological Observatory Network (NEON), CC0 1.0; "
                           "annotations: DeepForest (Weecology), MIT",
            "version": str(SETTINGS["version"]),
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [CATEGORY],
    }


def write_json(path, document):
    """Writes a dict of values as JSON, one line per list element (one image, one box)."""
    def value(v):
        if isinstance(v, list) and v:
            return "[\n" + ",\n".join("  " + json.dumps(e) for e in v) + "\n ]"
        return json.dumps(v)
    text = "{\n" + ",\n".join(f" {json.dumps(k)}: {value(v)}" for k, v in document.items())
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n}\n")
    os.replace(path + ".tmp", path)


def save_png(image, path):
    image.save(path + ".tmp", format="PNG")
    os.replace(path + ".tmp", path)


def convert(raw, out):
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the largest crop is 5.7 megapixels; nothing untrusted here
    files = []
    source_stats = {}

    # Train: tiles.
    train_dir = os.path.join(out, "train")
    if os.path.isdir(train_dir):
        shutil.rmtree(train_dir)
    os.makedirs(train_dir)
    images, annotations = [], []
    for stem, count in TRAIN_SOURCES.items():
        width, height, boxes = read_voc(os.path.join(raw, stem + ".xml"), count)
        photo = Image.open(os.path.join(raw, stem + ".png")).convert("RGB")
        if photo.size != (width, height):
            fail(f"{stem}.png is {photo.size}, its XML says {width}x{height}")
        covered = set()
        whole = set()
        kept = clipped = 0
        for ty in tile_origins(height, TILE, MIN_OVERLAP):
            for tx in tile_origins(width, TILE, MIN_OVERLAP):
                name = f"{stem}_x{tx:04d}_y{ty:04d}.png"
                tw, th = min(TILE, width - tx), min(TILE, height - ty)
                save_png(photo.crop((tx, ty, tx + tw, ty + th)), os.path.join(train_dir, name))
                files.append(os.path.join("train", name))
                image_id = len(images) + 1
                images.append({"id": image_id, "file_name": name, "width": tw, "height": th})
                for i, (x, y, w, h) in boxes_in_tile(boxes, tx, ty, TILE):
                    covered.add(i)
                    x0, y0, x1, y1 = boxes[i]
                    kept += 1
                    if (w, h) == (x1 - x0, y1 - y0):
                        whole.add(i)
                    else:
                        clipped += 1
                    annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                        "category_id": CATEGORY["id"], "bbox": [x, y, w, h],
                                        "area": w * h, "iscrowd": 0})
        source_stats[stem] = {"boxes": len(boxes), "in_some_tile": len(covered),
                              "whole_in_some_tile": len(whole), "tile_boxes": kept,
                              "tile_boxes_clipped": clipped}
    write_json(os.path.join(out, "train.json"), coco_document(images, annotations, "train"))
    files.append("train.json")

    # Eval: whole images.
    eval_dir = os.path.join(out, "eval")
    if os.path.isdir(eval_dir):
        shutil.rmtree(eval_dir)
    os.makedirs(eval_dir)
    images, annotations = [], []
    for stem, count in EVAL_SOURCES.items():
        width, height, boxes = read_voc(os.path.join(raw, stem + ".xml"), count)
        photo = Image.open(os.path.join(raw, stem + ".png")).convert("RGB")
        if photo.size != (width, height):
            fail(f"{stem}.png is {photo.size}, its XML says {width}x{height}")
        name = stem + ".png"
        save_png(photo, os.path.join(eval_dir, name))
        files.append(os.path.join("eval", name))
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        for x0, y0, x1, y1 in boxes:
            w, h = x1 - x0, y1 - y0
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": CATEGORY["id"], "bbox": [x0, y0, w, h],
                                "area": w * h, "iscrowd": 0})
    write_json(os.path.join(out, "eval.json"), coco_document(images, annotations, "eval"))
    files.append("eval.json")

    with open(os.path.join(out, "label_map.pbtxt"), "w") as f:
        f.write(f'item {{\n  id: {CATEGORY["id"]}\n  name: "{CATEGORY["name"]}"\n'
                f'  display_name: "{CATEGORY["name"]}"\n}}\n')
    files.append("label_map.pbtxt")

    write_json(os.path.join(out, "prepared.json"),
               {"settings": SETTINGS, "files": files, "sources": source_stats})


def conversion_done(out):
    try:
        with open(os.path.join(out, "prepared.json")) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return False
    return stamp.get("settings") == SETTINGS and all(
        os.path.exists(os.path.join(out, p)) for p in stamp.get("files", []))


# ---------------------------------------------------------------------------------------------
# Summary and previews.

def spread(values):
    return f"min {min(values)}, median {statistics.median(values):g}, max {max(values)}"


def summarize(out):
    with open(os.path.join(out, "prepared.json")) as f:
        stamp = json.load(f)
    for stem, s in stamp["sources"].items():
        log(f"  {stem}: {s['boxes']} boxes, {s['in_some_tile']} kept in at least one tile, "
            f"{s['whole_in_some_tile']} whole in at least one tile; {s['tile_boxes']} tile "
            f"boxes, {s['tile_boxes_clipped']} of them clipped at a tile's edge")
    for split in ("train", "eval"):
        with open(os.path.join(out, split + ".json")) as f:
            doc = json.load(f)
        per_image = {img["id"]: 0 for img in doc["images"]}
        for a in doc["annotations"]:
            per_image[a["image_id"]] += 1
        widths = [a["bbox"][2] for a in doc["annotations"]]
        heights = [a["bbox"][3] for a in doc["annotations"]]
        short = [min(w, h) for w, h in zip(widths, heights)]
        long = [max(w, h) for w, h in zip(widths, heights)]
        sizes = sorted({(img["width"], img["height"]) for img in doc["images"]})
        scale = DETECTOR_SIZE / max(max(sizes))
        log(f"{split}: {len(doc['images'])} images ({', '.join(f'{w}x{h}' for w, h in sizes)}), "
            f"{len(doc['annotations'])} boxes; boxes per image {spread(list(per_image.values()))}"
            f" ({sum(1 for n in per_image.values() if n == 0)} images without boxes)")
        log(f"  box width  px: {spread(widths)}")
        log(f"  box height px: {spread(heights)}")
        log(f"  shorter side : {spread(short)}; longer side: {spread(long)}")
        log(f"  at the detector's {DETECTOR_SIZE}x{DETECTOR_SIZE} input (x{scale:g}): "
            f"shorter side median {statistics.median(short) * scale:.1f} px, "
            f"longer side max {max(long) * scale:.1f} px; "
            f"{sum(1 for s in short if s * scale < 16)} boxes under 16 px")
    log(f"outputs in {out}: train/ + train.json, eval/ + eval.json, label_map.pbtxt")


def write_previews(out):
    from PIL import Image, ImageDraw

    preview_dir = os.path.join(out, "preview")
    os.makedirs(preview_dir, exist_ok=True)
    chosen = []
    for split in ("train", "eval"):
        with open(os.path.join(out, split + ".json")) as f:
            doc = json.load(f)
        by_image = {img["id"]: [] for img in doc["images"]}
        for a in doc["annotations"]:
            by_image[a["image_id"]].append(a["bbox"])
        images = {img["id"]: img for img in doc["images"]}
        if split == "train":
            # The busiest tile of each source crop, and the first tile (a corner).
            picks = [doc["images"][0]["id"]]
            for stem in TRAIN_SOURCES:
                ids = [i for i, img in images.items() if img["file_name"].startswith(stem + "_x")]
                picks.append(max(ids, key=lambda i: len(by_image[i])))
        else:
            picks = list(images)
        for image_id in dict.fromkeys(picks):
            chosen.append((split, images[image_id], by_image[image_id]))
    for split, img, bboxes in chosen:
        photo = Image.open(os.path.join(out, split, img["file_name"])).convert("RGB")
        draw = ImageDraw.Draw(photo)
        for x, y, w, h in bboxes:
            # Pillow's rectangle includes both corners: the last pixel inside is x + w - 1.
            draw.rectangle([x, y, x + w - 1, y + h - 1], outline=(255, 255, 0), width=2)
        path = os.path.join(preview_dir, f"{split}_{img['file_name']}")
        save_png(photo, path)
        log(f"preview: {path} ({len(bboxes)} boxes)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="cache and output directory (default: runs/data/deepforest/)")
    parser.add_argument("--preview", action="store_true",
                        help="also write copies of a few images with their boxes drawn")
    parser.add_argument("--force", action="store_true", help="redo the conversion")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    argv = sys.argv[1:]
    if "--out" not in argv and not any(a.startswith("--out=") for a in argv):
        argv = ["--out", out] + argv

    ensure_venv_and_reexec(out, argv)
    wheel = ensure_wheel(out)
    raw = ensure_unzipped(wheel, out)
    if not args.force and conversion_done(out):
        log("conversion already done (prepared.json matches); --force redoes it")
    else:
        log(f"converting: train tiles {TILE}x{TILE}, overlap >= {MIN_OVERLAP} px, "
            f"box kept when >= {MIN_INSIDE:g} of its area is inside")
        convert(raw, out)
    summarize(out)
    if args.preview:
        write_previews(out)


if __name__ == "__main__":
    main()
