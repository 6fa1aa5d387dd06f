"""A small, Jukebox-shaped model family (VQ-VAE decoders, priors, conditioners) and its ONNX export.

Module and parameter names follow the official openai/jukebox code so that a later exporter can
load official checkpoints into the same classes. The code itself is written from scratch.
"""
