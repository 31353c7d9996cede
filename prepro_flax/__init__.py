"""prepro_flax: Flax (NNX and Linen) modules wrapping prepro_core transforms."""
