"""TensorRT engines for a bundle's graphs (``styleforge engine build``); not a model family."""
