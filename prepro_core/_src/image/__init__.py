"""Image transforms: sizing, geometric and colour augmentations."""
