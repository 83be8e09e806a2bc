"""Command modules of the training side (argparse only at import; torch inside the run functions)."""
