"""Data for DRIFA-Net: an embedded synthetic data set, shifted test sets with known ground
truth, loaders for downloaded medical image data sets, and a multimodal
`keras.utils.PyDataset`.

Nothing here downloads anything. The file loaders read images with Pillow
(`pip install keras-drifa[data]`).
"""

from keras_drifa.data.csv_manifest import load_csv_manifest
from keras_drifa.data.image_folder import load_image_folder
from keras_drifa.data.labelled_images import ImageSplits, LabelledImages
from keras_drifa.data.medmnist import load_medmnist
from keras_drifa.data.multimodal_dataset import MultimodalDataset
from keras_drifa.data.shifts import SHIFTS, ShiftedData, make_shifted
from keras_drifa.data.splits import stratified_split
from keras_drifa.data.synthetic import SyntheticData, make_synthetic

__all__ = [
    "ImageSplits",
    "LabelledImages",
    "MultimodalDataset",
    "SHIFTS",
    "ShiftedData",
    "SyntheticData",
    "load_csv_manifest",
    "load_image_folder",
    "load_medmnist",
    "make_shifted",
    "make_synthetic",
    "stratified_split",
]
