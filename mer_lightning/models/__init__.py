"""Plain `nn.Module`s, one file per family; `forward` takes tensors, never batches or configs."""

from mer_lightning.models.ststnet import STSTNet

__all__ = ["STSTNet"]
