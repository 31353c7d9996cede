"""Numeric transforms: device-only and jittable (normalization, discretization, rescaling, category encoding)."""
