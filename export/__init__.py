"""ONNX export of a solver run (encoder and decoder graphs), checked against PyTorch."""
