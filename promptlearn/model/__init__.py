"""PromptModel: a backbone, a mode and a readout, as one module."""
