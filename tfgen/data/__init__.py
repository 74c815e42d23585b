"""Data for tfgen: one way to read every source, and the pairs and domains translators need.

`sources` reads TFDS names, IDX folders, image folders and `.npz` files into float32 batches in
[-1, 1]; `paired` derives or reads (input, target) pairs; `unpaired` yields two domains.
"""

from tfgen.data import paired, sources, unpaired
from tfgen.data.paired import load as load_paired
from tfgen.data.paired import make_pairs, read_images, resolve_task_options
from tfgen.data.sources import (
    IDX_FILES,
    IMAGE_SUFFIXES,
    LOCAL_IDX_NAMES,
    TFDS_SPLIT_ALIASES,
    data_dir,
    is_idx_folder,
    load,
    load_arrays,
    load_idx,
    load_image_folder,
    load_npz,
    to_unit_range,
)
from tfgen.data.unpaired import is_tfds_name, load_unpaired

__all__ = [
    "IDX_FILES",
    "IMAGE_SUFFIXES",
    "LOCAL_IDX_NAMES",
    "TFDS_SPLIT_ALIASES",
    "data_dir",
    "is_idx_folder",
    "is_tfds_name",
    "load",
    "load_arrays",
    "load_idx",
    "load_image_folder",
    "load_npz",
    "load_paired",
    "load_unpaired",
    "make_pairs",
    "paired",
    "read_images",
    "resolve_task_options",
    "sources",
    "to_unit_range",
    "unpaired",
]
