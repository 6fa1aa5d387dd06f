"""A PyTorch port of the Jukebox family (openai/jukebox: priors with their conditioners, VQ-VAE) and its ONNX export.

Module and parameter names are the official ones, so official checkpoints load into these classes
unchanged; the code itself is written from scratch. hparams.py (official hyperparameters), prior.py,
transformer.py, conditioners.py, vqvae.py (the models), checkpoints.py (loading official checkpoints),
init.py (random weights), export.py / loop_graph.py / fp16.py / simplify.py (the ONNX model folder),
tiny.py (models/tiny).
"""
