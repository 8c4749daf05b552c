"""Training: the trainer loop, the objective, batching, progress and metrics."""
