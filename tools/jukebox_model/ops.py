"""Small building blocks shared by the transformer and the conditioners."""
import torch
import torch.nn as nn


class Conv1D(nn.Module):
    """GPT-2 style position-wise linear layer: weight `w` is [n_in, n_out] (Jukebox's layout), bias `b`."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.n_in = n_in
        self.n_out = n_out
        self.w = nn.Parameter(torch.empty(n_in, n_out))
        self.b = nn.Parameter(torch.zeros(n_out))
        nn.init.normal_(self.w, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.w) + self.b


class LayerNorm(nn.LayerNorm):
    """Jukebox wraps nn.LayerNorm to run it in float32; in float32 it is the plain layer norm."""


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)
