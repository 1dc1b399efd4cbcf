"""ApolloScape scene parsing (Baidu; driving scenes in China, 3384 x 2710 photos).

Layout of the scene-parsing release (``root`` holds the road folders; ``roadNN_seg`` or
``roadNN_ins``)::

    root/road02_seg/ColorImage/Record001/Camera 5/170927_063811892_Camera_5.jpg
    root/road02_seg/Label/Record001/Camera 5/170927_063811892_Camera_5_bin.png

A ``*_bin.png`` is one channel (mode "L") of **label ids** from the devkit's label table
(``LABELS`` below: 0 others, 1 rover, 17 sky, 33 car, ..., 113 vegetation, 161-168 the
"group" ids of crowds of cars, persons, ..., 255 unlabeled). The mapping used here is the
devkit's ``trainId`` column: **22 training classes**, each group id merged into its class
(car_groups -> car), and others, rover, bridge, tunnel, overpass and unlabeled -> **255 =
ignore**. No official train/val folders exist; ``split="all"`` reads every road.
Written from the devkit's label table; we had no real copy of the data to check against.
"""

import numpy as np

from course_utils.datasets.common import (
    IMAGE_SUFFIXES,
    DatasetFormat,
    files,
    hex_palette,
    lookup_table,
    match_by_key,
    require_folder,
)
from course_utils.datasets.fake_files import save_pair

# (labelId, name, trainId, colour 0xRRGGBB) from the scene-parsing devkit's label table.
LABELS = (
    (0, "others", 255, 0x000000), (1, "rover", 255, 0x000000), (17, "sky", 0, 0x4682B4),
    (33, "car", 1, 0x00008E), (161, "car_groups", 1, 0x00008E), (34, "motorbicycle", 2, 0x0000E6),
    (162, "motorbicycle_group", 2, 0x0000E6), (35, "bicycle", 3, 0x770B20), (163, "bicycle_group", 3, 0x770B20),
    (36, "person", 4, 0x0080C0), (164, "person_group", 4, 0x0080C0), (37, "rider", 5, 0x804080),
    (165, "rider_group", 5, 0x804080), (38, "truck", 6, 0x8000C0), (166, "truck_group", 6, 0x8000C0),
    (39, "bus", 7, 0xC00040), (167, "bus_group", 7, 0xC00040), (40, "tricycle", 8, 0x8080C0),
    (168, "tricycle_group", 8, 0x8080C0), (49, "road", 9, 0xC080C0), (50, "sidewalk", 10, 0xC08040),
    (65, "traffic_cone", 11, 0x000040), (66, "road_pile", 12, 0x0000C0), (67, "fence", 13, 0x404080),
    (81, "traffic_light", 14, 0xC04080), (82, "pole", 15, 0xC08080), (83, "traffic_sign", 16, 0x004040),
    (84, "wall", 17, 0xC0C080), (85, "dustbin", 18, 0x4000C0), (86, "billboard", 19, 0xC000C0),
    (97, "building", 20, 0xC00080), (98, "bridge", 255, 0x808000), (99, "tunnel", 255, 0x800000),
    (100, "overpass", 255, 0x408040), (113, "vegetation", 21, 0x808040), (255, "unlabeled", 255, 0xFFFFFF),
)
IGNORE_INDEX = 255
_TRAINED = sorted({train_id: (name, colour) for _, name, train_id, colour in reversed(LABELS)
                   if train_id != 255}.items())
CLASS_NAMES = tuple(name for _, (name, _) in _TRAINED)
PALETTE = hex_palette([colour for _, (_, colour) in _TRAINED])
LABEL_TO_TRAIN = lookup_table({label_id: train_id for label_id, _, train_id, _ in LABELS}, default=IGNORE_INDEX)
LABEL_SUFFIX = "_bin.png"


class ApolloScapeFormat(DatasetFormat):
    def pairs(self, root, split):
        self.check_split(split)
        root = require_folder(root, "the ApolloScape root holding road*_seg/ (or road*_ins/) folders")
        roads = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("road"))
        if not roads:
            require_folder(root / "road01_seg", "at least one roadNN_seg/ folder with ColorImage/ and Label/")
        all_pairs, lonely_images, lonely_labels = [], [], []
        for road in roads:
            image_dir = require_folder(road / "ColorImage", f"{road.name}/ColorImage/Record*/Camera */ with photos")
            label_dir = require_folder(road / "Label", f"{road.name}/Label/Record*/Camera */ with *_bin.png")
            images = files(image_dir, IMAGE_SUFFIXES, recursive=True)
            labels = [p for p in files(label_dir, (".png",), recursive=True) if p.name.endswith(LABEL_SUFFIX)]
            # the key of a pair: its path below ColorImage/ (Label/), without the suffix
            found = match_by_key(images, labels,
                                 lambda p, image_dir=image_dir: str(p.relative_to(image_dir).with_suffix("")),
                                 lambda p, label_dir=label_dir: str(p.relative_to(label_dir))[: -len(LABEL_SUFFIX)])
            all_pairs += found[0]
            lonely_images += found[1]
            lonely_labels += found[2]
        return all_pairs, lonely_images, lonely_labels

    def to_train_ids(self, raw, path=None):
        return LABEL_TO_TRAIN[raw]


FORMAT = ApolloScapeFormat(
    kind="apolloscape", class_names=CLASS_NAMES, palette=PALETTE, ignore_index=IGNORE_INDEX,
    splits=("all",), label_modes=("L",), raw_values=np.array(sorted(label_id for label_id, *_ in LABELS)),
    label_description="a one-channel (mode 'L') *_bin.png of ApolloScape label ids (0, 1, 17, 33-40, 49, 50, "
                      "65-67, 81-86, 97-100, 113, 161-168, 255)",
    layout="roadNN_seg/ColorImage/Record*/Camera */NAME.jpg with roadNN_seg/Label/Record*/Camera */NAME_bin.png",
)


def write_fake(folder, names, rng, size):
    """A tiny ApolloScape copy under ``folder``; see ``fake.write_fake_dataset``."""
    root = folder
    allowed = [label_id for label_id, *_ in LABELS]
    for i, name in enumerate(names):
        camera = f"Camera {5 + i % 2}"
        stem = f"170927_0638118{name}_Camera_{5 + i % 2}"
        save_pair(root / "road02_seg" / "ColorImage" / "Record001" / camera / f"{stem}.jpg",
                  root / "road02_seg" / "Label" / "Record001" / camera / f"{stem}_bin.png", rng, size, allowed)
    return root
