"""Numeric transforms, device-only and jittable: normalization,
discretization, rescaling, category encoding and the shared id encoder."""
