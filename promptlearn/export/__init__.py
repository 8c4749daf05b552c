"""Exported runs: an ONNX graph from token ids to class probabilities, and the predictor that runs it without torch."""
