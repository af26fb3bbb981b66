"""LightningModules, one per training task; each wraps a plain `nn.Module` and maps batch keys to its inputs."""
