"""Data for training: CSV loading with errors that name file, line and column, the bundled
data sets (iris, digits), train/validation splits and mini-batches, and torch-style Dataset/DataLoader."""

from .csv import Table, load_csv
from .dataset import DataLoader, Dataset, TensorDataset, default_collate
from .datasets import dataset_names, load_dataset, load_digits
from .loader import batches, standardize, train_val_split

__all__ = ["DataLoader", "Dataset", "Table", "TensorDataset", "batches", "dataset_names", "default_collate", "load_csv",
           "load_dataset", "load_digits", "standardize", "train_val_split"]
