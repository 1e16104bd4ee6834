"""Data for training: CSV loading with errors that name file, line and column, the bundled iris
data set, train/validation splits and mini-batches."""

from .csv import Table, load_csv
from .datasets import dataset_names, load_dataset
from .loader import batches, standardize, train_val_split

__all__ = ["Table", "batches", "dataset_names", "load_csv", "load_dataset", "standardize", "train_val_split"]
