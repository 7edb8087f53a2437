"""speech model: preprocessing, ONNX session, decoding and pipeline stage."""
