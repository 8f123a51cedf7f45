"""The on-device solver: onnxruntime + tokenizers + numpy only, never torch."""
