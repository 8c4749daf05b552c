"""Several tasks, one model: multi-task training, sequential (continual) training, one run folder per run."""
