"""The contract: Transform, argument checks, pc.adapt, pc.chain, to_device. Imports nothing else from _src."""
