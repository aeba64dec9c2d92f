"""Host-side workloads: suite entries → planned jobs with their artifacts, built on the controller.

``registry`` dispatches each entry to its expander (``kernels``, ``model_jobs`` for ONNX and rknn,
``torch_jobs``, ``tflite_jobs``, ``gguf_jobs``, ``pytest_jobs``); ``plan`` and ``staging`` are what they
share. The reference kernels and models (``models``), their variants (precision × pruning: ``variants``,
``torch_variants``, ``rknn_convert``, ``gguf_quant``) and their fidelity checks live here too, cached by
content."""
