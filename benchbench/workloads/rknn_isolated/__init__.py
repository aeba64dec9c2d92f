"""Files executed by rknn-toolkit2's isolated interpreter (``rknn_convert.py`` runs them via subprocess)."""
