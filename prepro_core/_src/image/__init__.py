"""Image transforms: sizing, geometric and colour augmentations.

Layout: ``factories`` (the wrappers every image factory uses, and the
per-example draws), ``common`` (inputs, dtypes, factor parsing, boxes),
``resampling`` (the warp and chain fusion); deterministic ops in
``color_ops`` and ``geometric_ops``, with their random factories in
``color``, ``geometric``, ``erasing_blur``, ``mixing``, ``sizing`` and
``policies``.
"""
